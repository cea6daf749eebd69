/** Request and event types shared by the channel test and its worker thread (test/support/channel-worker.ts). */
import { requestType } from '../../extension/engine/channel/channel';

export const Echo = requestType<{ text: string }, { echoed: string; length: number }>('echo');
/** Throws LatentDiffError(file, problem, code). */
export const Fail = requestType<{ file: string; problem: string; code: string }, never>('fail');
/** Emits `{ type: 'step', n }` for n < steps, then `{ type: 'waiting' }`, and ends only when cancelled. */
export const UntilCancelled = requestType<{ steps: number }, never>('untilCancelled');
/** Emits `count` events tagged with `tag`, then replies with the count. */
export const Stream = requestType<{ tag: string; count: number }, number>('stream');
/** Ends the worker thread with this exit code. */
export const Exit = requestType<{ code: number }, never>('exit');

export type WorkerEvent = { type: 'step'; n: number } | { type: 'waiting' } | { type: 'item'; tag: string; i: number } | { type: 'hello'; from: string };
