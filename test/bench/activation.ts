/**
 * Extension activation cost (SPEC 9: < 50 ms): loading dist/extension.js and running activate() against a
 * stand-in `vscode` module whose every API call is a no-op, in a fresh Node process per run. This measures
 * our own module evaluation and wiring (what the budget is about: nothing heavy at activation); VS Code's
 * own work to register contributions is not included. `npm run bench activation [-- --reps N]`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { median, type Bench } from './bench';

const ROOT = join(__dirname, '..', '..');

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
  'MarkdownString', 'Hover'];
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

export const bench: Bench = {
  name: 'activation',
  description: 'extension activation: load dist/extension.js + activate() with a no-op vscode stand-in (budget 50 ms)',
  default: true,
  async run(args) {
    const entry = join(ROOT, 'dist', 'extension.js');
    if (!existsSync(entry)) throw new Error('dist/extension.js is missing: run npm run build first');
    const i = args.indexOf('--reps');
    const reps = i >= 0 ? Math.max(1, Number(args[i + 1]) || 7) : 7;
    const runs: { load: number; activate: number; heavyModules: number; subscriptions: number }[] = [];
    for (let r = 0; r < reps; r++) {
      runs.push(JSON.parse(execFileSync(process.execPath, ['-e', CHILD, ROOT], { encoding: 'utf8' })));
    }
    const load = median(runs.map((x) => x.load));
    const activate = median(runs.map((x) => x.activate));
    console.log(`activation, median of ${reps} fresh processes:`);
    console.log(`  require dist/extension.js   ${load.toFixed(1)} ms`);
    console.log(`  activate()                  ${activate.toFixed(1)} ms`);
    console.log(`  total                       ${(load + activate).toFixed(1)} ms  (${((load + activate) / 50).toFixed(2)} x the 50 ms budget)`);
    console.log(`  heavy modules loaded (ORT, tokenizers, SQLite): ${runs[0].heavyModules}; disposables registered: ${runs[0].subscriptions}`);
  },
};
