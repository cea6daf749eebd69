/**
 * The HTML shell of every Latent Diff webview: a strict Content-Security-Policy (nothing but the
 * extension's own stylesheet and one nonce-tagged script from the extension), an empty #app the script
 * fills. No vscode import, so the Chromium tests load exactly the same page.
 */
import { randomBytes } from 'node:crypto';

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
<script nonce="${a(o.nonce)}" src="${a(o.scriptUri)}"></script>
</body>
</html>
`;
}
