/**
 * Loads dist/extension.js and runs activate() in a fresh Node process against a stand-in `vscode` module
 * whose every API call is a no-op, and reports what that cost and which heavy modules it loaded. Used by
 * the activation benchmark (times) and a unit test (nothing heavy at activation).
 */
import { execFileSync } from 'node:child_process';

export interface ActivationProbe {
  load: number;
  activate: number;
  /** Files of onnxruntime-node (the one runtime dependency left outside the bundle) in require.cache. */
  heavyModules: number;
  subscriptions: number;
}

/** Runs in the child: installs the stand-in module, then times require + activate. */
const CHILD = String.raw`
const Module = require('module');
const { performance } = require('perf_hooks');
const stub = new Proxy(function () {}, {
  get: (_t, key) => (key === Symbol.toPrimitive ? () => '' : key === 'then' ? undefined : stub),
  apply: () => stub,
  construct: () => stub,
  set: () => true,
  defineProperty: () => true,
});
const NAMES = ['workspace', 'window', 'commands', 'languages', 'env', 'Uri', 'EventEmitter', 'Range', 'Position', 'Selection',
  'ViewColumn', 'ProgressLocation', 'StatusBarAlignment', 'DecorationRangeBehavior', 'TextEditorRevealType', 'ConfigurationTarget',
  'MarkdownString', 'Hover', 'ThemeColor', 'l10n'];
const vscodeModule = new Proxy({}, {
  get: () => stub,
  ownKeys: () => NAMES,
  getOwnPropertyDescriptor: () => ({ value: stub, enumerable: true, configurable: true, writable: true }),
});
const realLoad = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? vscodeModule : realLoad.call(this, request, ...rest); };
const context = { subscriptions: [], extensionUri: stub, globalStorageUri: { fsPath: '/tmp' }, asAbsolutePath: (p) => require('path').join(process.argv[1], p) };
const t0 = performance.now();
const ext = require(require('path').join(process.argv[1], 'dist', 'extension.js'));
const t1 = performance.now();
ext.activate(context);
const t2 = performance.now();
const loaded = Object.keys(require.cache).filter((k) => /onnxruntime|tokenizers|sqlite/.test(k));
process.stdout.write(JSON.stringify({ load: t1 - t0, activate: t2 - t1, heavyModules: loaded.length, subscriptions: context.subscriptions.length }));
process.exit(0);
`;


export function probeActivation(root: string): ActivationProbe {
  return JSON.parse(execFileSync(process.execPath, ['-e', CHILD, root], { encoding: 'utf8' }));
}
