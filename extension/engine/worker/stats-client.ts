/**
 * Runs one offline statistics job on its own worker thread (dist/stats-worker.js) and resolves with its
 * result. Aborting the signal makes the job write a checkpoint and reject with StatsCancelledError; the
 * thread ends with the job.
 */
import { Worker } from 'node:worker_threads';
import { StatsCancelledError } from '../analysis/stats/stats-cancelled';
import type { StatsJobHooks, StatsJobOptions, StatsJobResult } from '../analysis/stats/stats-job';
import { fromErrorInfo } from '../errors';
import type { FromStatsWorker, ToStatsWorker } from './stats-protocol';

export function runStatsInWorker(workerScript: string, options: StatsJobOptions, hooks: Omit<StatsJobHooks, 'encoder' | 'tokenizer'> = {}): Promise<StatsJobResult> {
  return new Promise<StatsJobResult>((resolve, reject) => {
    const worker = new Worker(workerScript);
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      void worker.terminate();
      f();
    };
    const onAbort = () => worker.postMessage({ type: 'cancel' } satisfies ToStatsWorker);
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: FromStatsWorker) => {
      switch (m.type) {
        case 'progress':
          hooks.onProgress?.(m.progress);
          return;
        case 'bad-record':
          hooks.onBadRecord?.(m.record);
          return;
        case 'done':
          return finish(() => resolve(m.result));
        case 'failed':
          return finish(() => reject(m.cancelled ? new StatsCancelledError(options.out) : fromErrorInfo(m.error)));
      }
    });
    worker.on('error', (e) => finish(() => reject(new Error(`the statistics worker crashed: ${e.message}`))));
    worker.on('exit', (code) => finish(() => reject(new Error(`the statistics worker exited (code ${code}) before finishing`))));
    worker.postMessage({ type: 'run', options } satisfies ToStatsWorker);
    if (hooks.signal?.aborted) onAbort();
  });
}
