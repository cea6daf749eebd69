/**
 * The offline statistics job (SPEC 5): datasets -> feature_df.csv (+ Latent Scaling) and examples.db.
 *
 * Two passes over the data: "scan" (frequency, max activation, template statistics, Latent Scaling sums) and
 * "examples" (quantile bins need each latent's max, known only after the scan). Shards:
 *   - without a shard (or --shard 0/1): both passes, then the final files;
 *   - `--shard i/n`: the scan of every n-th record (record index mod n = i) only;
 *     merge the n scans (merge-runs.ts) -> feature_df.csv and the max activations;
 *   - `--shard i/n --max-from MERGED`: the examples pass of shard i, binned with the merged max;
 *     merge these with the merged scan -> examples.db.
 * Everything merges exactly (exact sums, counts, maxima, bottom-k samples), so the merged files equal a single
 * run's byte for byte. `--tokens N` caps the tokens over all records in dataset order (every shard counts all
 * records, so shards agree on where the data ends). Progress, cancel (checkpoint, then StatsCancelledError)
 * and resume from the last checkpoint are built in; final files are written atomically.
 */
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadBundle, type Bundle } from '../../bundle/bundle';
import { readDatasets } from '../../datasets/open-dataset';
import { badRecord } from '../../datasets/bad-records';
import type { BadRecord } from '../../datasets/records';
import { LatentDiffError } from '../../errors';
import { checkRegularFile } from '../../input-files';
import { checkOutputFolder } from '../../output-paths';
import { lockOutputFolder } from './run-lock';
import { decoderGeometry, type DecoderWeights } from '../../latents/latent-scaling';
import { loadOrComputeLatentMetrics } from '../../latents/metrics-cache';
import { DEFAULT_VERDICT_THRESHOLDS, type VerdictThresholds } from '../../latents/verdict';
import { bundleChatTemplate } from '../../text/chat-template';
import { GemmaTokenizer } from '../../text/tokenizer';
import type { ProviderSetting } from '../../types';
import { loadDecoderWeights } from './decoder-weights';
import { StatsCancelledError } from './stats-cancelled';
import { defaultErrorLatents, errorLatentSet, errorLatentsName, type ErrorLatents } from './error-latents';
import { emptyExamples, ExamplesSampler, type ExamplesState } from './examples-sampler';
import { EXAMPLES_DB, FEATURE_DF, writeExamples, writeFeatureTable } from './outputs';
import {
  configDigest, manifestPath, maxDigest, nextStateFile, readManifest, stateDir, writeManifest, STATE_FORMAT, STATE_VERSION,
  type Manifest, type PhaseState, type RunConfig,
} from './run-state';
import { emptyScan, ScanAccumulator, type ScanArrays } from './scan-accumulator';
import { openSequenceEncoder, type SequenceEncoder } from './sequence-encoder';
import { makeSequence, recordIds, templateIds } from './sequences';
import { readExamplesState, readScanState, writeExamplesState, writeScanState } from './state-codec';
import { readStaticState, writeStaticState, type StaticState } from './static-state';

export interface StatsJobOptions {
  data: string[];
  out: string;
  /** Bundle folder (the caller resolves the default, the demo bundle). */
  bundle: string;
  /** Cap on tokens over all records (all shards together), in dataset order. */
  tokens?: number;
  shard?: { index: number; count: number };
  /** Seeds the example sampling and the shared baseline of the error betas (default 42, as the paper's random_state). */
  seed?: number;
  /** Latents with error betas (error-latents.ts); default: the paper's set for the paper's crosscoders, else 'chat-only'. */
  errorLatents?: ErrorLatents;
  /** Examples kept per latent and quantile bin (default 20; the paper collected 100 and shows 20). */
  examplesPerBin?: number;
  /** A merged scan's folder: run the examples pass with its max activations. */
  maxFrom?: string;
  /** Continue from the checkpoint in `out`. */
  resume?: boolean;
  badRecords?: 'skip' | 'fail';
  /** Parquet text column (default "text"). */
  textColumn?: string;
  provider?: ProviderSetting;
  /** ORT intra-op threads of each CPU session (default: one per physical core). */
  cpuThreads?: number;
  /** Where built graphs and metric caches go when the bundle folder is read-only. */
  cacheDir?: string;
  /** Seconds between checkpoints (default 60). */
  checkpointSeconds?: number;
  /** Tokens per sequence (default: the bundle's context window; longer records are truncated, as in the paper). */
  contextWindow?: number;
  thresholds?: VerdictThresholds;
}

export interface StatsProgress {
  phase: 'scan' | 'examples';
  /** Tokens this run has pushed through the models in this phase. */
  tokens: number;
  tokensPerSecond: number;
  /** 0..1 of the phase, when known. */
  fraction?: number;
  etaSeconds?: number;
  message: string;
}

export interface StatsJobHooks {
  onProgress?: (p: StatsProgress) => void;
  onBadRecord?: (b: BadRecord) => void;
  signal?: AbortSignal;
  /** Awaited after each intermediate checkpoint (the state on disk is then consistent). */
  onCheckpoint?: (phase: 'scan' | 'examples', recordsDone: number) => Promise<void> | void;
  /** Already opened models and tokenizer to reuse (tests, or a worker that keeps them between jobs). */
  encoder?: SequenceEncoder;
  tokenizer?: GemmaTokenizer;
}

export interface StatsJobResult {
  out: string;
  featureDf?: string;
  examplesDb?: string;
  /** Which passes this folder holds finished, and for which shards. */
  scanShards: number[];
  examplesShards: number[];
  shardCount: number;
  skippedRecords: number;
  provider: string;
  /** Why a preferred provider was not used. */
  providerNote?: string;
}

export { StatsCancelledError };

function checkOptions(o: StatsJobOptions): void {
  const bad = (problem: string): never => {
    throw new LatentDiffError(undefined, problem, 'invalid-setting');
  };
  if (!o.data.length) bad('no dataset given (--data FILE...)');
  for (const f of o.data) checkRegularFile(f, 'dataset file');
  checkOutputFolder(o.out);
  if (o.tokens !== undefined && !(Number.isInteger(o.tokens) && o.tokens > 0)) bad(`--tokens must be a positive integer, got ${o.tokens}`);
  if (o.shard && !(Number.isInteger(o.shard.count) && o.shard.count >= 1 && Number.isInteger(o.shard.index) && o.shard.index >= 0 && o.shard.index < o.shard.count)) {
    bad(`--shard must be i/n with 0 <= i < n, got ${o.shard.index}/${o.shard.count}`);
  }
  if (o.examplesPerBin !== undefined && !(Number.isInteger(o.examplesPerBin) && o.examplesPerBin >= 1)) bad(`examples per bin must be a positive integer, got ${o.examplesPerBin}`);
  const n = typeof o.errorLatents === 'object' ? o.errorLatents.paper : o.errorLatents;
  if (typeof n === 'number' && !(Number.isInteger(n) && n >= 0)) bad(`--error-latents needs a count >= 0, got ${n}`);
}

function runConfig(o: StatsJobOptions, bundle: Bundle, contextWindow: number, errorLatents: ErrorLatents): RunConfig {
  const t = o.thresholds ?? DEFAULT_VERDICT_THRESHOLDS;
  return {
    crosscoderIdentity: bundle.crosscoder.identity,
    dictSize: bundle.crosscoder.dictSize,
    data: o.data.map((f) => ({ name: basename(f), bytes: statSync(f).size })),
    tokens: o.tokens ?? null,
    contextWindow,
    seed: o.seed ?? 42,
    examplesPerBin: o.examplesPerBin ?? 20,
    shardCount: o.shard?.count ?? 1,
    textColumn: o.textColumn ?? 'text',
    errorLatents: errorLatentsName(errorLatents),
    thresholds: { completeShrinkage: t.completeShrinkage, latentDecoupling: t.latentDecoupling, nuSign: t.nuSign ?? 'signed' },
  };
}

/** A complete scan's max activations from a merged folder (for the examples pass of shards). */
function maxFromMergedScan(dir: string, config: RunConfig): Float64Array {
  const m = readManifest(dir);
  if (!m) throw new LatentDiffError(dir, 'is not a statistics folder (no state/manifest.json): give the folder written by `latent-diff merge` of the scans', 'not-found');
  if (m.configDigest !== configDigest(config)) throw new LatentDiffError(manifestPath(dir), 'was made with other settings (data, tokens, seed, shard count, crosscoder...) than this run', 'mismatch');
  if (m.scan?.status !== 'done' || m.scan.shards.length !== config.shardCount) {
    throw new LatentDiffError(manifestPath(dir), `holds the scan of shards [${m.scan?.shards.join(', ') ?? ''}] of ${config.shardCount}: merge all scans first`, 'incomplete');
  }
  return readScanState(join(stateDir(dir), m.scan.file), config.dictSize).scan.maxAct;
}

export async function runStatsJob(opts: StatsJobOptions, hooks: StatsJobHooks = {}): Promise<StatsJobResult> {
  checkOptions(opts);
  const release = lockOutputFolder(opts.out);
  try {
    return await runLocked(opts, hooks);
  } finally {
    release();
  }
}

async function runLocked(opts: StatsJobOptions, hooks: StatsJobHooks): Promise<StatsJobResult> {
  const out = opts.out;
  const shard = opts.shard ?? { index: 0, count: 1 };
  const cacheDir = opts.cacheDir ?? join(tmpdir(), 'latent-diff-cache');
  const bundle = loadBundle(opts.bundle, { cacheDir });
  const ckpt = bundle.crosscoder;
  const D = ckpt.dictSize;
  const contextWindow = opts.contextWindow ?? bundle.contextWindow;
  const errorLatents = opts.errorLatents ?? defaultErrorLatents(D, bundle.dModel);
  const config = runConfig(opts, bundle, contextWindow, errorLatents);
  const digest = configDigest(config);
  const thresholds = config.thresholds;

  let manifest = readManifest(out);
  const freshRun = !manifest;
  if (manifest && !opts.resume) {
    throw new LatentDiffError(out, 'already holds a statistics run (state/manifest.json): pass --resume to continue it, or choose another --out folder', 'exists');
  }
  if (manifest && manifest.configDigest !== digest) {
    throw new LatentDiffError(manifestPath(out), 'the run there used other settings (data, tokens, seed, shard count, crosscoder...): it cannot be resumed with these; choose another --out folder', 'mismatch');
  }
  for (const phase of ['scan', 'examples'] as const) {
    const shards = manifest?.[phase]?.shards;
    if (shards && (shards.length !== 1 || shards[0] !== shard.index)) {
      throw new LatentDiffError(manifestPath(out), `holds ${phase} state of shards [${shards.join(', ')}], not of shard ${shard.index}: resume the shard in its own folder`, 'mismatch');
    }
  }
  mkdirSync(stateDir(out), { recursive: true });

  const metrics = await loadOrComputeLatentMetrics(ckpt, { cacheDir });
  let decoder: DecoderWeights | undefined;
  let stat: StaticState;
  if (manifest) {
    stat = readStaticState(join(stateDir(out), manifest.staticFile));
  } else {
    decoder = loadDecoderWeights(ckpt);
    stat = { metrics, geo: decoderGeometry(decoder), errorSet: errorLatentSet(metrics, errorLatents, config.seed) };
    const staticFile = nextStateFile('static');
    writeStaticState(join(stateDir(out), staticFile), stat);
    manifest = { format: STATE_FORMAT, version: STATE_VERSION, config, configDigest: digest, staticFile, skippedRecords: 0 };
    writeManifest(out, manifest);
  }

  const doScan = !opts.maxFrom;
  const doExamples = !!opts.maxFrom || shard.count === 1;
  const tokenizer = hooks.tokenizer ?? GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config);
  const template = bundleChatTemplate(bundle.tokenizer.chatTemplate);
  const tids = templateIds(tokenizer, bundle.tokenizer.json);
  const encoder = hooks.encoder ?? (await openSequenceEncoder(bundle, metrics, { provider: opts.provider ?? 'auto', cacheDir, cpuThreads: opts.cpuThreads }));
  let m: Manifest = manifest;

  /** One pass over the data; `consume` gets this shard's sequences. */
  const runPhase = async (
    phase: 'scan' | 'examples',
    start: PhaseState,
    consume: (seq: ReturnType<typeof makeSequence>) => Promise<void>,
    save: (path: string) => void,
  ): Promise<void> => {
    const ps: PhaseState = { ...start };
    const budget = config.tokens;
    let cum = ps.tokensBefore;
    let processed = 0;
    const t0 = Date.now();
    let lastCheckpoint = t0;
    let lastProgress = 0;
    let f0: number | undefined;
    let replaying = ps.recordsDone > 0;
    let skipped = m.skippedRecords;
    let fraction: number | undefined;
    // Both passes read the same records: the first pass of this run counts and reports the bad ones.
    const countsBadRecords = phase === 'scan' || !doScan;
    const firstBad: BadRecord[] = [];
    const onSkip = (b: BadRecord) => {
      if (replaying || !countsBadRecords) return;
      skipped++;
      if (firstBad.length < 3) firstBad.push(b);
      hooks.onBadRecord?.(b);
    };
    const checkpoint = (status: PhaseState['status']) => {
      const file = nextStateFile(phase);
      save(join(stateDir(out), file));
      const prev = m;
      const progress = {
        shardTokens: (start.shardTokens ?? 0) + processed,
        seconds: (start.seconds ?? 0) + (Date.now() - t0) / 1000,
        fraction: status === 'done' ? 1 : fraction,
      };
      m = { ...m, [phase]: { ...ps, status, file, tokensBefore: cum, ...progress }, skippedRecords: skipped };
      writeManifest(out, m, prev);
    };
    const records = readDatasets(opts.data, {
      onBadRecord: opts.badRecords ?? 'skip',
      textColumn: config.textColumn,
      onSkip,
    });
    const report = (fraction: number | undefined, final = false) => {
      const now = Date.now();
      if (!hooks.onProgress || (!final && now - lastProgress <= 250)) return;
      lastProgress = now;
      f0 ??= fraction;
      const secs = (now - t0) / 1000;
      const rate = processed / Math.max(secs, 1e-3);
      const eta = final ? 0 : fraction !== undefined && f0 !== undefined && fraction > f0 ? (secs * (1 - fraction)) / (fraction - f0) : undefined;
      hooks.onProgress({
        phase, tokens: processed, tokensPerSecond: rate, fraction, etaSeconds: eta,
        message: `${phase}: ${processed} tokens, ${rate.toFixed(0)} tokens/s${eta !== undefined && !final ? `, ETA ${Math.ceil(eta)} s` : ''}`,
      });
    };
    for await (const r of records) {
      if (r.index < ps.recordsDone) {
        if (r.index === ps.recordsDone - 1) replaying = false;
        continue;
      }
      replaying = false;
      if (budget !== null && cum >= budget) break;
      const mine = r.index % shard.count === shard.index;
      if (mine || budget !== null) {
        let ids: number[] | undefined;
        try {
          ids = recordIds(tokenizer, template, r.record, contextWindow);
        } catch (e) {
          if (!(e instanceof LatentDiffError)) throw e;
          badRecord({ onBadRecord: opts.badRecords ?? 'skip', onSkip }, { file: r.record.file, line: r.record.line, problem: e.problem });
        }
        if (ids) {
          const seq = makeSequence(r.index, ids, budget === null ? contextWindow : Math.min(contextWindow, budget - cum), tids);
          cum += seq.ids.length;
          if (mine) {
            await consume(seq);
            processed += seq.ids.length;
          }
        }
      }
      ps.recordsDone = r.index + 1;
      fraction = budget !== null ? Math.min(1, cum / budget) : r.fraction;
      report(fraction);
      const now = Date.now();
      if (!hooks.signal?.aborted && now - lastCheckpoint >= (opts.checkpointSeconds ?? 60) * 1000) {
        checkpoint('running');
        lastCheckpoint = now;
        await hooks.onCheckpoint?.(phase, ps.recordsDone);
      }
      if (hooks.signal?.aborted) {
        checkpoint('running');
        report(fraction, true);
        throw new StatsCancelledError(out);
      }
    }
    if (countsBadRecords && cum === 0 && (shard.count === 1 || ps.recordsDone === 0)) {
      if (freshRun) rmSync(stateDir(out), { recursive: true, force: true });
      throw noReadableRecords(opts.data, skipped, firstBad);
    }
    checkpoint('done');
    report(1, true);
  };

  const fresh = (): PhaseState => ({ status: 'running', shards: [shard.index], file: '', recordsDone: 0, tokensBefore: 0 });
  let scan: ScanArrays | undefined;
  try {
    if (doScan) {
      const ps = m.scan ?? fresh();
      scan = ps.file ? readScanState(join(stateDir(out), ps.file), D).scan : emptyScan(D);
      if (ps.status !== 'done') {
        decoder ??= loadDecoderWeights(ckpt);
        const acc = new ScanAccumulator(scan, decoder, stat.metrics.scale, tokenizer.bosId);
        await runPhase('scan', ps, async (seq) => {
          const e = await encoder.encode(seq.ids);
          acc.addSequence(seq, e.f, e.xBase, e.xChat);
        }, (path) => writeScanState(path, {}, scan!));
      }
    }
    if (doExamples) {
      const maxAct = opts.maxFrom ? maxFromMergedScan(opts.maxFrom, config) : scan!.maxAct;
      const ps = m.examples ?? { ...fresh(), maxDigest: maxDigest(maxAct) };
      if (ps.maxDigest !== maxDigest(maxAct)) throw new LatentDiffError(manifestPath(out), 'the examples checkpoint was binned with other max activations than this run: start it in a new folder', 'mismatch');
      let examples: ExamplesState = ps.file ? readExamplesState(join(stateDir(out), ps.file)).examples : emptyExamples();
      if (ps.status !== 'done') {
        const sampler = new ExamplesSampler(examples, maxAct, stat.metrics.scale, config.examplesPerBin, config.seed);
        examples = sampler.state;
        await runPhase('examples', ps, async (seq) => {
          const e = await encoder.encode(seq.ids);
          sampler.addSequence(seq, e.f);
        }, (path) => writeExamplesState(path, {}, examples));
      }
    }
  } finally {
    if (!hooks.encoder) await encoder.dispose();
  }
  return { ...finishRun(out, m, stat, thresholds, encoder.provider), ...(encoder.providerNote ? { providerNote: encoder.providerNote } : {}) };
}

/** Statistics over no tokens would be numbers about nothing: name the data and why none of it was read. */
function noReadableRecords(data: readonly string[], skipped: number, firstBad: readonly BadRecord[]): LatentDiffError {
  const where = data.join(', ');
  if (!skipped) return new LatentDiffError(where, 'holds no text to compute statistics on (empty, or blank lines only)', 'no-data');
  const examples = firstBad.map((b) => `${b.file}:${b.line}: ${b.problem}`).join('; ');
  return new LatentDiffError(where, `no readable record: all ${skipped} record(s) are unreadable (first: ${examples})`, 'no-data');
}

/** Writes feature_df.csv / examples.db where the folder's state covers every shard. */
export function finishRun(out: string, m: Manifest, stat: StaticState, thresholds: VerdictThresholds, provider = ''): StatsJobResult {
  const n = m.config.shardCount;
  const complete = (p?: PhaseState) => p?.status === 'done' && p.shards.length === n;
  const result: StatsJobResult = {
    out, shardCount: n, skippedRecords: m.skippedRecords, provider,
    scanShards: m.scan?.status === 'done' ? m.scan.shards : [],
    examplesShards: m.examples?.status === 'done' ? m.examples.shards : [],
  };
  if (complete(m.scan)) {
    const { scan } = readScanState(join(stateDir(out), m.scan!.file), m.config.dictSize);
    const c = m.config;
    result.featureDf = writeFeatureTable(out, stat, scan, { errorLatents: c.errorLatents, seed: c.seed, thresholds, tokens: c.tokens });
  }
  if (complete(m.examples)) result.examplesDb = writeExamples(out, readExamplesState(join(stateDir(out), m.examples!.file)).examples);
  return result;
}

export { FEATURE_DF, EXAMPLES_DB };
