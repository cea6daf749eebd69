/**
 * A sharded statistics run as four phases over one output folder, for batch systems (Slurm, Kubernetes):
 *   scan shard i        -> OUT/parts/scan-i
 *   merge of the scans  -> OUT/parts/scan-merged      (needs every scan shard done)
 *   examples shard i    -> OUT/parts/examples-i       (binned with the merged scan's max activations)
 *   final merge         -> OUT/parts/final, then OUT/feature_df.csv and OUT/examples.db
 * Every phase is idempotent: a finished part is left alone, a checkpointed one resumes, and a merge reads only
 * finished parts (merge-runs.ts refuses a running one) and is written to a scratch folder that is renamed into
 * place only when complete, so a killed merge leaves nothing half-written behind.
 */
import { copyFileSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../errors';
import { mergeStatsRuns } from './merge-runs';
import { EXAMPLES_DB, FEATURE_DF, FEATURE_DF_META } from './outputs';
import { readManifest, type Manifest } from './run-state';
import { runStatsJob, type StatsJobHooks, type StatsJobOptions, type StatsJobResult } from './stats-job';

export const PIPELINE_PHASES = ['scan', 'merge-scan', 'examples', 'merge'] as const;
export type PipelinePhase = (typeof PIPELINE_PHASES)[number];

export const partDir = (out: string, pass: 'scan' | 'examples', shard: number) => join(out, 'parts', `${pass}-${shard}`);
export const mergedScanDir = (out: string) => join(out, 'parts', 'scan-merged');
export const finalDir = (out: string) => join(out, 'parts', 'final');

/** The part's manifest when that part's pass is finished. */
export function finishedPart(dir: string, pass: 'scan' | 'examples'): Manifest | undefined {
  const m = readManifest(dir);
  return m?.[pass]?.status === 'done' ? m : undefined;
}

/** Which phases are complete in OUT: the merges, and per shard the two passes. */
export interface PipelineDone {
  scan: boolean[];
  mergeScan: boolean;
  examples: boolean[];
  merge: boolean;
}

export function pipelineDone(out: string, shardCount: number): PipelineDone {
  const merge = !!finishedPart(finalDir(out), 'examples') && existsSync(join(out, FEATURE_DF)) && existsSync(join(out, EXAMPLES_DB));
  const mergeScan = merge || !!finishedPart(mergedScanDir(out), 'scan');
  const shards = Array.from({ length: shardCount }, (_, i) => i);
  return {
    scan: shards.map((i) => mergeScan || !!finishedPart(partDir(out, 'scan', i), 'scan')),
    mergeScan,
    examples: shards.map((i) => merge || !!finishedPart(partDir(out, 'examples', i), 'examples')),
    merge,
  };
}

export interface PhaseOutcome {
  /** False when the phase had been done before and nothing ran. */
  ran: boolean;
  result?: StatsJobResult;
  folder: string;
}

/** Merges `parts` into `dest` through a scratch folder, renamed into place once complete. */
function mergeInto(parts: string[], dest: string): StatsJobResult {
  const scratch = `${dest}.partial`;
  rmSync(scratch, { recursive: true, force: true });
  const r = mergeStatsRuns(parts, scratch);
  renameSync(scratch, dest);
  return { ...r, out: dest };
}

/** Copies a final file next to the parts, atomically. */
function publish(file: string, out: string): void {
  const dest = join(out, file);
  copyFileSync(join(finalDir(out), file), `${dest}.partial`);
  renameSync(`${dest}.partial`, dest);
}

/**
 * Runs one phase of the sharded run in `opts.out` (which needs `opts.shard`: its count always, its index for the
 * two shard passes).
 */
export async function runPipelinePhase(phase: PipelinePhase, opts: StatsJobOptions, hooks: StatsJobHooks = {}): Promise<PhaseOutcome> {
  const out = opts.out;
  const shard = opts.shard;
  if (!shard) throw new LatentDiffError(undefined, `the ${phase} phase needs the shard count (--shard i/n, --shard auto or --shard-count N)`, 'invalid-setting');
  const n = shard.count;
  const done = pipelineDone(out, n);
  const shards = Array.from({ length: n }, (_, i) => i);
  switch (phase) {
    case 'scan':
    case 'examples': {
      const folder = partDir(out, phase, shard.index);
      if (done[phase][shard.index]) return { ran: false, folder };
      if (phase === 'examples' && !done.mergeScan) throw new LatentDiffError(mergedScanDir(out), 'the merged scan is missing: the examples pass runs after the merge-scan phase', 'incomplete');
      const result = await runStatsJob({
        ...opts, out: folder, resume: !!readManifest(folder), ...(phase === 'examples' ? { maxFrom: mergedScanDir(out) } : {}),
      }, hooks);
      return { ran: true, result, folder };
    }
    case 'merge-scan': {
      const folder = mergedScanDir(out);
      if (done.mergeScan) return { ran: false, folder };
      return { ran: true, result: mergeInto(shards.map((i) => partDir(out, 'scan', i)), folder), folder };
    }
    case 'merge': {
      const folder = finalDir(out);
      if (done.merge) return { ran: false, folder };
      const merged = finishedPart(folder, 'examples') ? undefined : mergeInto([mergedScanDir(out), ...shards.map((i) => partDir(out, 'examples', i))], folder);
      for (const file of [FEATURE_DF_META, FEATURE_DF, EXAMPLES_DB]) publish(file, out);
      return { ran: true, folder, ...(merged ? { result: { ...merged, out, featureDf: join(out, FEATURE_DF), examplesDb: join(out, EXAMPLES_DB) } } : {}) };
    }
  }
}
