/**
 * A worker thread for one offline statistics job (its ORT sessions are synchronous native work). Separate
 * from the inference worker so editing and analysing stay responsive while a dataset is processed.
 */
import { parentPort } from 'node:worker_threads';
import { runStatsJob, StatsCancelledError } from '../analysis/stats/stats-job';
import { toErrorInfo } from '../errors';
import type { FromStatsWorker, ToStatsWorker } from './stats-protocol';

const port = parentPort!;
const controller = new AbortController();
const post = (m: FromStatsWorker) => port.postMessage(m);

port.on('message', (msg: ToStatsWorker) => {
  if (msg.type === 'cancel') {
    controller.abort();
    return;
  }
  runStatsJob(msg.options, {
    signal: controller.signal,
    onProgress: (progress) => post({ type: 'progress', progress }),
    onBadRecord: (record) => post({ type: 'bad-record', record }),
  }).then(
    (result) => post({ type: 'done', result }),
    (e) => post({ type: 'failed', error: toErrorInfo(e), cancelled: e instanceof StatsCancelledError }),
  );
});
