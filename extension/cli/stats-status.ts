/**
 * `latent-diff stats-status OUT`: where a `--slurm` (or Kubernetes) pipeline stands: per phase and shard done,
 * running or pending (per squeue), interrupted (a checkpoint and no job: submit again to resume), failed (its job
 * left the queue unfinished) or missing, with the tokens of each shard and an ETA from its checkpoints.
 */
import { join } from 'node:path';
import { LatentDiffError } from '../engine/errors';
import { finalDir, mergedScanDir, partDir, pipelineDone, type PipelinePhase } from '../engine/analysis/stats/pipeline';
import { readManifest, type PhaseState } from '../engine/analysis/stats/run-state';
import { parseArgs, UsageError } from './args';
import { queuedJobs, queueState } from './slurm-queue';
import { pipelineRecordPath, readPipelineRecord } from './slurm-submit';

export const STATUS_USAGE = `latent-diff stats-status OUT
  Where the sharded statistics run in OUT stands (\`stats --slurm N\`): each phase and shard done, running,
  pending, interrupted, failed or missing, with tokens processed and an ETA (queue states from squeue).`;

function progress(p: PhaseState | undefined): string {
  if (p?.shardTokens === undefined) return '';
  const parts = [`${p.shardTokens} tokens`];
  if (p.fraction !== undefined && p.status !== 'done') {
    parts.push(`${(100 * p.fraction).toFixed(1)}% of the data read`);
    if (p.fraction > 0 && p.seconds) parts.push(`ETA ${Math.ceil((p.seconds * (1 - p.fraction)) / p.fraction)} s`);
  }
  return ` (${parts.join(', ')})`;
}

export function statsStatus(out: string, queue: () => Map<string, string> = queuedJobs): string {
  const record = readPipelineRecord(out);
  if (!record) throw new LatentDiffError(pipelineRecordPath(out), 'not found: OUT is not a pipeline submitted with `latent-diff stats --slurm N`', 'not-found');
  const n = record.shardCount;
  const done = pipelineDone(out, n);
  const jobs = record.jobs.length ? queue() : new Map<string, string>();
  const lines = [`${out}: ${n} shards`];
  const state = (phase: PipelinePhase, isDone: boolean, folder: string, pass: 'scan' | 'examples', shard?: number) => {
    const part = readManifest(folder)?.[pass];
    if (isDone) return `done${progress(part)}`;
    const job = record.jobs.find((j) => j.phase === phase && (shard === undefined || j.shards?.includes(shard)));
    const queued = job && queueState(jobs, job.id, shard === undefined ? undefined : shard);
    if (queued) return `${queued.toLowerCase()} (job ${job.id}${shard === undefined ? '' : `_${shard}`})${progress(part)}`;
    if (part) return `interrupted${progress(part)}: submit the same command again to resume`;
    if (job) return `failed or cancelled (job ${job.id}${shard === undefined ? '' : `_${shard}`}, log in ${join(out, 'slurm', 'logs')})`;
    return 'missing';
  };
  for (let i = 0; i < n; i++) lines.push(`  scan ${i}: ${state('scan', done.scan[i], partDir(out, 'scan', i), 'scan', i)}`);
  lines.push(`  merge-scan: ${state('merge-scan', done.mergeScan, mergedScanDir(out), 'scan')}`);
  for (let i = 0; i < n; i++) lines.push(`  examples ${i}: ${state('examples', done.examples[i], partDir(out, 'examples', i), 'examples', i)}`);
  lines.push(`  merge: ${state('merge', done.merge, finalDir(out), 'examples')}`);
  return lines.join('\n') + '\n';
}

export function runStatsStatus(argv: string[]): number {
  const args = parseArgs(argv, {});
  if (args.positional.length !== 1) throw new UsageError('stats-status needs the output folder of a --slurm run');
  process.stdout.write(statsStatus(args.positional[0]));
  return 0;
}
