/**
 * `--shard auto`: a batch system's task index and count as the shard i/n. Slurm job arrays give
 * SLURM_ARRAY_TASK_ID/_COUNT/_MIN/_MAX/_STEP; ID/COUNT is a shard i/n only for `--array=0-(n-1)` (an array such as
 * 0,2,9 gives COUNT=3), so without `--shard-count` the array must be exactly that. Kubernetes Indexed Jobs give
 * JOB_COMPLETION_INDEX and need `--shard-count` (the pod does not see the completion count).
 */
import { UsageError } from './args';

export interface Shard {
  index: number;
  count: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--shard auto: ${name} is "${v}", not a task index`);
  return Number(v);
}

export function autoShard(env: NodeJS.ProcessEnv, shardCount?: number): Shard {
  const checked = (index: number, count: number, source: string): Shard => {
    if (index >= count) throw new UsageError(`--shard auto: ${source} gives task ${index}, but there are only ${count} shards (--shard-count ${count})`);
    return { index, count };
  };
  const slurmId = intVar(env, 'SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    if (shardCount !== undefined) return checked(slurmId, shardCount, 'SLURM_ARRAY_TASK_ID');
    const [count, min, max, step] = ['COUNT', 'MIN', 'MAX', 'STEP'].map((k) => intVar(env, `SLURM_ARRAY_TASK_${k}`));
    if (count === undefined) throw new UsageError('--shard auto: SLURM_ARRAY_TASK_COUNT is not set; give --shard-count N');
    if (min !== 0 || max !== count - 1 || (step ?? 1) !== 1) {
      throw new UsageError(`--shard auto: this job array is not --array=0-${count - 1} (min ${min}, max ${max}, step ${step ?? 1}, ${count} tasks), so the task index is no shard of ${count}: give --shard-count N`);
    }
    return checked(slurmId, count, 'SLURM_ARRAY_TASK_ID');
  }
  const k8sIndex = intVar(env, 'JOB_COMPLETION_INDEX');
  if (k8sIndex !== undefined) {
    if (shardCount === undefined) throw new UsageError('--shard auto: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) needs --shard-count N, the number of completions');
    return checked(k8sIndex, shardCount, 'JOB_COMPLETION_INDEX');
  }
  throw new UsageError('--shard auto: not inside a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX): give --shard i/n');
}
