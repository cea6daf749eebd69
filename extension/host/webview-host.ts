/**
 * Host side of a webview: options (scripts on, resources only from dist/webview and media), the CSP'd
 * shell, and a message pump that validates every incoming message before any handler sees it and answers
 * requests with replies carrying their id.
 */
import * as vscode from 'vscode';
import type { Reply, Request } from '../protocol/messages';
import { ProtocolError, type MessageLimits } from '../protocol/validate';
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

export interface MessagePump<M> {
  parse(raw: unknown, limits: MessageLimits): M;
  limits(): MessageLimits;
  /** Handles a validated message; for requests, the returned value (or thrown error) becomes the reply. */
  handle(message: M): unknown;
}

export function pumpMessages<M extends { type: string }>(webview: vscode.Webview, name: WebviewName, pump: MessagePump<M>): vscode.Disposable {
  return webview.onDidReceiveMessage(async (raw: unknown) => {
    let message: M;
    try {
      message = pump.parse(raw, pump.limits());
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      log().warn(`${name} webview: ${e.message}`);
      const id = (raw as { type?: unknown; id?: unknown } | null)?.id;
      if ((raw as { type?: unknown } | null)?.type === 'request' && typeof id === 'number' && Number.isSafeInteger(id)) {
        void webview.postMessage({ type: 'reply', id, ok: false, error: e.message } satisfies Reply);
      }
      return;
    }
    if (message.type !== 'request') {
      try {
        await pump.handle(message);
      } catch (e) {
        void vscode.window.showErrorMessage(vscode.l10n.t('Latent Diff: {0}', (e as Error).message));
      }
      return;
    }
    const id = (message as unknown as Request).id;
    try {
      const result = await pump.handle(message);
      void webview.postMessage({ type: 'reply', id, ok: true, result: result ?? null } satisfies Reply);
    } catch (e) {
      void webview.postMessage({ type: 'reply', id, ok: false, error: (e as Error).message } satisfies Reply);
    }
  });
}
