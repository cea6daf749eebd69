#!/usr/bin/env node
/** The latent-diff command line: subcommands over the same engine the extension uses. */
import { isLatentDiffError } from '../engine/errors';
import { projectRoot } from '../engine/paths';
import { UsageError } from './args';
import { exitWhenFlushed } from './exit';
import { ANALYZE_USAGE, runAnalyze } from './analyze';
import { MERGE_USAGE, runMerge } from './merge';
import { runStats, STATS_USAGE } from './stats';

const USAGE = `Latent Diff: model diffing with crosscoders

usage:
  ${ANALYZE_USAGE.split('\n').join('\n  ')}

  ${STATS_USAGE.split('\n').join('\n  ')}

  ${MERGE_USAGE.split('\n').join('\n  ')}

  Benchmarks: npm run bench [encode|real|offline|webview]

  latent-diff --help`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (s: string) => process.stdout.write(s);
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    out(USAGE + '\n');
    return command ? 0 : 2;
  }
  const root = projectRoot(__dirname);
  switch (command) {
    case 'analyze':
      if (rest.includes('--help')) return out(ANALYZE_USAGE + '\n'), 0;
      await runAnalyze(rest, root, out);
      return 0;
    case 'stats':
      if (rest.includes('--help')) return out(STATS_USAGE + '\n'), 0;
      return runStats(rest, root);
    case 'merge':
      if (rest.includes('--help')) return out(MERGE_USAGE + '\n'), 0;
      return runMerge(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (e) => {
    if (e instanceof UsageError) process.stderr.write(`latent-diff: ${e.message}\nRun "latent-diff --help" for usage.\n`);
    else if (isLatentDiffError(e)) process.stderr.write(`latent-diff: error: ${e.message}\n`);
    else process.stderr.write(`latent-diff: internal error: ${e instanceof Error ? e.stack : e}\n`);
    return exitWhenFlushed(e instanceof UsageError ? 2 : 1);
  },
);
