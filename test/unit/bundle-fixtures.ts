/** Small on-disk fixtures for the bundle, crosscoder and safetensors tests: random weights, tiny ONNX graphs, bundle folders. */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../extension/engine/bundle/safetensors';
import { DT, GraphBuilder, type ElemType } from '../../extension/engine/graphs/onnx-builder';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ld-${prefix}-`));
}

/** Deterministic uniform(-1, 1) values (mulberry32). */
export function randomFloats(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

const f32 = (shape: number[], seed: number): TensorToWrite => ({ dtype: 'F32', shape, data: randomFloats(shape.reduce((a, b) => a * b, 1), seed) });
export const scalarF32 = (v: number): TensorToWrite => ({ dtype: 'F32', shape: [], data: Float32Array.of(v) });
export const scalarI64 = (v: number): TensorToWrite => ({ dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(v)) });

export interface DLOptions {
  d?: number;
  D?: number;
  /** Adds threshold (+ k) tensors. */
  batchTopK?: { threshold: number; k?: number };
  legacyBias?: boolean;
  prefix?: string;
  fileName?: string;
  seed?: number;
  /** Replaces or adds tensors (by unprefixed name); `null` removes one. */
  tensors?: Record<string, TensorToWrite | null>;
  config?: Record<string, unknown> | null;
  trainerConfig?: Record<string, unknown>;
}

/** A dictionary_learning checkpoint folder: model.safetensors + config.json (+ trainer_config.json). */
export function writeDLCrosscoder(dir: string, o: DLOptions = {}): string {
  const d = o.d ?? 8;
  const D = o.D ?? 32;
  const seed = o.seed ?? 1;
  mkdirSync(dir, { recursive: true });
  const t: Record<string, TensorToWrite | null> = {
    'encoder.weight': f32([2, d, D], seed),
    'encoder.bias': f32(o.legacyBias ? [2, D] : [D], seed + 1),
    'decoder.weight': f32([2, D, d], seed + 2),
    'decoder.bias': f32([2, d], seed + 3),
  };
  if (o.batchTopK) {
    t.threshold = scalarF32(o.batchTopK.threshold);
    if (o.batchTopK.k !== undefined) t.k = scalarI64(o.batchTopK.k);
  }
  Object.assign(t, o.tensors ?? {});
  const out: Record<string, TensorToWrite> = {};
  for (const [name, v] of Object.entries(t)) if (v) out[(o.prefix ?? '') + name] = v;
  writeSafetensors(join(dir, o.fileName ?? 'model.safetensors'), out);
  if (o.config !== null) writeFileSync(join(dir, 'config.json'), JSON.stringify(o.config ?? { activation_dim: d, dict_size: D, num_layers: 2 }));
  if (o.trainerConfig) writeFileSync(join(dir, 'trainer_config.json'), JSON.stringify(o.trainerConfig));
  return dir;
}

/** A ckkissane checkpoint folder (W_dec is [D, 2, d]). */
export function writeCKCrosscoder(dir: string, o: { d?: number; D?: number; fileName?: string; cfg?: Record<string, unknown> } = {}): string {
  const d = o.d ?? 8;
  const D = o.D ?? 32;
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, o.fileName ?? 'cc_weights.safetensors'), {
    W_enc: f32([2, d, D], 11), W_dec: f32([D, 2, d], 12), b_enc: f32([D], 13), b_dec: f32([2, d], 14),
  });
  if (o.cfg) writeFileSync(join(dir, 'cfg.json'), JSON.stringify(o.cfg));
  return dir;
}

export interface OnnxOptions {
  output?: string;
  outDims?: (number | string)[];
  outType?: ElemType;
  inputs?: string[];
  idsType?: ElemType;
  /** Adds an initializer whose data lives in this (relative) file. */
  externalFile?: string;
}

/** A tiny valid ONNX graph: token ids -> Gather from an embedding -> the named output. */
export function writeOnnx(path: string, d: number, o: OnnxOptions = {}): string {
  const g = new GraphBuilder('fixture');
  const inputs = o.inputs ?? ['input_ids', 'attention_mask'];
  for (const name of inputs) g.input(name, name === 'input_ids' ? (o.idsType ?? DT.INT64) : DT.INT64, ['batch', 'seq']);
  const table = o.externalFile
    ? g.external({ location: o.externalFile, offset: 0, length: 16 * d * 4, elemType: DT.FLOAT, dims: [16, d] })
    : g.floats(randomFloats(16 * d, 5), [16, d]);
  const x = g.op('Gather', [table, inputs[0] ?? 'input_ids']);
  const output = o.output ?? 'resid';
  g.alias(x, output);
  g.output(output, o.outType ?? DT.FLOAT, o.outDims ?? ['batch', 'seq', d]);
  writeFileSync(path, g.toBytes());
  return path;
}

export interface BundleFixture {
  dir: string;
  json: Record<string, unknown>;
}

/** A complete, valid bundle folder (two ONNX models, tokenizer files, DL crosscoder, stats). */
export function writeBundleFixture(prefix: string, d = 8): BundleFixture {
  const dir = tempDir(prefix);
  writeOnnx(join(dir, 'base.onnx'), d);
  writeOnnx(join(dir, 'chat.onnx'), d, { inputs: ['input_ids'] });
  writeFileSync(join(dir, 'tokenizer.json'), '{}');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<bos>' }));
  writeFileSync(join(dir, 'feature_df.csv'), ',dec_norm_diff\n0,0.5\n');
  writeDLCrosscoder(join(dir, 'crosscoder'), { d, batchTopK: { threshold: 0.5, k: 4 } });
  const json = {
    schemaVersion: '1.0',
    name: 'fixture',
    layer: 1,
    dModel: d,
    contextWindow: 128,
    base: { name: 'fixture-base', onnx: 'base.onnx', output: 'resid', inputs: { inputIds: 'input_ids', attentionMask: 'attention_mask' } },
    chat: { name: 'fixture-chat', onnx: 'chat.onnx', output: 'resid', inputs: { inputIds: 'input_ids' } },
    tokenizer: { json: 'tokenizer.json', config: 'tokenizer_config.json', chatTemplate: 'builtin:gemma2' },
    crosscoder: 'crosscoder',
    stats: 'feature_df.csv',
  };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json, null, 2));
  return { dir, json };
}

/** The demo bundle's bundle.json with every file it names made absolute and no statistics: for bundles written elsewhere that reuse the demo's files. */
export function demoBundleJsonElsewhere(demo: string): Record<string, any> {
  const json = JSON.parse(readFileSync(join(demo, 'bundle.json'), 'utf8'));
  for (const role of ['base', 'chat']) {
    json[role].onnx = join(demo, json[role].onnx);
    if (json[role].secondHalf) json[role].secondHalf.onnx = join(demo, json[role].secondHalf.onnx);
  }
  json.crosscoder = join(demo, json.crosscoder);
  delete json.stats;
  delete json.examples;
  return json;
}
