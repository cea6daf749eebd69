/** Shared helpers for the Gemma 2 tests: the committed transformers fixture and ways to make altered copies of it. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readSafetensorsHeader, readTensorBytes, type TensorToWrite } from '../../extension/engine/bundle/safetensors';

export const FIXTURE = join(__dirname, '..', 'fixtures', 'gemma2');
export const FIXTURE_MODEL = join(FIXTURE, 'model');

export interface FixtureCase {
  name: string;
  input_ids: number[][];
  attention_mask: number[][];
  /** [numLayers + 1, B, T, H]: index 0 = scaled embeddings, i + 1 = after block i. */
  shape: [number, number, number, number];
  states: Float32Array;
}

export interface Fixture {
  numLayers: number;
  hidden: number;
  onnx: { file: string; layer: number; output: string; inputs: string[] };
  cases: FixtureCase[];
}

export function loadFixture(): Fixture {
  const info = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8'));
  const bin = readFileSync(join(FIXTURE, 'expected.bin'));
  const cases: FixtureCase[] = info.cases.map((c: FixtureCase & { byteOffset: number; byteLength: number }) => ({
    ...c,
    states: new Float32Array(bin.buffer.slice(bin.byteOffset + c.byteOffset, bin.byteOffset + c.byteOffset + c.byteLength)),
  }));
  const [states, , , H] = cases[0].shape;
  return { numLayers: states - 1, hidden: H, onnx: info.onnx, cases };
}

export function feeds(c: FixtureCase): Record<string, ort.Tensor> {
  const [, B, T] = c.shape;
  const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [B, T]);
  return { input_ids: i64(c.input_ids), attention_mask: i64(c.attention_mask) };
}

/**
 * Largest per-token relative error over real (non-pad) tokens: max |ours - ref| / max |ref| within each token,
 * maximised over tokens. `ours` is [B, T, H]; the reference is the fixture's states at `stateIndex`.
 */
export function maxRelError(c: FixtureCase, stateIndex: number, ours: Float32Array): number {
  const [, B, T, H] = c.shape;
  let worst = 0;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      if (!c.attention_mask[b][t]) continue;
      let diff = 0;
      let scale = 0;
      for (let h = 0; h < H; h++) {
        const r = c.states[((stateIndex * B + b) * T + t) * H + h];
        diff = Math.max(diff, Math.abs(r - ours[(b * T + t) * H + h]));
        scale = Math.max(scale, Math.abs(r));
      }
      worst = Math.max(worst, diff / scale);
    }
  }
  return worst;
}

/** A temporary copy of the fixture model folder (graphs get written beside the weights, never into the repo). */
export function copyModel(): { dir: string; root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'latent-diff-gemma2-'));
  const dir = join(root, 'model');
  cpSync(FIXTURE_MODEL, dir, { recursive: true });
  return { dir, root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The fixture's tensors as plain float32 arrays, by name. */
export function fixtureTensors(): Map<string, { shape: number[]; data: Float32Array }> {
  const file = readSafetensorsHeader(join(FIXTURE_MODEL, 'model.safetensors'));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of file.tensors.values()) {
    if (t.dtype !== 'F32') throw new Error(`fixture tensor ${t.name} is ${t.dtype}, expected F32`);
    const b = readTensorBytes(t);
    out.set(t.name, { shape: t.shape, data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) });
  }
  return out;
}

export function asF32(tensors: Map<string, { shape: number[]; data: Float32Array }>): Record<string, TensorToWrite> {
  return Object.fromEntries([...tensors].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.data }]));
}

export function writeConfig(dir: string, edit: (config: Record<string, unknown>) => void): void {
  const path = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(path, 'utf8'));
  edit(config);
  writeFileSync(path, JSON.stringify(config, null, 2));
}

interface Stored {
  byteOffset: number;
  byteLength: number;
  shape: number[];
}

export interface GenerationRun {
  name: string;
  input_ids: number[][];
  attention_mask: number[][];
  new_ids: number[][];
  min_logit_gap: number;
}

/** causal.json / causal.bin: what transformers' Gemma2ForCausalLM computes (make_gemma2_fixture.py --causal). */
export interface CausalFixture {
  /** Full-depth log-probs [B, T, vocab] per case of expected.json, by case name. */
  logProbs: Map<string, { shape: number[]; data: Float32Array }>;
  split: { case: string; layer: number; replacement: Float32Array; logProbs: Float32Array; shape: number[] };
  generate: { model: string; sliding_window: number; max_new_tokens: number; runs: GenerationRun[] };
}

export function loadCausalFixture(): CausalFixture {
  const info = JSON.parse(readFileSync(join(FIXTURE, 'causal.json'), 'utf8'));
  const bin = readFileSync(join(FIXTURE, 'causal.bin'));
  const f32 = (s: Stored) => new Float32Array(bin.buffer.slice(bin.byteOffset + s.byteOffset, bin.byteOffset + s.byteOffset + s.byteLength));
  return {
    logProbs: new Map(info.cases.map((c: { name: string; logprobs: Stored }) => [c.name, { shape: c.logprobs.shape, data: f32(c.logprobs) }])),
    split: { case: info.split.case, layer: info.split.layer, replacement: f32(info.split.replacement), logProbs: f32(info.split.logprobs), shape: info.split.logprobs.shape },
    generate: info.generate,
  };
}

/**
 * Largest per-position relative error of log-probs over real tokens: max_v |ours - ref| / max_v |ref|,
 * maximised over positions whose mask is 1. Both are [B, T, V].
 */
export function logProbRelError(ours: Float32Array, ref: Float32Array, mask: number[][], V: number): number {
  const T = mask[0].length;
  let worst = 0;
  mask.forEach((row, b) =>
    row.forEach((m, t) => {
      if (!m) return;
      let diff = 0;
      let scale = 0;
      for (let v = 0, o = (b * T + t) * V; v < V; v++) {
        diff = Math.max(diff, Math.abs(ours[o + v] - ref[o + v]));
        scale = Math.max(scale, Math.abs(ref[o + v]));
      }
      worst = Math.max(worst, diff / scale);
    }),
  );
  return worst;
}
