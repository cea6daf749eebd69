/** Request and event types shared by the channel test and its worker thread (test/support/channel-worker.ts), and their handlers. */
import { CancelledError, requestType, type Channel } from '../../extension/engine/channel/channel';
import { LatentDiffError } from '../../extension/engine/errors';

export const Echo = requestType<{ text: string }, { echoed: string; length: number }>('echo');
/** Throws LatentDiffError(file, problem, code). */
export const Fail = requestType<{ file: string; problem: string; code: string }, never>('fail');
/** Emits `{ type: 'step', n }` for n < steps, then `{ type: 'waiting' }`, and ends only when cancelled. */
export const UntilCancelled = requestType<{ steps: number }, never>('untilCancelled');
/** Emits `count` events tagged with `tag`, then replies with the count. */
export const Stream = requestType<{ tag: string; count: number }, number>('stream');
/** Ends the worker thread with this exit code (served by the worker only). */
export const Exit = requestType<{ code: number }, never>('exit');

export type WorkerEvent = { type: 'step'; n: number } | { type: 'waiting' } | { type: 'item'; tag: string; i: number } | { type: 'hello'; from: string };

export function serveTestRequests<In extends { type: string; id?: never }>(channel: Channel<WorkerEvent, In>): void {
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
}
