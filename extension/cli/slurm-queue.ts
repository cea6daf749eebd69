/** The Slurm client commands Latent Diff calls (sbatch, squeue), with errors that say what failed. */
import { spawnSync } from 'node:child_process';
import { LatentDiffError } from '../engine/errors';

function slurm(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) {
    const why = (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is not installed or not on PATH' : r.error.message;
    throw new LatentDiffError(undefined, `${cmd} ${why}: --slurm and stats-status need the Slurm client commands`, 'slurm');
  }
  if (r.status !== 0) throw new LatentDiffError(undefined, `${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout).trim()}`, 'slurm');
  return r.stdout;
}

/** Submits a batch script; returns the job id. */
export function sbatch(args: string[]): string {
  return slurm('sbatch', ['--parsable', ...args]).trim().split(';')[0];
}

/** This user's queued or running jobs and array tasks ("123" or "123_4") with their state. */
export function queuedJobs(): Map<string, string> {
  const jobs = new Map<string, string>();
  for (const line of slurm('squeue', ['-h', '-r', '--me', '-o', '%i|%T']).split('\n')) {
    const [id, state] = line.trim().split('|');
    if (id) jobs.set(id, state);
  }
  return jobs;
}

/** The queue state of a job, or of an array job's task. */
export function queueState(jobs: Map<string, string>, jobId: string, task?: number): string | undefined {
  return jobs.get(task === undefined ? jobId : `${jobId}_${task}`);
}
