/** The worker thread of the channel test: the real worker_threads end of a channel, serving channel-requests.ts. */
import { parentPort } from 'node:worker_threads';
import { Channel, CancelledError } from '../../extension/engine/channel/channel';
import { threadTransport } from '../../extension/engine/channel/thread-transport';
import { LatentDiffError } from '../../extension/engine/errors';
import { Echo, Exit, Fail, Stream, UntilCancelled, type WorkerEvent } from './channel-requests';

const channel = new Channel<WorkerEvent, never>(threadTransport(parentPort!));
channel.handle(Echo, ({ text }) => ({ echoed: text.toUpperCase(), length: text.length }));
channel.handle(Fail, ({ file, problem, code }) => { throw new LatentDiffError(file, problem, code); });
channel.handle(Stream, ({ tag, count }, { emit }) => {
  for (let i = 0; i < count; i++) emit({ type: 'item', tag, i });
  return count;
});
channel.handle(UntilCancelled, ({ steps }, { emit, signal }) => new Promise<never>((_, reject) => {
  for (let n = 0; n < steps; n++) emit({ type: 'step', n });
  signal.addEventListener('abort', () => reject(new CancelledError('stopped at the cancel')), { once: true });
  emit({ type: 'waiting' });
}));
channel.handle(Exit, ({ code }) => process.exit(code));
channel.post({ type: 'hello', from: 'worker' });
