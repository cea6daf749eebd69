/**
 * NaN or Inf weights are errors, never silent numbers: a crosscoder with a non-finite weight is refused
 * when its metrics are computed (the metrics graph's per-latent sums expose it; which tensor, which latent),
 * and a model whose residual stream goes non-finite is refused per analysis, in the engine and in the built
 * CLI (exit 1), naming the model file and the token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { computeLatentMetrics } from '../../extension/engine/latents/metrics';
import { GraphBuilder, DT } from '../../extension/engine/graphs/onnx-builder';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { LatentDiffError } from '../../extension/engine/errors';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { demoBundleJsonElsewhere, randomFloats, tempDir, writeDLCrosscoder } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');

function withValueAt(shape: number[], index: number, value: number, seed: number) {
  const data = randomFloats(shape.reduce((a, b) => a * b, 1), seed);
  data[index] = value;
  return { dtype: 'F32' as const, shape, data };
}

test('a crosscoder with NaN or Inf in a weight or bias is refused, naming the tensor and where', async () => {
  const d = 8;
  const D = 32;
  const cases: [string, Record<string, ReturnType<typeof withValueAt>>, RegExp][] = [
    // decoder.weight [2, D, d]: chat half, latent 5
    ['decoder-nan', { 'decoder.weight': withValueAt([2, D, d], (D + 5) * d + 3, NaN, 3) }, /tensor "decoder\.weight" holds non-finite values .*first in latent 5/],
    // encoder.weight [2, d, D]: base half, row 2, latent 17
    ['encoder-inf', { 'encoder.weight': withValueAt([2, d, D], 2 * D + 17, Infinity, 1) }, /tensor "encoder\.weight" holds non-finite values .*first in latent 17/],
    ['encoder-bias-nan', { 'encoder.bias': withValueAt([D], 9, NaN, 2) }, /tensor "encoder\.bias" holds non-finite values .*first at element 9/],
  ];
  for (const [name, tensors, message] of cases) {
    const dir = writeDLCrosscoder(join(tempDir('nonfinite'), name), { d, D, tensors });
    const ckpt = loadCrosscoderCheckpoint(dir);
    await assert.rejects(computeLatentMetrics(ckpt, { cacheDir: tempDir('nonfinite-cache') }), (e: unknown) => e instanceof LatentDiffError && e.file === ckpt.file && message.test(e.message), name);
  }
});

/** A base model over the demo vocabulary whose residual for one token id (mod K) is NaN. */
function nanModel(path: string, nanId: number, d: number): void {
  const K = 1024;
  const g = new GraphBuilder('nan-model');
  g.input('input_ids', DT.INT64, ['batch', 'seq']);
  const table = randomFloats(K * d, 11);
  table[(nanId % K) * d + 7] = NaN;
  const x = g.op('Gather', [g.floats(table, [K, d]), g.op('Mod', ['input_ids', g.int64s([K])])]);
  g.alias(x, 'resid');
  g.output('resid', DT.FLOAT, ['batch', 'seq', d]);
  writeFileSync(path, g.toBytes());
}

test('a model whose residual stream goes NaN: the CLI exits 1 naming the model file and the token', () => {
  const dir = tempDir('nan-model');
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'The quick brown fox jumps over the lazy dog.');
  const tok = GemmaTokenizer.fromFiles(join(DEMO, 'tokenizer.json'), join(DEMO, 'tokenizer_config.json'));
  const ids = tok.encode(readFileSync(doc, 'utf8'), { addBos: true });
  const json = demoBundleJsonElsewhere(DEMO);
  const t = ids.findIndex((id, i) => i > 0 && ids.slice(0, i).every((p) => p % 1024 !== id % 1024));
  nanModel(join(dir, 'base.onnx'), ids[t], json.dModel);
  json.base.onnx = join(dir, 'base.onnx');
  json.tokenizer = { json: join(DEMO, 'tokenizer.json'), config: join(DEMO, 'tokenizer_config.json'), chatTemplate: 'builtin:gemma2' };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'analyze', doc, '--json', '--bundle', dir, '--provider', 'cpu'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, new RegExp(`^latent-diff: error: ${join(dir, 'base.onnx')}: the model produced a non-finite activation \\(NaN\\) at token ${t} \\(id ${ids[t]}\\), residual dimension 7`));
});

test('live analysis checks the tokens an edit recomputes: a NaN token appended to a clean document is refused, also after the failed update', async () => {
  const dir = tempDir('nan-live');
  const tok = GemmaTokenizer.fromFiles(join(DEMO, 'tokenizer.json'), join(DEMO, 'tokenizer_config.json'));
  const clean = 'The quick brown fox';
  const dirty = `${clean} jumps over the lazy dog.`;
  const cleanIds = tok.encode(clean, { addBos: true });
  const ids = tok.encode(dirty, { addBos: true });
  assert.deepEqual(ids.slice(0, cleanIds.length), cleanIds, 'the clean text tokenises as a prefix of the dirty one');
  const t = ids.findIndex((id, i) => i >= cleanIds.length && ids.slice(0, i).every((p) => p % 1024 !== id % 1024));
  assert.ok(t >= cleanIds.length);
  const json = demoBundleJsonElsewhere(DEMO);
  nanModel(join(dir, 'base.onnx'), ids[t], json.dModel);
  json.base.onnx = join(dir, 'base.onnx');
  json.tokenizer = { json: join(DEMO, 'tokenizer.json'), config: join(DEMO, 'tokenizer_config.json'), chatTemplate: 'builtin:gemma2' };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  const a = Analyzer.open(dir, { provider: 'cpu', cacheDir: tempDir('nan-live-cache') });
  try {
    const refused = (e: unknown) => e instanceof LatentDiffError && e.file === join(dir, 'base.onnx') && e.message.includes(`at token ${t} (id ${ids[t]})`);
    assert.equal((await a.analyze(clean)).tokens.length, cleanIds.length);
    await assert.rejects(a.analyze(dirty), refused, 'appended after a clean analysis');
    await assert.rejects(a.analyze(dirty), refused, 'the same text again, after the failed update');
    assert.equal((await a.analyze(clean)).tokens.length, cleanIds.length);
    await assert.rejects(a.analyze(`${dirty} More.`), refused, 'appended again after going back to the clean text');
  } finally {
    await a.dispose();
  }
});
