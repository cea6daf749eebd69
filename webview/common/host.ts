/**
 * The webview side of the host connection: an engine/channel Channel over the VS Code webview API (events
 * both ways, typed requests to the host), plus persisted state. In VS Code `acquireVsCodeApi` is injected by
 * the workbench; the Chromium tests inject a fake one.
 */
import { Channel, type ChannelEvent, type Transport } from '../../extension/engine/channel/channel';

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

function webviewTransport(api: VsCodeApi): Transport {
  return {
    post: (message) => api.postMessage(message),
    listen(receive) {
      const listener = (event: MessageEvent) => receive(event.data);
      window.addEventListener('message', listener);
      return () => window.removeEventListener('message', listener);
    },
  };
}

export class HostConnection<ToHost extends ChannelEvent, FromHost extends ChannelEvent, State> extends Channel<ToHost, FromHost> {
  constructor(private readonly api: VsCodeApi) {
    super(webviewTransport(api));
  }

  getState(): State | undefined {
    return (this.api.getState() as State | undefined) ?? undefined;
  }

  setState(state: State): void {
    this.api.setState(state);
  }
}

export function connectToHost<ToHost extends ChannelEvent, FromHost extends ChannelEvent, State>(): HostConnection<ToHost, FromHost, State> {
  return new HostConnection(acquireVsCodeApi());
}
