/**
 * Gemma 2's direct-path logit effects (Gemma2SplitModel.unembedTopK) against float64 here: random vectors
 * through the fixture model's tied embedding matrix (v @ E^T, no final norm, no soft-capping), the 10 highest
 * and lowest tokens with their logits; stored as F32 and as BF16 (cast in the graph).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { Gemma2SplitModel } from '../../extension/engine/runtime/gemma2-split-model';
import { gaussian, prng } from './crosscoder-graph-fixture';
import { asF32, copyModel, fixtureTensors } from './gemma2-fixture';

const createSession = (src: unknown) => (typeof src === 'string' ? ort.InferenceSession.create(src, withGraphDefaults()) : Promise.reject(new Error('expected a placed graph')));

function bf16(x: Float32Array): { stored: Uint16Array; exact: Float32Array } {
  const u = new Uint32Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  const stored = Uint16Array.from(u, (b) => b >>> 16);
  return { stored, exact: new Float32Array(Uint32Array.from(stored, (h) => h << 16).buffer) };
}

for (const dtype of ['F32', 'BF16'] as const) {
  test(`unembedTopK (${dtype} embedding) equals v @ E^T in float64: top and bottom 10`, async () => {
    const model = copyModel();
    const tensors = fixtureTensors();
    const name = [...tensors.keys()].find((n) => n.endsWith('embed_tokens.weight'))!;
    const [V, d] = tensors.get(name)!.shape;
    let E = tensors.get(name)!.data;
    if (dtype === 'BF16') {
      const b = bf16(E);
      E = b.exact;
      const all = asF32(tensors);
      all[name] = { dtype: 'BF16', shape: [V, d], data: b.stored };
      writeSafetensors(join(model.dir, 'model.safetensors'), all);
    }
    const m = await Gemma2SplitModel.open('fixture', model.dir, { layer: 1, cacheDir: join(model.root, 'cache') }, createSession);
    try {
      const r = prng(3);
      const vectors = Float32Array.from({ length: 2 * d }, () => gaussian(r));
      const got = await m.unembedTopK(vectors, 10);
      for (let n = 0; n < 2; n++) {
        const logits = Array.from({ length: V }, (_, tok) => {
          let s = 0;
          for (let i = 0; i < d; i++) s += vectors[n * d + i] * E[tok * d + i];
          return s;
        });
        const desc = [...logits.keys()].sort((a, b) => logits[b] - logits[a]);
        assert.deepEqual(Array.from(got.topIds.subarray(n * 10, n * 10 + 10)), desc.slice(0, 10));
        assert.deepEqual(Array.from(got.bottomIds.subarray(n * 10, n * 10 + 10)), desc.slice(-10).reverse());
        got.topValues.subarray(n * 10, n * 10 + 10).forEach((v, i) => assert.ok(Math.abs(v - logits[desc[i]]) < 1e-4 * Math.max(1, Math.abs(logits[desc[i]]))));
      }
    } finally {
      await m.dispose();
      model.cleanup();
    }
  });
}
