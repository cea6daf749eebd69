/** `latent-diff stats --data FILE... --out DIR [...]`: the offline statistics job (engine: analysis/stats/stats-job.ts). */
import { resolve } from 'node:path';
import { runStatsJob, StatsCancelledError, type StatsJobOptions, type StatsJobResult } from '../engine/analysis/stats/stats-job';
import { defaultCacheDir, demoBundleDir, projectRoot } from '../engine/paths';
import type { ProviderSetting } from '../engine/types';
import { intFlag, parseArgs, UsageError, type ParsedArgs } from './args';

export const STATS_USAGE = `latent-diff stats --data FILE... --out DIR [--bundle DIR] [--tokens N] [--shard i/n] [--seed S]
                  [--error-latents all|N] [--resume] [--max-from DIR]
  Per-latent statistics over datasets (plain text, JSONL "text"/"messages", Parquet "text"): frequency,
  max activation, template-token shares, Latent Scaling (nu_eps, nu_r, verdicts) -> DIR/feature_df.csv,
  and max-activating examples by quantile -> DIR/examples.db (the paper's formats).
  --data FILE...        dataset files, read in this order
  --out DIR             output folder (state/ holds checkpoints and shard partials)
  --bundle DIR          bundle folder (default: the embedded demo bundle)
  --tokens N            stop after N tokens over the whole data (all shards together)
  --shard i/n           process every n-th record (index mod n = i): scan pass only; then
                        \`latent-diff merge\` the n scans into M, run each shard again with --max-from M
                        for the examples pass, and merge M with those
  --max-from DIR        examples pass only, binned with the max activations of the merged scan in DIR
  --seed S              seed of the example sampling and the shared baseline (default 42)
  --error-latents X     latents with error betas: "all", or N most chat-leaning + N shared
                        (default: N = the number of chat-only latents)
  --examples-per-bin N  examples kept per latent and quantile bin (default 20)
  --resume              continue the interrupted run in DIR
  --bad-lines P         skip (default) or fail on a record that cannot be read
  --text-column NAME    Parquet text column (default "text")
  --context N           tokens per record, longer ones are truncated (default: the bundle's context window)
  --provider P          auto | cpu | cuda | webgpu (default auto)
  --checkpoint-seconds N  seconds between checkpoints (default 60)
  --cs-threshold X      Complete Shrinkage when nu_eps >= X (default 0.2)
  --ld-threshold X      Latent Decoupling when nu_r >= X (default 0.5)
  Ctrl+C writes a checkpoint and exits with status 130; run again with --resume.`;

const SPEC = {
  data: 'list', out: 'string', bundle: 'string', tokens: 'string', shard: 'string', seed: 'string', 'error-latents': 'string',
  resume: 'bool', 'max-from': 'string', 'examples-per-bin': 'string', 'bad-lines': 'string', 'text-column': 'string',
  context: 'string', provider: 'string', 'checkpoint-seconds': 'string', 'cs-threshold': 'string', 'ld-threshold': 'string',
} as const;

function floatFlag(args: ParsedArgs, name: string, fallback: number): number {
  const v = args.flags.get(name)?.[0];
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return x;
}

function oneOf<T extends string>(args: ParsedArgs, name: string, allowed: readonly T[], fallback: T): T {
  const v = (args.flags.get(name)?.[0] ?? fallback) as T;
  if (!allowed.includes(v)) throw new UsageError(`--${name} must be ${allowed.join(' or ')}, got "${v}"`);
  return v;
}

export function statsOptions(argv: string[], root: string): StatsJobOptions {
  const args = parseArgs(argv, SPEC);
  if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}" (dataset files go after --data)`);
  const data = args.flags.get('data');
  if (!data?.length) throw new UsageError('stats needs --data FILE...');
  const out = args.flags.get('out')?.[0];
  if (!out) throw new UsageError('stats needs --out DIR');
  let shard: StatsJobOptions['shard'];
  const s = args.flags.get('shard')?.[0];
  if (s !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(s);
    if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard must be i/n with 0 <= i < n, got "${s}"`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  const e = args.flags.get('error-latents')?.[0];
  let errorLatents: StatsJobOptions['errorLatents'];
  if (e !== undefined) {
    if (e === 'all') errorLatents = 'all';
    else if (/^\d+$/.test(e)) errorLatents = Number(e);
    else throw new UsageError(`--error-latents must be "all" or a number, got "${e}"`);
  }
  const maxFrom = args.flags.get('max-from')?.[0];
  return {
    data: data.map((f) => resolve(f)),
    out: resolve(out),
    bundle: resolve(args.flags.get('bundle')?.[0] ?? demoBundleDir(root)),
    tokens: intFlag(args, 'tokens', 1),
    shard,
    seed: intFlag(args, 'seed', 0),
    errorLatents,
    examplesPerBin: intFlag(args, 'examples-per-bin', 1),
    ...(maxFrom ? { maxFrom: resolve(maxFrom) } : {}),
    resume: args.flags.has('resume'),
    badRecords: oneOf(args, 'bad-lines', ['skip', 'fail'] as const, 'skip'),
    textColumn: args.flags.get('text-column')?.[0],
    contextWindow: intFlag(args, 'context', 2),
    provider: oneOf<ProviderSetting>(args, 'provider', ['auto', 'cpu', 'cuda', 'webgpu'], 'auto'),
    checkpointSeconds: intFlag(args, 'checkpoint-seconds', 0),
    cacheDir: defaultCacheDir(),
    thresholds: { completeShrinkage: floatFlag(args, 'cs-threshold', 0.2), latentDecoupling: floatFlag(args, 'ld-threshold', 0.5) },
  };
}

/** What the folder now holds and what to do next, for stdout. */
export function statsSummary(r: StatsJobResult): string {
  const lines: string[] = [];
  if (r.featureDf) lines.push(`wrote ${r.featureDf}`);
  if (r.examplesDb) lines.push(`wrote ${r.examplesDb}`);
  if (!r.featureDf && r.scanShards.length) {
    lines.push(`scan of shard ${r.scanShards.join(', ')}/${r.shardCount} saved in ${r.out}/state; when all ${r.shardCount} are done: latent-diff merge SCAN_DIRS... --out MERGED`);
  }
  if (!r.examplesDb && r.examplesShards.length) {
    lines.push(`examples of shard ${r.examplesShards.join(', ')}/${r.shardCount} saved in ${r.out}/state; when all are done: latent-diff merge MERGED EXAMPLE_DIRS... --out FINAL`);
  }
  if (r.skippedRecords) lines.push(`${r.skippedRecords} unreadable record(s) skipped`);
  return lines.join('\n') + '\n';
}

/** Unreadable records named one by one on stderr; the rest are only counted. */
const SHOWN_BAD_RECORDS = 5;

export async function runStats(argv: string[], root = projectRoot(__dirname)): Promise<number> {
  const opts = statsOptions(argv, root);
  const controller = new AbortController();
  const onSigint = () => {
    process.stderr.write('\nlatent-diff: cancelling, writing a checkpoint (Ctrl+C again to stop at once)\n');
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  let badShown = 0;
  try {
    const result = await runStatsJob(opts, {
      signal: controller.signal,
      onBadRecord: (b) => {
        if (++badShown <= SHOWN_BAD_RECORDS) process.stderr.write(`latent-diff: skipped ${b.file}:${b.line}: ${b.problem}\n`);
        else if (badShown === SHOWN_BAD_RECORDS + 1) process.stderr.write('latent-diff: more unreadable records skipped (the summary counts them all)\n');
      },
      onProgress: (p) => {
        const pct = p.fraction !== undefined ? ` ${(100 * p.fraction).toFixed(1)}%` : '';
        if (tty) process.stderr.write(`\r${p.message}${pct}\x1b[K`);
        else if (Date.now() - lastLine > 5000 || p.fraction === 1) {
          lastLine = Date.now();
          process.stderr.write(`${p.message}${pct}\n`);
        }
      },
    });
    if (tty) process.stderr.write('\n');
    process.stdout.write(statsSummary(result));
    return 0;
  } catch (e) {
    if (e instanceof StatsCancelledError) {
      process.stderr.write(`\nlatent-diff: ${e.message}\n`);
      return 130;
    }
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
