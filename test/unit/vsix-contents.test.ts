/**
 * The packaged extension against an allow-list: `npm run package`'s code builds the linux-x64 and win32-arm64
 * VSIX files (vsce, offline) and every entry must match one allow-list pattern, each target must hold only its
 * own platform's ONNX Runtime binaries, what the extension loads at run time must be there, and the size the
 * README states must be the linux-x64 VSIX's size. The linux-x64 VSIX, extracted, must run: its own
 * onnxruntime-node (in a separate Node process) loads the demo model it ships and runs it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ORT_BINARIES, packageTarget, TARGETS, vsixName } from '../../scripts/package-vsix';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { extractZipEntry, readZipDirectory } from '../../extension/engine/runtime/zip-reader';

const ROOT = resolve(import.meta.dirname, '../..');
const ORT = ORT_BINARIES.replace(/\//g, '\\/');

function allowList(binaries: string): RegExp[] {
  const platformBinaries = new RegExp(`^extension/${ORT}/${binaries.replace('/', '\\/')}/[^/]+$`);
  return [
    /^\[Content_Types\]\.xml$/,
    /^extension\.vsixmanifest$/,
    /^extension\/(package\.json|package\.nls\.json|readme\.md|changelog\.md|LICENSE\.txt)$/,
    /^extension\/l10n\/bundle\.l10n(\.[a-z-]+)?\.json$/,
    /^extension\/dist\/(extension|worker|stats-worker)\.js$/,
    /^extension\/dist\/node-sqlite3-wasm\.wasm$/,
    /^extension\/dist\/webview\/[a-z-]+\.js$/,
    /^extension\/media\/[a-z-]+\.(svg|css|png)$/,
    /^extension\/schemas\/[a-z-]+\.schema\.json$/,
    /^extension\/walkthrough\/[a-z-]+\.md$/,
    /^extension\/models\/samples\/[a-z.-]+$/,
    /^extension\/models\/demo\/(bundle\.json|base\.onnx|chat\.onnx|base-second-half\.onnx|chat-second-half\.onnx|tokenizer\.json|tokenizer_config\.json|feature_df\.csv|examples\.db)$/,
    /^extension\/models\/demo\/crosscoder\/(model\.safetensors|config\.json|trainer_config\.json)$/,
    /^extension\/node_modules\/onnxruntime-node\/(package\.json|dist\/[a-z-]+\.js)$/,
    /^extension\/node_modules\/onnxruntime-common\/(package\.json|dist\/cjs\/([a-z-]+\.js|package\.json))$/,
    platformBinaries,
  ];
}

const REQUIRED = [
  'extension/package.json',
  'extension/l10n/bundle.l10n.json',
  'extension/LICENSE.txt',
  'extension/changelog.md',
  'extension/media/icon.png',
  'extension/dist/extension.js',
  'extension/dist/worker.js',
  'extension/dist/stats-worker.js',
  'extension/models/demo/bundle.json',
  'extension/models/demo/tokenizer.json',
  'extension/models/demo/crosscoder/model.safetensors',
  'extension/node_modules/onnxruntime-node/dist/index.js',
  'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
  'extension/node_modules/onnxruntime-common/dist/cjs/package.json',
];

const out = mkdtempSync(join(tmpdir(), 'latent-diff-vsix-test-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

for (const target of ['linux-x64', 'win32-arm64']) {
  test(`the ${target} VSIX holds only allow-listed files, with its own platform's ONNX Runtime binaries`, async () => {
    const vsix = packageTarget(target, out);
    const names = (await readZipDirectory(vsix)).map((e) => e.name);
    const allowed = allowList(TARGETS[target]);
    const outside = names.filter((n) => !allowed.some((re) => re.test(n)));
    assert.deepEqual(outside, [], `outside the allow-list: ${outside.join(', ')}`);
    for (const file of REQUIRED) assert.ok(names.includes(file), `${file} is missing`);
    const shipped = names.filter((n) => n.startsWith(`extension/${ORT_BINARIES}/`)).map((n) => n.slice(`extension/${ORT_BINARIES}/`.length)).sort();
    const expected = readdirSync(join(ROOT, ORT_BINARIES, TARGETS[target])).map((f) => `${TARGETS[target]}/${f}`).sort();
    assert.deepEqual(shipped, expected);
    assert.ok(!names.some((n) => n.endsWith('.map')), 'no source maps');
  });
}

test('the README states the linux-x64 VSIX size (within 1 MiB)', () => {
  const vsix = join(out, vsixName('linux-x64'));
  const mib = statSync(vsix).size / 2 ** 20;
  const stated = /linux-x64 VSIX is about (\d+(?:\.\d+)?) MiB/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(stated, 'README.md has no "linux-x64 VSIX is about N MiB" sentence');
  assert.ok(Math.abs(Number(stated[1]) - mib) <= 1, `README says ${stated[1]} MiB, the VSIX is ${mib.toFixed(1)} MiB`);
});

test('the extracted linux-x64 VSIX runs the demo base model with its own onnxruntime-node', { skip: process.platform !== 'linux' || process.arch !== 'x64' }, async () => {
  const dir = join(out, 'extracted');
  const vsix = join(out, vsixName('linux-x64'));
  for (const entry of await readZipDirectory(vsix)) {
    if (entry.name.endsWith('/')) continue;
    mkdirSync(dirname(join(dir, entry.name)), { recursive: true });
    await extractZipEntry(vsix, entry, join(dir, entry.name));
  }
  const ext = join(dir, 'extension');
  const script = `
    const ort = require(${JSON.stringify(join(ext, 'node_modules', 'onnxruntime-node'))});
    const bundle = require(${JSON.stringify(join(ext, 'models', 'demo', 'bundle.json'))});
    (async () => {
      const s = await ort.InferenceSession.create(${JSON.stringify(join(ext, 'models', 'demo'))} + '/' + bundle.base.onnx);
      const ids = new ort.Tensor('int64', BigInt64Array.from([2n, 651n, 1645n]), [1, 3]);
      const r = await s.run({ [bundle.base.inputs.inputIds]: ids });
      process.stdout.write(JSON.stringify(r[bundle.base.output].dims));
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: dir });
  assert.equal(r.status, 0, r.stderr);
  const bundle = JSON.parse(readFileSync(join(ext, 'models', 'demo', 'bundle.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), [1, 3, bundle.dModel]);
  // Every file the shipped demo bundle names is shipped (its second halves included): the bundle validates.
  const shipped = loadBundle(join(ext, 'models', 'demo'));
  assert.ok(shipped.chat.kind === 'onnx' && shipped.chat.secondHalf, 'the shipped demo bundle has its second halves');
});
