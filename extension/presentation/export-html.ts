/**
 * "Export Token View as HTML": a single self-contained file with the token panel's own renderer
 * (dist/webview/token-export.js) and stylesheet inlined and the data embedded as JSON. It opens in any
 * browser, offline, and runs nothing but its own nonce-tagged script. Its strings are the UI's language when
 * exported from VS Code (`l10n`: vscode.l10n.bundle), English from the CLI. No vscode import.
 */
import type { TokenExportData } from '../protocol/messages';
import type { L10nContents } from '../protocol/l10n';
import { escapeAttribute, l10nDataElement, makeNonce, scriptSafeJson } from './webview-html';

export function standaloneTokenHtml(data: TokenExportData, script: string, css: string, l10n?: L10nContents): string {
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
${l10nDataElement(l10n)}
<script nonce="${nonce}">
${safeScript}
</script>
</body>
</html>
`;
}
