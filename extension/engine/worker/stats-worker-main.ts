/**
 * A worker thread for one offline statistics job (its ORT sessions are synchronous native work). Separate
 * from the inference worker so editing and analysing stay responsive while a dataset is processed.
 */
import { parentPort } from 'node:worker_threads';
import { runStatsJob } from '../analysis/stats/stats-job';
import { Channel } from '../channel/channel';
import { threadTransport } from '../channel/thread-transport';
import { RunStats, type StatsEvent } from './stats-protocol';

const channel = new Channel<StatsEvent, never>(threadTransport(parentPort!));
channel.handle(RunStats, ({ options }, { signal, emit }) => runStatsJob(options, {
  signal,
  onProgress: (progress) => emit({ type: 'progress', progress }),
  onBadRecord: (record) => emit({ type: 'badRecord', record }),
}));
