/**
 * One typed request/reply channel for every boundary: host <-> inference worker, host <-> statistics worker,
 * host <-> webviews. Free of vscode, Node and DOM APIs; a Transport adapts it to a worker thread or a webview.
 *
 * A request type ties its params to its reply (`request(Analyze, params)` is a Promise of Analyze's reply
 * type, and a handler registered for Analyze must return it). Requests carry ids; replies are ok or an
 * ErrorInfo (so a LatentDiffError survives the boundary); aborting a request's signal sends a cancel that
 * aborts the handler's signal, and the request settles with the handler's answer. Events are messages
 * discriminated by `type`: fire-and-forget, or sent by a handler for its request (progress, streamed tokens),
 * in which case they carry the request id and reach only that request's listener.
 *
 * On the wire everything is flat structured-clone data: a request is its params spread with `type:
 * 'request'`, `id` and `method`; a reply is `{ type: 'reply', id, ok, result | error }`; a cancel is
 * `{ type: 'cancelRequest', id }`; an event is itself, plus `id` when it belongs to a request. So params may
 * not use the keys type, id and method, and event types may not be request, reply or cancelRequest.
 */
import { fromErrorInfo, toErrorInfo, type ErrorInfo } from '../errors';

export interface Transport {
  post(message: unknown): void;
  /** Starts delivering incoming messages to `receive`; the returned function stops it. */
  listen(receive: (message: unknown) => void): () => void;
}

export interface Disposable {
  dispose(): void;
}

/** An event: a message discriminated by `type` (its `id` is the channel's). */
export interface ChannelEvent {
  type: string;
  id?: never;
}

/** Names a request; the phantom signature ties params P to reply R at compile time. */
export interface RequestType<P, R> {
  readonly method: string;
  readonly signature?: (params: P) => R;
}

export function requestType<P extends object, R>(method: string): RequestType<P, R> {
  return { method };
}

export type ParamsOf<T> = T extends RequestType<infer P, unknown> ? P : never;

/** A request stopped on request (its signal was aborted). */
export class CancelledError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'CancelledError';
  }
}

export interface RequestOptions<In> {
  /** Aborting sends a cancel; the request then settles with the handler's answer (usually CancelledError). */
  signal?: AbortSignal;
  /** Events the handler sends for this request (progress, streamed tokens), until the request settles. */
  onEvent?: (event: In) => unknown;
}

export interface RequestContext<Out> {
  readonly id: number;
  /** Aborted when the requester cancels or the channel closes. */
  readonly signal: AbortSignal;
  /** Sends an event that belongs to this request. */
  emit(event: Out): void;
}

export type RequestHandler<P, R, Out> = (params: P, context: RequestContext<Out>) => R | Promise<R>;

export interface ChannelOptions {
  /**
   * For an untrusted peer: validates every incoming message, returning it or throwing. Nothing it rejects
   * reaches a handler or listener; a rejected request (one with an integer id) is answered with the error.
   */
  accept?: (raw: unknown) => unknown;
  /** Told about each message accept() rejected. */
  onRejected?: (error: Error) => void;
  /** Told about an event listener that threw or rejected; without it the error propagates. */
  onListenerError?: (error: Error) => void;
}

type Reply = { type: 'reply'; id: number; ok: true; result: unknown } | { type: 'reply'; id: number; ok: false; error: ErrorInfo };
type WireRequest = { type: 'request'; id: number; method: string } & Record<string, unknown>;

interface Pending<In> {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onEvent?: (event: In) => unknown;
}

const CANCELLED_CODE = 'cancelled';

function errorInfoOf(e: unknown): ErrorInfo {
  return e instanceof CancelledError ? { message: e.message, code: CANCELLED_CODE } : toErrorInfo(e);
}

function errorOf(info: ErrorInfo): Error {
  return info.code === CANCELLED_CODE ? new CancelledError(info.message) : fromErrorInfo(info);
}

function requestIdOf(raw: unknown): number | undefined {
  const m = raw as { type?: unknown; id?: unknown } | null;
  return typeof m === 'object' && m !== null && m.type === 'request' && Number.isSafeInteger(m.id) ? (m.id as number) : undefined;
}

/** One end of a channel: sends events `Out` and requests, receives events `In` and requests. */
export class Channel<Out extends ChannelEvent, In extends ChannelEvent> implements Disposable {
  private nextId = 1;
  private readonly pending = new Map<number, Pending<In>>();
  private readonly handlers = new Map<string, RequestHandler<never, unknown, Out>>();
  private readonly running = new Map<number, AbortController>();
  private readonly listeners = new Set<(event: In) => unknown>();
  private readonly stopListening: () => void;
  private closedBy: Error | undefined;

  constructor(private readonly transport: Transport, private readonly options: ChannelOptions = {}) {
    this.stopListening = transport.listen((raw) => this.receive(raw));
  }

  request<P, R>(type: RequestType<P, R>, params: P, options: RequestOptions<In> = {}): Promise<R> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const { signal, onEvent } = options;
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const cancel = () => { if (this.pending.has(id)) this.transport.post({ type: 'cancelRequest', id }); };
      const settled = () => signal?.removeEventListener('abort', cancel);
      this.pending.set(id, {
        resolve: (value) => { settled(); resolve(value as R); },
        reject: (error) => { settled(); reject(error); },
        onEvent,
      });
      signal?.addEventListener('abort', cancel, { once: true });
      try {
        this.transport.post({ ...params, type: 'request', id, method: type.method });
      } catch (e) {
        this.pending.delete(id);
        settled();
        reject(e);
      }
    });
  }

  /** Registers the one handler of a request type; what it returns (or throws) becomes the reply. */
  handle<P, R>(type: RequestType<P, R>, handler: RequestHandler<P, R, Out>): Disposable {
    if (this.handlers.has(type.method)) throw new Error(`a handler for request "${type.method}" is already registered`);
    this.handlers.set(type.method, handler as RequestHandler<never, unknown, Out>);
    return { dispose: () => { if (this.handlers.get(type.method) === handler) this.handlers.delete(type.method); } };
  }

  /** Sends a fire-and-forget event. */
  post(event: Out): void {
    if (!this.closedBy) this.transport.post(event);
  }

  /** Listens to the events that belong to no request. */
  onEvent(listener: (event: In) => unknown): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Stops listening; pending requests reject with `reason`, running handlers see their signal abort. */
  close(reason: Error = new CancelledError()): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    this.stopListening();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(reason);
    for (const c of this.running.values()) c.abort();
    this.running.clear();
  }

  dispose(): void {
    this.close();
  }

  private receive(raw: unknown): void {
    let message: unknown;
    try {
      message = this.options.accept ? this.options.accept(raw) : raw;
    } catch (e) {
      this.options.onRejected?.(e as Error);
      const id = requestIdOf(raw);
      if (id !== undefined) this.reply({ type: 'reply', id, ok: false, error: errorInfoOf(e) });
      return;
    }
    const m = message as { type?: unknown; id?: unknown } | null;
    if (typeof m !== 'object' || m === null || typeof m.type !== 'string') return;
    switch (m.type) {
      case 'request':
        void this.serve(m as WireRequest);
        return;
      case 'reply':
        this.settle(m as Reply);
        return;
      case 'cancelRequest':
        this.running.get(m.id as number)?.abort();
        return;
      default:
        this.deliver(m as In & { id?: number });
    }
  }

  private async serve(message: WireRequest): Promise<void> {
    const { type: _type, id, method, ...params } = message;
    const handler = this.handlers.get(method);
    if (!handler) {
      this.reply({ type: 'reply', id, ok: false, error: { message: `no handler for request "${method}"`, code: 'internal' } });
      return;
    }
    const controller = new AbortController();
    this.running.set(id, controller);
    const context: RequestContext<Out> = {
      id,
      signal: controller.signal,
      emit: (event) => { if (this.running.get(id) === controller) this.transport.post({ ...event, id }); },
    };
    let reply: Reply;
    try {
      reply = { type: 'reply', id, ok: true, result: await (handler as RequestHandler<unknown, unknown, Out>)(params, context) };
    } catch (e) {
      reply = { type: 'reply', id, ok: false, error: errorInfoOf(e) };
    } finally {
      if (this.running.get(id) === controller) this.running.delete(id);
    }
    try {
      this.reply(reply);
    } catch (e) {
      // A result the transport cannot carry (not structured-clone data) is answered as an error.
      this.reply({ type: 'reply', id, ok: false, error: errorInfoOf(e) });
    }
  }

  private reply(reply: Reply): void {
    if (!this.closedBy) this.transport.post(reply);
  }

  /** Replies for unknown ids (settled, or never asked) are ignored. */
  private settle(reply: Reply): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(errorOf(reply.error));
  }

  private deliver(message: In & { id?: number }): void {
    if (message.id === undefined) {
      for (const l of this.listeners) this.call(l, message);
      return;
    }
    const { id, ...event } = message;
    const onEvent = this.pending.get(id)?.onEvent;
    if (onEvent) this.call(onEvent, event as unknown as In);
  }

  private call(listener: (event: In) => unknown, event: In): void {
    const report = this.options.onListenerError;
    if (!report) {
      void listener(event);
      return;
    }
    try {
      const r = listener(event);
      if (r instanceof Promise) r.catch((e: Error) => report(e));
    } catch (e) {
      report(e as Error);
    }
  }
}
