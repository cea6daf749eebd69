/**
 * The HTML shell of every Latent Diff webview: a strict Content-Security-Policy (nothing but the
 * extension's own stylesheet and one nonce-tagged script from the extension), the UI's translated strings as
 * JSON data (not a script: nothing runs it), an empty #app the script fills. No vscode import, so the
 * Chromium tests load exactly the same page.
 */
import { randomBytes } from 'node:crypto';
import type { L10nContents } from '../protocol/l10n';

export interface WebviewShell {
  /** webview.cspSource: the origin the webview serves extension files from. */
  cspSource: string;
  nonce: string;
  /** webview.asWebviewUri(dist/webview/<name>.js). */
  scriptUri: string;
  /** webview.asWebviewUri(media/webview.css). */
  styleUri: string;
  title: string;
  bodyClass?: string;
  /** vscode.l10n.bundle: the translated strings (undefined: English). */
  l10n?: L10nContents;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

/** JSON that can sit inside a <script> element: no "<" survives, so nothing can close the element. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The translated strings as a JSON data block, read by webview/common/l10n.ts. */
export function l10nDataElement(l10n: L10nContents | undefined): string {
  return `<script type="application/json" id="latent-diff-l10n">${scriptSafeJson(l10n ?? {})}</script>`;
}

export function escapeAttribute(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function webviewHtml(o: WebviewShell): string {
  const a = escapeAttribute;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${a(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${a(o.styleUri)}">
<title>${a(o.title)}</title>
</head>
<body class="${a(o.bodyClass ?? '')}">
<div id="app"></div>
${l10nDataElement(o.l10n)}
<script nonce="${a(o.nonce)}" src="${a(o.scriptUri)}"></script>
</body>
</html>
`;
}
