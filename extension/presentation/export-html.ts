/**
 * "Export Token View as HTML": a single self-contained file with the token panel's own renderer
 * (dist/webview/token-export.js) and stylesheet inlined and the data embedded as JSON. It opens in any
 * browser, offline, and runs nothing but its own nonce-tagged script. No vscode import.
 */
import type { TokenExportData } from '../protocol/messages';
import { escapeAttribute, makeNonce } from './webview-html';

/** JSON that can sit inside a <script> element: no "<" survives, so nothing can close the element. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function standaloneTokenHtml(data: TokenExportData, script: string, css: string): string {
  const nonce = makeNonce();
  const csp = `default-src 'none'; img-src data:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'`;
  const safeScript = script.replace(/<\/(script)/gi, '<\\/$1');
  const safeCss = css.replace(/<\/(style)/gi, '<\\/$1');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}">
<title>${escapeAttribute(data.title)}</title>
<style nonce="${nonce}">
${safeCss}
body { background: #fff; }
</style>
</head>
<body>
<div id="app"></div>
<script type="application/json" id="latent-diff-data">${scriptSafeJson(data)}</script>
<script nonce="${nonce}">
${safeScript}
</script>
</body>
</html>
`;
}
