// Test aid for the end-to-end harness (never shipped): a local HTTP endpoint in the extension host that runs
// VS Code commands and reports the visible editors, so tests can read state the DOM cannot show. It writes
// its port to $LATENT_DIFF_PROBE_DIR/port; without that variable it does nothing.
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');

let server;

function editors() {
  return vscode.window.visibleTextEditors.map((e) => ({
    uri: e.document.uri.toString(),
    fsPath: e.document.uri.fsPath,
    languageId: e.document.languageId,
    active: e === vscode.window.activeTextEditor,
    selection: { start: e.selection.start, end: e.selection.end },
  }));
}

async function handle(req) {
  switch (req.op) {
    case 'ping':
      return { pid: process.pid };
    case 'command':
      return (await vscode.commands.executeCommand(req.command, ...(req.args ?? []))) ?? null;
    case 'commands':
      return (await vscode.commands.getCommands(true)).filter((c) => c.startsWith(req.prefix ?? ''));
    case 'editors':
      return editors();
    case 'open':
      await vscode.window.showTextDocument(vscode.Uri.file(req.path));
      return editors();
    default:
      throw new Error(`unknown op ${JSON.stringify(req.op)}`);
  }
}

function activate(context) {
  const dir = process.env.LATENT_DIFF_PROBE_DIR;
  if (!dir) return;
  server = http.createServer((request, response) => {
    let body = '';
    request.on('data', (c) => (body += c));
    request.on('end', async () => {
      let reply;
      try {
        reply = { ok: true, result: await handle(JSON.parse(body)) };
      } catch (e) {
        reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(reply));
    });
  });
  server.listen(0, '127.0.0.1', () => {
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `port.${process.pid}.tmp`);
    fs.writeFileSync(tmp, JSON.stringify({ port: server.address().port, pid: process.pid }));
    fs.renameSync(tmp, path.join(dir, 'port'));
  });
  context.subscriptions.push({ dispose: () => server.close() });
}

function deactivate() {
  server?.close();
}

module.exports = { activate, deactivate };
