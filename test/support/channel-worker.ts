/** The worker thread of the channel test: the real worker_threads end of a channel, serving channel-requests.ts. */
import { parentPort } from 'node:worker_threads';
import { Channel } from '../../extension/engine/channel/channel';
import { threadTransport } from '../../extension/engine/channel/thread-transport';
import { Exit, serveTestRequests, type WorkerEvent } from './channel-requests';

const channel = new Channel<WorkerEvent, never>(threadTransport(parentPort!));
serveTestRequests(channel);
channel.handle(Exit, ({ code }) => process.exit(code));
channel.post({ type: 'hello', from: 'worker' });
