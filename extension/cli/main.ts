#!/usr/bin/env node
/** The latent-diff command line: subcommands over the same engine the extension uses. */
// First: it decides which ONNX Runtime library the process loads.
import './use-cuda-setup';
import { isLatentDiffError } from '../engine/errors';
import { projectRoot } from '../engine/paths';
import { UsageError } from './args';
import { exitWhenFlushed } from './exit';
import { ANALYZE_USAGE, runAnalyze } from './analyze';
import { GENERATE_USAGE, runGenerate } from './generate';
import { KL_USAGE, runKlCommand } from './kl';
import { MERGE_USAGE, runMerge } from './merge';
import { runSetupCuda, SETUP_CUDA_USAGE } from './setup-cuda';
import { runStats, STATS_USAGE } from './stats';
import { runStatsStatus, STATUS_USAGE } from './stats-status';

const USAGE = `Latent Diff: model diffing with crosscoders

usage:
  ${ANALYZE_USAGE.split('\n').join('\n  ')}

  ${GENERATE_USAGE.split('\n').join('\n  ')}

  ${STATS_USAGE.split('\n').join('\n  ')}

  ${MERGE_USAGE.split('\n').join('\n  ')}

  ${KL_USAGE.split('\n').join('\n  ')}

  ${STATUS_USAGE.split('\n').join('\n  ')}

  ${SETUP_CUDA_USAGE.split('\n').join('\n  ')}

  Benchmarks: npm run bench [encode|real|offline|webview|gpu]

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
    case 'generate':
      if (rest.includes('--help')) return out(GENERATE_USAGE + '\n'), 0;
      await runGenerate(rest, root, out);
      return 0;
    case 'stats':
      if (rest.includes('--help')) return out(STATS_USAGE + '\n'), 0;
      return runStats(rest, root);
    case 'kl':
      if (rest.includes('--help')) return out(KL_USAGE + '\n'), 0;
      await runKlCommand(rest, root, out, (s) => process.stderr.write(s));
      return 0;
    case 'merge':
      if (rest.includes('--help')) return out(MERGE_USAGE + '\n'), 0;
      return runMerge(rest);
    case 'stats-status':
      if (rest.includes('--help')) return out(STATUS_USAGE + '\n'), 0;
      return runStatsStatus(rest);
    case 'setup-cuda':
      if (rest.includes('--help')) return out(SETUP_CUDA_USAGE + '\n'), 0;
      return runSetupCuda(rest, out, (s) => process.stderr.write(`${s}\n`));
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
