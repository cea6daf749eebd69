/**
 * A bundle whose base and chat are Hugging Face Gemma 2 folders, analysed end to end, against the same
 * bundle with the ONNX export of that model (the ONNX-import path). The committed transformers fixture has a
 * 512-token vocabulary, so the text is made of characters the Gemma tokenizer spells as byte tokens (< 512).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { gaussian, seededRandom } from '../../extension/engine/random';
import { FIXTURE, FIXTURE_MODEL } from './gemma2-fixture';

const DEMO = resolve(__dirname, '../../models/demo');
const d = 64;
const D = 128;
const TEXT = '𓀀𓀁𓀂𓀃𓀄';

function writeBundle(dir: string, models: 'hf' | 'onnx'): void {
  const rand = seededRandom(7);
  const g = (n: number, s: number) => Float32Array.from({ length: n }, () => gaussian(rand) * s);
  mkdirSync(join(dir, 'crosscoder'), { recursive: true });
  writeSafetensors(join(dir, 'crosscoder', 'model.safetensors'), {
    'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: g(2 * d * D, 0.2) },
    'encoder.bias': { dtype: 'F32', shape: [D], data: g(D, 0.1) },
    'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: g(2 * D * d, 0.1) },
    'decoder.bias': { dtype: 'F32', shape: [2, d], data: g(2 * d, 0.01) },
  });
  const model = models === 'hf'
    ? (cpSync(FIXTURE_MODEL, join(dir, 'model'), { recursive: true }), (name: string) => ({ name, hf: 'model' }))
    : (copyFileSync(join(FIXTURE, 'model-l2.onnx'), join(dir, 'model.onnx')), (name: string) => ({ name, onnx: 'model.onnx', output: 'hidden_state_2', inputs: { inputIds: 'input_ids', attentionMask: 'attention_mask' } }));
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: `fixture (${models})`, layer: 2, dModel: d,
    base: model('fixture-base'), chat: model('fixture-chat'),
    tokenizer: { json: join(DEMO, 'tokenizer.json'), config: join(DEMO, 'tokenizer_config.json'), chatTemplate: 'builtin:gemma2' },
    crosscoder: 'crosscoder',
  }));
}

test('a Hugging Face Gemma 2 bundle analyses like its ONNX export', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ld-hf-bundle-'));
  const analyzers: Analyzer[] = [];
  try {
    const results = [];
    for (const kind of ['hf', 'onnx'] as const) {
      writeBundle(join(root, kind), kind);
      const a = Analyzer.open(join(root, kind), { provider: 'cpu', cacheDir: join(root, 'cache') });
      analyzers.push(a);
      results.push(await a.analyze(TEXT, { latents: [0, 1, 2, 3, 4, 5, 6, 7], topK: 5 }));
    }
    const [hf, onnx] = results;
    assert.ok(hf.tokens.length > 8);
    assert.deepEqual(hf.tokens, onnx.tokens);
    assert.equal(hf.tokens.map((t) => (t.start === null ? '' : TEXT.slice(t.start, t.end!))).join(''), TEXT);
    let scale = 0;
    for (const s of onnx.selected) for (const v of s.acts) scale = Math.max(scale, Math.abs(v));
    assert.ok(scale > 0, 'some selected latent fires');
    hf.selected.forEach((s, i) => s.acts.forEach((v, t) => assert.ok(Math.abs(v - onnx.selected[i].acts[t]) <= 1e-4 * scale, `latent ${s.latent} token ${t}: ${v} vs ${onnx.selected[i].acts[t]}`)));
  } finally {
    for (const a of analyzers) await a.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a Gemma 2 bundle refuses a tokenizer whose ids exceed the model vocabulary, naming the folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ld-hf-bundle-'));
  const a = (writeBundle(root, 'hf'), Analyzer.open(root, { provider: 'cpu', cacheDir: join(root, 'cache') }));
  try {
    await assert.rejects(a.analyze('Hello world'), (e: Error) => /outside this model's vocabulary/.test(e.message) && e.message.includes(join(root, 'model')));
  } finally {
    await a.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});

test('an ONNX model that fails on foreign token ids gives an error naming the model file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ld-onnx-bundle-'));
  const a = (writeBundle(root, 'onnx'), Analyzer.open(root, { provider: 'cpu', cacheDir: join(root, 'cache') }));
  try {
    await assert.rejects(a.analyze('Hello world'), (e: Error) => /ONNX Runtime failed to run this model/.test(e.message) && e.message.includes(join(root, 'model.onnx')));
  } finally {
    await a.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});
