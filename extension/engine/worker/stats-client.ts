/**
 * Runs one offline statistics job on its own worker thread (dist/stats-worker.js) and resolves with its
 * result. Aborting the signal makes the job write a checkpoint and reject with StatsCancelledError; the
 * thread ends with the job.
 */
import { StatsCancelledError } from '../analysis/stats/stats-cancelled';
import type { StatsJobHooks, StatsJobOptions, StatsJobResult } from '../analysis/stats/stats-job';
import { CancelledError } from '../channel/channel';
import { startWorkerChannel } from '../channel/thread-transport';
import { RunStats, type StatsEvent } from './stats-protocol';

export async function runStatsInWorker(workerScript: string, options: StatsJobOptions, hooks: Omit<StatsJobHooks, 'encoder' | 'tokenizer'> = {}): Promise<StatsJobResult> {
  const { worker, channel } = startWorkerChannel<never, StatsEvent>(workerScript, 'statistics worker');
  try {
    return await channel.request(RunStats, { options }, {
      signal: hooks.signal,
      onEvent: (e) => (e.type === 'progress' ? hooks.onProgress?.(e.progress) : hooks.onBadRecord?.(e.record)),
    });
  } catch (e) {
    throw e instanceof CancelledError ? new StatsCancelledError(options.out) : e;
  } finally {
    channel.close();
    void worker.terminate();
  }
}
