/**
 * `latent-diff stats ... --slurm N`: the sharded pipeline (engine: analysis/stats/pipeline.ts) as Slurm jobs: an
 * array of N scan tasks, the scan merge (afterok), an array of N examples tasks (afterok), the final merge
 * (afterok). Every job runs this same CLI with `--phase` (and `--shard auto --shard-count N` for the arrays).
 * Submitting again runs only what is missing: finished phases and shards are left out of the new jobs, and a
 * submission is refused while jobs of the previous one are still queued (so no shard runs twice at once).
 * The submission is recorded in OUT/slurm/pipeline.json (for resubmission and `stats-status`).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../engine/errors';
import { pipelineDone, type PipelinePhase } from '../engine/analysis/stats/pipeline';
import { queuedJobs, queueState, sbatch } from './slurm-queue';

export interface SlurmJob {
  phase: PipelinePhase;
  id: string;
  /** Shards of an array job (its task ids). */
  shards?: number[];
}

export interface PipelineRecord {
  shardCount: number;
  /** The stats arguments every task runs with (without --out, --slurm, --sbatch, --dry-run), and where. */
  args: string[];
  cwd: string;
  /** The jobs of the latest submission. */
  jobs: SlurmJob[];
}

export const pipelineRecordPath = (out: string) => join(out, 'slurm', 'pipeline.json');

export function readPipelineRecord(out: string): PipelineRecord | undefined {
  const path = pipelineRecordPath(out);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new LatentDiffError(path, `not valid JSON (${(e as Error).message})`, 'bad-state');
  }
}

const shq = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Splits --sbatch "EXTRA ARGS" into words like a shell would (quotes group, backslash escapes; no expansions). */
export function splitShellWords(s: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c === '\\' && quote === '"' && i + 1 < s.length ? s[++i] : c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + (c === '\\' && i + 1 < s.length ? s[++i] : c);
  }
  if (quote) throw new LatentDiffError(undefined, `--sbatch: unmatched ${quote} in "${s}"`, 'invalid-setting');
  if (word !== undefined) words.push(word);
  return words;
}

export interface SlurmPlan {
  out: string;
  record: Omit<PipelineRecord, 'jobs'>;
  /** node and the CLI script the tasks run. */
  cli: [string, string];
  sbatchExtra: string[];
}

function script(plan: SlurmPlan, phase: PipelinePhase, shards: number[] | undefined): string {
  const { out, record, cli } = plan;
  const log = join(out, 'slurm', 'logs', shards ? `${phase}-%A_%a.log` : `${phase}-%j.log`);
  const task = [...cli, 'stats', ...record.args, '--out', out, ...(shards ? ['--shard', 'auto'] : []), '--shard-count', String(record.shardCount), '--phase', phase];
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=latent-diff-${phase}`,
    ...(shards ? [`#SBATCH --array=${shards.join(',')}`] : []),
    `#SBATCH --output=${log}`,
    `#SBATCH --chdir=${record.cwd}`,
    // a dependent job whose dependency failed is cancelled instead of pending forever
    '#SBATCH --kill-on-invalid-dep=yes',
    `exec ${task.map(shq).join(' ')}`,
    '',
  ].join('\n');
}

/** The jobs still needed, in order, each with the shards of its array (undefined for the merges). */
function missingPhases(out: string, n: number): { phase: PipelinePhase; shards?: number[] }[] {
  const done = pipelineDone(out, n);
  const todo = (flags: boolean[]) => flags.flatMap((d, i) => (d ? [] : [i]));
  const steps: { phase: PipelinePhase; shards?: number[]; needed: boolean }[] = [
    { phase: 'scan', shards: todo(done.scan), needed: todo(done.scan).length > 0 },
    { phase: 'merge-scan', needed: !done.mergeScan },
    { phase: 'examples', shards: todo(done.examples), needed: todo(done.examples).length > 0 },
    { phase: 'merge', needed: !done.merge },
  ];
  return steps.filter((s) => s.needed).map(({ phase, shards }) => ({ phase, shards }));
}

/** Submits (or with dryRun prints) what is missing; returns the text for stdout. */
export function submitPipeline(plan: SlurmPlan, dryRun: boolean): string {
  const { out, record } = plan;
  const previous = readPipelineRecord(out);
  if (previous && (previous.shardCount !== record.shardCount || JSON.stringify(previous.args) !== JSON.stringify(record.args))) {
    throw new LatentDiffError(pipelineRecordPath(out), `was submitted with other arguments (${previous.shardCount} shards: ${previous.args.join(' ')}): resubmit exactly those, or choose another --out folder`, 'mismatch');
  }
  if (previous?.jobs.length && !dryRun) {
    const queue = queuedJobs();
    const waiting = previous.jobs.filter((j) => (j.shards ?? [undefined]).some((s) => queueState(queue, j.id, s)));
    if (waiting.length) {
      throw new LatentDiffError(out, `jobs of the previous submission are still queued or running (${waiting.map((j) => `${j.phase} ${j.id}`).join(', ')}): wait for them or scancel them, then submit again`, 'busy');
    }
  }
  const steps = missingPhases(out, record.shardCount);
  if (!steps.length) return `nothing to do: ${join(out, 'feature_df.csv')} and ${join(out, 'examples.db')} are complete\n`;
  if (!dryRun) mkdirSync(join(out, 'slurm', 'logs'), { recursive: true });
  const lines: string[] = [];
  const jobs: SlurmJob[] = [];
  let after: string | undefined;
  for (const { phase, shards } of steps) {
    const text = script(plan, phase, shards);
    const file = join(out, 'slurm', `${phase}.sh`);
    const args = [...(after ? [`--dependency=afterok:${after}`] : []), ...plan.sbatchExtra, file];
    if (dryRun) {
      lines.push(`# sbatch ${args.map((a) => (a === args[0] && after ? a : shq(a))).join(' ')}`, text);
      after = `$${phase.toUpperCase().replace('-', '_')}_JOB`;
      continue;
    }
    writeFileSync(file, text);
    const id = sbatch(args);
    jobs.push({ phase, id, ...(shards ? { shards } : {}) });
    lines.push(`${phase}: job ${id}${shards ? ` (shards ${shards.join(',')} of ${record.shardCount})` : ''}`);
    after = id;
  }
  if (!dryRun) {
    writeFileSync(pipelineRecordPath(out), JSON.stringify({ ...record, jobs }, null, 2) + '\n');
    lines.push(`follow it with: latent-diff stats-status ${out}`);
  }
  return lines.join('\n') + '\n';
}
