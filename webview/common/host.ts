/**
 * The webview side of the host connection: typed post/receive, request/reply with ids, and persisted
 * state. In VS Code `acquireVsCodeApi` is injected by the workbench; the Chromium tests inject a fake one.
 */
import type { Reply, RequestBody } from '../../extension/protocol/messages';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

export interface HostConnection<ToHost, FromHost, State> {
  post(message: ToHost): void;
  onMessage(handler: (message: FromHost) => void): void;
  request(body: RequestBody): Promise<unknown>;
  getState(): State | undefined;
  setState(state: State): void;
}

export function connectToHost<ToHost, FromHost extends { type: string }, State>(): HostConnection<ToHost, FromHost, State> {
  const api = acquireVsCodeApi();
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  return {
    post: (message) => api.postMessage(message),
    onMessage(handler) {
      window.addEventListener('message', (event: MessageEvent) => {
        const message = event.data as FromHost | Reply;
        if (!message || typeof message !== 'object') return;
        if (message.type === 'reply') {
          const reply = message as Reply;
          const waiter = pending.get(reply.id);
          if (!waiter) return;
          pending.delete(reply.id);
          if (reply.ok) waiter.resolve(reply.result);
          else waiter.reject(new Error(reply.error));
          return;
        }
        handler(message as FromHost);
      });
    },
    request(body) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        api.postMessage({ type: 'request', id, ...body });
      });
    },
    getState: () => (api.getState() as State | undefined) ?? undefined,
    setState: (state) => api.setState(state),
  };
}
