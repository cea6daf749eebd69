/**
 * Host side of a webview: options (scripts on, resources only from dist/webview and media), the CSP'd
 * shell, and the engine/channel Channel to it, which validates every incoming message before any handler
 * sees it.
 */
import * as vscode from 'vscode';
import { Channel, type ChannelEvent, type Transport } from '../engine/channel/channel';
import { ProtocolError, type MessageLimits, type RequestMessage } from '../protocol/validate';
import { log } from './log';
import { makeNonce, webviewHtml } from '../presentation/webview-html';

export type WebviewName = 'tokens' | 'latents' | 'latent' | 'generate';

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

export function setWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, name: WebviewName, title: string, bodyClass = ''): void {
  webview.options = webviewOptions(extensionUri);
  webview.html = webviewHtml({
    cspSource: webview.cspSource,
    nonce: makeNonce(),
    scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', `${name}.js`)).toString(),
    styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'webview.css')).toString(),
    title,
    bodyClass,
    l10n: vscode.l10n.bundle,
  });
}

export interface WebviewMessages<In> {
  parse(raw: unknown, limits: MessageLimits): In | RequestMessage;
  limits(): MessageLimits;
}

/**
 * The channel to a webview. Every incoming message passes `parse` (validate.ts, against the current limits)
 * before any handler or listener sees it; a rejected request is answered with the ProtocolError.
 */
function webviewChannel<Out extends ChannelEvent, In extends ChannelEvent>(webview: vscode.Webview, name: WebviewName, messages: WebviewMessages<In>): Channel<Out, In> {
  const transport: Transport = {
    post: (message) => void webview.postMessage(message),
    listen(receive) {
      const sub = webview.onDidReceiveMessage(receive);
      return () => sub.dispose();
    },
  };
  return new Channel<Out, In>(transport, {
    accept: (raw) => messages.parse(raw, messages.limits()),
    onRejected: (e) => {
      if (!(e instanceof ProtocolError)) throw e;
      log().warn(`${name} webview: ${e.message}`);
    },
    onListenerError: (e) => void vscode.window.showErrorMessage(vscode.l10n.t('Latent Diff: {0}', e.message)),
  });
}

export interface WebviewConnection<Out extends ChannelEvent, In extends ChannelEvent> extends vscode.Disposable {
  readonly channel: Channel<Out, In>;
}

/**
 * A webview's channel with its events going to `onEvent` and request handlers from `handlers`; all of it is
 * disposed when the webview is (`disposed`, after which `onGone` runs) or when the connection is.
 */
export function connectWebview<Out extends ChannelEvent, In extends ChannelEvent>(
  webview: vscode.Webview,
  name: WebviewName,
  messages: WebviewMessages<In>,
  on: { event: (m: In) => unknown; disposed: vscode.Event<void>; gone?: () => void; handlers?: (channel: Channel<Out, In>) => vscode.Disposable[] },
): WebviewConnection<Out, In> {
  const channel = webviewChannel<Out, In>(webview, name, messages);
  const subs: vscode.Disposable[] = [channel, channel.onEvent(on.event), ...(on.handlers?.(channel) ?? [])];
  const dispose = () => {
    for (const s of subs.splice(0)) s.dispose();
  };
  subs.push(on.disposed(() => {
    dispose();
    on.gone?.();
  }));
  return { channel, dispose };
}
