/** `latent-diff stats --data FILE... --out DIR [...]`: the offline statistics job (engine: analysis/stats/stats-job.ts). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { LatentDiffError } from '../engine/errors';
import { PAPER_ERROR_LATENTS } from '../engine/analysis/stats/error-latents';
import { NU_SIGNS } from '../engine/latents/verdict';
import { PIPELINE_PHASES, runPipelinePhase, type PipelinePhase } from '../engine/analysis/stats/pipeline';
import { runStatsJob, StatsCancelledError, type StatsJobHooks, type StatsJobOptions, type StatsJobResult } from '../engine/analysis/stats/stats-job';
import { defaultCacheDir, demoBundleDir, projectRoot } from '../engine/paths';
import { intFlag, parseArgs, UsageError, type ParsedArgs } from './args';
import { autoShard } from './shard-auto';
import { splitShellWords, submitPipeline } from './slurm-submit';
import { testHookFor } from './test-hooks';
import { ENGINE_FLAGS, engineOptions, engineUsage } from './engine-flags';
import { reportProvider } from './provider-note';

export const STATS_USAGE = `latent-diff stats --data FILE... --out DIR [--bundle DIR] [--tokens N] [--shard i/n|auto] [--seed S]
                  [--error-latents paper|chat-only|all|N] [--resume] [--max-from DIR] [--slurm N [--sbatch ARGS] [--dry-run]]
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
  --shard auto          the shard from the batch system: SLURM_ARRAY_TASK_ID/_COUNT (an array 0-(n-1)), or
                        SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX (Kubernetes Indexed Job) with --shard-count N
  --max-from DIR        examples pass only, binned with the max activations of the merged scan in DIR
  --slurm N             run the whole pipeline on Slurm in N shards: submits a scan array, a merge, an examples
                        array and a final merge (afterok chain) and prints the job ids; DIR gets feature_df.csv
                        and examples.db. Submitting the same command again runs only what is missing. Follow
                        it with \`latent-diff stats-status DIR\`
  --sbatch "ARGS"       extra sbatch options for every job (partition, account, time, cpus...)
  --dry-run             with --slurm: print the job scripts and sbatch commands, submit nothing
  --phase P             one step of that pipeline in DIR (what its jobs run): scan | merge-scan | examples | merge,
                        with --shard i/n or auto for scan and examples, --shard-count N for the merges
  --seed S              seed of the example sampling and the shared baseline (default 42)
  --error-latents X     latents with error betas (feature_df.meta.json records which):
                        paper[:N]  the paper's set: the N (default 3176) lowest dec_norm_diff + N Shared latents
                                   sampled as pandas .sample(N, random_state=SEED) (default for the paper's
                                   crosscoders: 73,728 latents over d_model 2,304)
                        chat-only  as many as are tagged chat-only + as many shared (default otherwise)
                        N | all    the N most chat-leaning + N shared, or every latent
  --examples-per-bin N  examples kept per latent and quantile bin (default 20)
  --resume              continue the interrupted run in DIR
  --bad-lines P         skip (default) or fail on a record that cannot be read
  --text-column NAME    Parquet text column (default "text")
  --context N           tokens per record, longer ones are truncated (default: the bundle's context window)
${engineUsage(22)}
  --checkpoint-seconds N  seconds between checkpoints (default 60)
  --cs-threshold X      Complete Shrinkage when nu_eps >= X (default 0.2)
  --ld-threshold X      Latent Decoupling when nu_r >= X (default 0.5)
  --nu-sign S           signed (default, the paper's main figure) or absolute (|nu|, its sweeps) for both thresholds
  Ctrl+C writes a checkpoint and exits with status 130; run again with --resume.`;

const SPEC = {
  data: 'list', out: 'string', bundle: 'string', tokens: 'string', shard: 'string', seed: 'string', 'error-latents': 'string',
  resume: 'bool', 'max-from': 'string', 'examples-per-bin': 'string', 'bad-lines': 'string', 'text-column': 'string',
  context: 'string', ...ENGINE_FLAGS, 'checkpoint-seconds': 'string', 'cs-threshold': 'string', 'ld-threshold': 'string',
  'nu-sign': 'string', slurm: 'string', sbatch: 'string', 'dry-run': 'bool', phase: 'string', 'shard-count': 'string',
} as const;
/** Flags that choose how the statistics run, not what they compute (left out of the jobs' command lines). */
const SUBMIT_FLAGS = new Set(['out', 'slurm', 'sbatch', 'dry-run']);

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

export function statsOptions(argv: string[], root: string, env: NodeJS.ProcessEnv = process.env): StatsJobOptions {
  const args = parseArgs(argv, SPEC);
  if (args.positional.length) throw new UsageError(`unexpected argument "${args.positional[0]}" (dataset files go after --data)`);
  const data = args.flags.get('data');
  if (!data?.length) throw new UsageError('stats needs --data FILE...');
  const out = args.flags.get('out')?.[0];
  if (!out) throw new UsageError('stats needs --out DIR');
  let shard: StatsJobOptions['shard'];
  const s = args.flags.get('shard')?.[0];
  const shardCount = intFlag(args, 'shard-count', 1);
  if (s === 'auto') shard = autoShard(env, shardCount);
  else if (s !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(s);
    if (!m || Number(m[1]) >= Number(m[2])) throw new UsageError(`--shard must be i/n with 0 <= i < n, got "${s}"`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  } else if (shardCount !== undefined) {
    if (!args.flags.has('phase')) throw new UsageError('--shard-count goes with --shard auto or --phase');
    shard = { index: 0, count: shardCount };
  }
  const e = args.flags.get('error-latents')?.[0];
  let errorLatents: StatsJobOptions['errorLatents'];
  if (e !== undefined) {
    const paper = /^paper(?::(\d+))?$/.exec(e);
    if (e === 'all' || e === 'chat-only') errorLatents = e;
    else if (paper) errorLatents = { paper: paper[1] ? Number(paper[1]) : PAPER_ERROR_LATENTS };
    else if (/^\d+$/.test(e)) errorLatents = Number(e);
    else throw new UsageError(`--error-latents must be paper, paper:N, chat-only, all or a number, got "${e}"`);
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
    ...engineOptions(args),
    checkpointSeconds: intFlag(args, 'checkpoint-seconds', 0),
    cacheDir: defaultCacheDir(),
    thresholds: {
      completeShrinkage: floatFlag(args, 'cs-threshold', 0.2), latentDecoupling: floatFlag(args, 'ld-threshold', 0.5),
      nuSign: oneOf(args, 'nu-sign', NU_SIGNS, 'signed'),
    },
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

/** The command line each job runs: the stats arguments less the ones that only choose how to submit. */
function jobArgs(argv: string[]): string[] {
  const keep: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2).split('=')[0] : undefined;
    if (name && SUBMIT_FLAGS.has(name)) {
      if (!argv[i].includes('=') && SPEC[name as keyof typeof SPEC] !== 'bool') i++;
      continue;
    }
    keep.push(argv[i]);
  }
  return keep;
}

function runSlurm(argv: string[], opts: StatsJobOptions): number {
  const args = parseArgs(argv, SPEC);
  const n = intFlag(args, 'slurm', 1)!;
  for (const f of ['shard', 'shard-count', 'phase', 'max-from', 'resume']) {
    if (args.flags.has(f)) throw new UsageError(`--${f} cannot be combined with --slurm (the jobs set it themselves)`);
  }
  for (const f of opts.data) if (!existsSync(f)) throw new LatentDiffError(f, 'dataset file not found', 'not-found');
  if (!existsSync(opts.bundle)) throw new LatentDiffError(opts.bundle, 'bundle folder not found', 'not-found');
  const plan = {
    out: opts.out,
    record: { shardCount: n, args: jobArgs(argv), cwd: process.cwd() },
    cli: [process.execPath, resolve(process.argv[1])] as [string, string],
    sbatchExtra: splitShellWords(args.flags.get('sbatch')?.[0] ?? ''),
  };
  process.stdout.write(submitPipeline(plan, args.flags.has('dry-run')));
  return 0;
}
/** Unreadable records named one by one on stderr; the rest are only counted. */
const SHOWN_BAD_RECORDS = 5;

export async function runStats(argv: string[], root = projectRoot(__dirname)): Promise<number> {
  const opts = statsOptions(argv, root);
  const args = parseArgs(argv, SPEC);
  if (args.flags.has('slurm')) return runSlurm(argv, opts);
  if (args.flags.has('sbatch') || args.flags.has('dry-run')) throw new UsageError('--sbatch and --dry-run go with --slurm N');
  const phase = args.flags.get('phase')?.[0] as PipelinePhase | undefined;
  if (phase !== undefined && !PIPELINE_PHASES.includes(phase)) throw new UsageError(`--phase must be ${PIPELINE_PHASES.join(', ')}, got "${phase}"`);
  const controller = new AbortController();
  const onSignal = (signal: string) => {
    process.stderr.write(`\nlatent-diff: ${signal}: cancelling, writing a checkpoint (Ctrl+C again to stop at once)\n`);
    controller.abort();
  };
  // Slurm (scancel, time limit, preemption) and Kubernetes stop a task with SIGTERM
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, onSignal);
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const encoded = { scan: 0, examples: 0 };
  let badShown = 0;
  const hooks: StatsJobHooks = {
    signal: controller.signal,
    onBadRecord: (b) => {
      if (++badShown <= SHOWN_BAD_RECORDS) process.stderr.write(`latent-diff: skipped ${b.file}:${b.line}: ${b.problem}\n`);
      else if (badShown === SHOWN_BAD_RECORDS + 1) process.stderr.write('latent-diff: more unreadable records skipped (the summary counts them all)\n');
    },
    onProgress: (p) => {
      encoded[p.phase] = p.tokens;
      const pct = p.fraction !== undefined ? ` ${(100 * p.fraction).toFixed(1)}%` : '';
      if (tty) process.stderr.write(`\r${p.message}${pct}\x1b[K`);
      else if (Date.now() - lastLine > 5000 || p.fraction === 1) {
        lastLine = Date.now();
        process.stderr.write(`${p.message}${pct}\n`);
      }
    },
    ...testHookFor(phase ?? 'single', opts.shard?.index, controller.signal),
  };
  const reportEncoded = () => process.stdout.write(`tokens encoded in this run: scan ${encoded.scan}, examples ${encoded.examples}\n`);
  try {
    if (phase) {
      const r = await runPipelinePhase(phase, opts, hooks);
      if (tty) process.stderr.write('\n');
      const what = `${phase}${phase === 'scan' || phase === 'examples' ? ` of shard ${opts.shard!.index}/${opts.shard!.count}` : ''}`;
      process.stdout.write(r.ran ? `${what}: done in ${r.folder}\n` : `${what}: already done in ${r.folder}, nothing to do\n`);
      if (r.result?.featureDf && r.result.examplesDb) process.stdout.write(`wrote ${r.result.featureDf}\nwrote ${r.result.examplesDb}\n`);
      if (r.result) reportProvider(r.result);
    } else {
      const result = await runStatsJob(opts, hooks);
      if (tty) process.stderr.write('\n');
      process.stdout.write(statsSummary(result));
      reportProvider(result);
    }
    reportEncoded();
    return 0;
  } catch (e) {
    if (e instanceof StatsCancelledError) {
      process.stderr.write(`\nlatent-diff: ${e.message}\n`);
      reportEncoded();
      return 130;
    }
    throw e;
  } finally {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.removeListener(s, onSignal);
  }
}
