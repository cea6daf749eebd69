/**
 * A bundle over the committed transformers Gemma 2 fixture (512-token vocabulary, split at block 2, base and
 * chat the same folder) and a random 128-latent crosscoder: `hf` reads the Hugging Face folder (Gemma2SplitModel
 * with key/value caches), `onnx` its ONNX export (the ONNX-import path).
 */
import { copyFileSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { gaussian, seededRandom } from '../../extension/engine/random';
import { FIXTURE, FIXTURE_MODEL } from './gemma2-fixture';

const DEMO = resolve(__dirname, '../../models/demo');
const d = 64;

/** A random crosscoder of the fixture's width in `dir`/crosscoder: Gaussian weights at scales that make latents fire. */
export function writeGaussianCrosscoder(dir: string, D: number, seed: number): void {
  const rand = seededRandom(seed);
  const g = (n: number, s: number) => Float32Array.from({ length: n }, () => gaussian(rand) * s);
  mkdirSync(join(dir, 'crosscoder'), { recursive: true });
  writeSafetensors(join(dir, 'crosscoder', 'model.safetensors'), {
    'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: g(2 * d * D, 0.2) },
    'encoder.bias': { dtype: 'F32', shape: [D], data: g(D, 0.1) },
    'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: g(2 * D * d, 0.1) },
    'decoder.bias': { dtype: 'F32', shape: [2, d], data: g(2 * d, 0.01) },
  });
}

export function writeFixtureBundle(dir: string, models: 'hf' | 'onnx'): void {
  writeGaussianCrosscoder(dir, 128, 7);
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
