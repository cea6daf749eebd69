/**
 * The generated demo bundle does what ground-truth.json says, checked with the real tokenizer, the real
 * ORT sessions for the tiny models, and an independent float64 crosscoder encode written here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import { readSafetensorsHeader, readTensorF32, getTensor } from '../../extension/engine/bundle/safetensors';
import { generateDemo } from '../../models/generate-demo';

const DEMO = resolve(__dirname, '../../models/demo');
const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));
const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(DEMO, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(DEMO, 'tokenizer_config.json'), 'utf8')));

async function residual(model: string, ids: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(join(DEMO, model));
  const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]) });
  await session.release();
  return out.resid.data as Float32Array;
}

function encode64(xb: Float32Array, xc: Float32Array, T: number): Float64Array[] {
  const st = readSafetensorsHeader(join(DEMO, 'crosscoder/model.safetensors'));
  const W = readTensorF32(getTensor(st, 'encoder.weight'));
  const b = readTensorF32(getTensor(st, 'encoder.bias'));
  const D = b.length;
  const d = W.length / 2 / D;
  const f: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const row = new Float64Array(D);
    for (let j = 0; j < D; j++) {
      let s = b[j];
      for (let i = 0; i < d; i++) s += xb[t * d + i] * W[i * D + j] + xc[t * d + i] * W[d * D + i * D + j];
      row[j] = Math.max(0, s);
    }
    f.push(row);
  }
  return f;
}

function latentOf(role: string, concept?: string): number {
  const hit = Object.entries(truth.latents as Record<string, { role: string; concept: string }>).find(([, v]) => v.role === role && (!concept || v.concept === concept));
  assert.ok(hit, `ground truth has a ${role} latent`);
  return Number(hit[0]);
}

test('planted latents fire on exactly their concept tokens (chat text)', async () => {
  const text = '<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\nIt is 4. The answer is short.<end_of_turn>\n';
  const ids = [2, ...tokenizer.encode(text, { add_special_tokens: false }).ids];
  const T = ids.length;
  const f = encode64(await residual('base.onnx', ids), await residual('chat.onnx', ids), T);
  const fires = (j: number) => f.map((row) => row[j] > 0.5);

  const template = fires(latentOf('robust-chat-only', 'template'));
  assert.deepEqual(template, ids.map((id) => id === 106 || id === 107));

  const modelTurn = fires(latentOf('robust-chat-only', 'model-turn'));
  const modelStart = ids.findIndex((id, i) => id === 2516 && ids[i - 1] === 106);
  const modelEnd = ids.lastIndexOf(107);
  assert.deepEqual(modelTurn, ids.map((_, i) => i >= modelStart && i <= modelEnd));

  const roleNames = fires(latentOf('complete-shrinkage'));
  assert.deepEqual(roleNames, ids.map((id) => id === 1645 || id === 2516));
  const question = ids.map((id) => id === 235336 || id === 1654);
  assert.deepEqual(fires(latentOf('latent-decoupling')), question);
  assert.deepEqual(fires(latentOf('decoupling-partner')), question);
  assert.ok(question.some(Boolean) && template.some(Boolean));
});

test('chat-only latents stay silent on plain text; shared and base-only ones fire', async () => {
  const text = 'The committee published 42 results. Why? def area(r): return r';
  const ids = [2, ...tokenizer.encode(text, { add_special_tokens: false }).ids];
  const f = encode64(await residual('base.onnx', ids), await residual('chat.onnx', ids), ids.length);
  const any = (j: number) => f.some((row) => row[j] > 0.5);
  assert.equal(any(latentOf('robust-chat-only', 'template')), false);
  assert.equal(any(latentOf('robust-chat-only', 'model-turn')), false);
  assert.ok(any(latentOf('shared', 'digit')));
  assert.ok(any(latentOf('shared', 'code-keyword')));
  assert.ok(any(latentOf('base-only', 'article')));
});

test('the generator is deterministic', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-demo-'));
  try {
    generateDemo(dir);
    for (const f of ['base.onnx', 'chat.onnx', 'crosscoder/model.safetensors', 'ground-truth.json', 'dataset.jsonl']) {
      const digest = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
      assert.equal(digest(join(dir, f)), digest(join(DEMO, f)), f);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
