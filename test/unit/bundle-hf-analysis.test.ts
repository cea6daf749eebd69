/**
 * A bundle whose base and chat are Hugging Face Gemma 2 folders, analysed end to end, against the same
 * bundle with the ONNX export of that model (the ONNX-import path). The committed transformers fixture has a
 * 512-token vocabulary, so the text is made of characters the Gemma tokenizer spells as byte tokens (< 512).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { writeFixtureBundle } from './hf-bundle-fixture';

const TEXT = '𓀀𓀁𓀂𓀃𓀄';

test('a Hugging Face Gemma 2 bundle analyses like its ONNX export', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ld-hf-bundle-'));
  const analyzers: Analyzer[] = [];
  try {
    const results = [];
    for (const kind of ['hf', 'onnx'] as const) {
      writeFixtureBundle(join(root, kind), kind);
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
  const a = (writeFixtureBundle(root, 'hf'), Analyzer.open(root, { provider: 'cpu', cacheDir: join(root, 'cache') }));
  try {
    await assert.rejects(a.analyze('Hello world'), (e: Error) => /outside this model's vocabulary/.test(e.message) && e.message.includes(join(root, 'model')));
  } finally {
    await a.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});

test('an ONNX model that fails on foreign token ids gives an error naming the model file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'ld-onnx-bundle-'));
  const a = (writeFixtureBundle(root, 'onnx'), Analyzer.open(root, { provider: 'cpu', cacheDir: join(root, 'cache') }));
  try {
    await assert.rejects(a.analyze('Hello world'), (e: Error) => /ONNX Runtime failed to run this model/.test(e.message) && e.message.includes(join(root, 'model.onnx')));
  } finally {
    await a.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});
