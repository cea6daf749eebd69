/** The channel over worker_threads: a transport for either end, and a channel to a newly started worker. */
import { Worker } from 'node:worker_threads';
import { Channel, type ChannelEvent, type Transport } from './channel';

/** A Worker (host side) or parentPort (worker side). */
interface ThreadEndpoint {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

export function threadTransport(endpoint: ThreadEndpoint): Transport {
  return {
    post: (message) => endpoint.postMessage(message),
    listen(receive) {
      endpoint.on('message', receive);
      return () => endpoint.off('message', receive);
    },
  };
}

export interface WorkerChannel<Out extends ChannelEvent, In extends ChannelEvent> {
  worker: Worker;
  channel: Channel<Out, In>;
}

/**
 * Starts `script` on a new thread with a channel to it. When the thread dies (an uncaught error, or it
 * exits) the channel closes, its pending requests reject naming `name`, and `onDeath` runs once.
 */
export function startWorkerChannel<Out extends ChannelEvent, In extends ChannelEvent>(script: string, name: string, onDeath?: () => void): WorkerChannel<Out, In> {
  const worker = new Worker(script);
  const channel = new Channel<Out, In>(threadTransport(worker));
  let dead = false;
  const die = (reason: Error) => {
    if (dead) return;
    dead = true;
    channel.close(reason);
    onDeath?.();
  };
  worker.on('error', (e) => die(new Error(`the ${name} crashed: ${e.message}`)));
  worker.on('exit', (code) => die(new Error(`the ${name} exited (code ${code}) before answering`)));
  return { worker, channel };
}
