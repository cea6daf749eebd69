/**
 * Locates a crosscoder checkpoint on disk (method.md 3): the dictionary_learning Hugging Face layout or
 * the ckkissane layout, both read from .safetensors headers. Weights are never read; only scalars
 * (threshold, k, code_normalization_id, normalisation buffers) and the biases that go into the identity.
 */
import { createHash } from 'node:crypto';
import { existsSync, openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LatentDiffError } from '../errors';
import { defaultCacheDir } from '../paths';
import { contentDigest } from './content-digest';
import { checkFitsInMemory } from '../memory';
import type { CodeNormalization, CrosscoderCheckpoint } from '../types';
import { isJsonObject, readJsonObject, type JsonObject } from './json-file';
import { readSafetensorsHeader, readTensorBytes, readTensorF32, type SafetensorsFile, type TensorRef } from './safetensors';

const WEIGHT_FILES = ['model.safetensors', 'cc_weights.safetensors'];
const COMPILE_PREFIX = '_orig_mod.';
const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16']);
const CODE_NORMALIZATIONS: CodeNormalization[] = ['crosscoder', 'sae', 'mixed', 'none', 'decoupled'];
const SUPPORTED_DICT_CLASSES = ['CrossCoder', 'BatchTopKCrossCoder'];

interface Layout {
  format: CrosscoderCheckpoint['format'];
  dModel: number;
  dictSize: number;
  encoderWeight: TensorRef;
  encoderBias: TensorRef;
  decoderWeight: TensorRef;
  decoderLayout: CrosscoderCheckpoint['decoderLayout'];
  decoderBias: TensorRef;
}

/** Loads a checkpoint from its folder (or from the .safetensors file itself). */
export interface CheckpointLoadOptions {
  /** Where content digests are remembered (default: the per-user cache folder). */
  cacheDir?: string;
  /**
   * false: skip the content digest (seconds on a first open of gigabytes) when only the checkpoint's layout
   * is needed; `identity` is then the layout identity and must key nothing.
   */
  contentIdentity?: boolean;
}

export function loadCrosscoderCheckpoint(path: string, opts: CheckpointLoadOptions = {}): CrosscoderCheckpoint {
  const { dir, file } = locateWeights(resolve(path));
  const st = readSafetensorsHeader(file);
  const tensors = stripCompilePrefix(st);
  const layout = tensors.has('W_enc') && !tensors.has('encoder.weight') ? ckkissaneLayout(file, tensors) : dictionaryLearningLayout(file, tensors);

  const configFile = join(dir, layout.format === 'ckkissane' ? 'cfg.json' : 'config.json');
  if (existsSync(configFile)) checkModelConfig(configFile, readJsonObject(configFile), layout);
  const trainerFile = join(dir, 'trainer_config.json');
  const trainer = existsSync(trainerFile) ? trainerSection(readJsonObject(trainerFile)) : undefined;
  if (trainer) checkModelConfig(trainerFile, trainer, layout);

  const thresholdRef = tensors.get('threshold');
  const kRef = tensors.get('k');
  const dictClass = trainer ? dictClassOf(trainerFile, trainer) : undefined;
  if (dictClass === 'BatchTopKCrossCoder' && !thresholdRef) {
    throw new LatentDiffError(file, `missing tensor "threshold": ${trainerFile} says dict_class BatchTopKCrossCoder, whose inference needs its stored threshold`, 'missing-tensor');
  }
  if (dictClass === 'CrossCoder' && thresholdRef) {
    throw new LatentDiffError(trainerFile, `dict_class is CrossCoder (L1/ReLU) but ${file} has a "threshold" tensor, as a BatchTopKCrossCoder does: which is it?`);
  }
  if (kRef && !thresholdRef) {
    throw new LatentDiffError(file, 'has a "k" tensor but no "threshold": a BatchTopK checkpoint without its inference threshold cannot be used', 'missing-tensor');
  }
  const kind = thresholdRef ? 'batchtopk' : 'relu';
  const threshold = thresholdRef ? readThreshold(thresholdRef) : undefined;
  const k = kind === 'batchtopk' ? readK(file, kRef, trainerFile, trainer) : undefined;
  const codeNormalization = readCodeNormalization(tensors.get('code_normalization_id'), trainerFile, trainer);
  rejectInputNormalization(tensors);
  checkFitsInMemory(file, layout.encoderWeight.byteLength + layout.decoderWeight.byteLength, `the encoder and decoder weights (dictionary of ${layout.dictSize} latents x ${layout.dModel})`);

  // The identity may end up in file names: keep the readable label to safe characters.
  const label = ((typeof trainer?.wandb_name === 'string' && trainer.wandb_name) || basename(dir)).replace(/[^A-Za-z0-9._-]+/g, '_');
  const shape = `${label}-${layout.dictSize}x${layout.dModel}`;
  // Earlier versions keyed caches and annotations by layout (header, size, biases): kept to find old annotations.
  const layoutIdentity = `${shape}-${digest(st, [layout.encoderBias, layout.decoderBias, thresholdRef])}`;
  const identity = opts.contentIdentity === false ? layoutIdentity : `${shape}-c${contentDigest(file, opts.cacheDir ?? defaultCacheDir()).slice(0, 16)}`;
  return {
    dir, file,
    format: layout.format,
    kind,
    dModel: layout.dModel,
    dictSize: layout.dictSize,
    codeNormalization,
    ...(threshold !== undefined ? { threshold } : {}),
    ...(k !== undefined ? { k } : {}),
    encoderWeight: layout.encoderWeight,
    encoderBias: layout.encoderBias,
    decoderWeight: layout.decoderWeight,
    decoderLayout: layout.decoderLayout,
    decoderBias: layout.decoderBias,
    identity,
    formerIdentities: [layoutIdentity],
  };
}

function locateWeights(path: string): { dir: string; file: string } {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new LatentDiffError(path, 'crosscoder folder not found', 'not-found');
  }
  if (isFile) return { dir: dirname(path), file: path };
  for (const name of WEIGHT_FILES) if (existsSync(join(path, name))) return { dir: path, file: join(path, name) };
  const found = readdirSync(path).filter((n) => n.endsWith('.safetensors'));
  if (found.length === 1) return { dir: path, file: join(path, found[0]) };
  const why = found.length ? `several .safetensors files (${found.join(', ')}); name the one to use` : 'no .safetensors file';
  throw new LatentDiffError(path, `not a crosscoder folder: ${why} (expected ${WEIGHT_FILES.join(' or ')})`, 'not-found');
}

/** torch.compile prefixes every key with `_orig_mod.`; the checkpoint is the same otherwise. */
function stripCompilePrefix(st: SafetensorsFile): Map<string, TensorRef> {
  const out = new Map<string, TensorRef>();
  for (const [name, ref] of st.tensors) {
    const key = name.startsWith(COMPILE_PREFIX) ? name.slice(COMPILE_PREFIX.length) : name;
    if (out.has(key)) throw new LatentDiffError(st.path, `tensor "${key}" appears both with and without the "${COMPILE_PREFIX}" prefix`);
    out.set(key, ref);
  }
  return out;
}

function need(file: string, tensors: Map<string, TensorRef>, name: string, layout: string): TensorRef {
  const t = tensors.get(name);
  if (!t) throw new LatentDiffError(file, `missing tensor "${name}" of the ${layout} crosscoder layout (has: ${[...tensors.keys()].slice(0, 12).join(', ')})`, 'missing-tensor');
  if (!FLOAT_DTYPES.has(t.dtype)) throw new LatentDiffError(file, `tensor "${t.name}" has dtype ${t.dtype}; expected F32 (or F16/BF16)`, 'bad-dtype');
  return t;
}

const fmt = (shape: number[]) => `[${shape.join(', ')}]`;
const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

function expectShape(t: TensorRef, expected: number[], why: string): void {
  if (!sameShape(t.shape, expected)) throw new LatentDiffError(t.file, `tensor "${t.name}" has shape ${fmt(t.shape)} but ${why} needs ${fmt(expected)}`, 'bad-shape');
}

/** Reads L, d, D from a [L, d, D] encoder and insists on two models and non-empty axes. */
function encoderDims(t: TensorRef): { dModel: number; dictSize: number } {
  if (t.shape.length !== 3) throw new LatentDiffError(t.file, `tensor "${t.name}" has shape ${fmt(t.shape)}; expected [num_layers=2, d_model, dict_size]`, 'bad-shape');
  const [models, dModel, dictSize] = t.shape;
  if (models !== 2) throw new LatentDiffError(t.file, `tensor "${t.name}" encodes ${models} models (num_layers); a model-diffing crosscoder has exactly 2 (base, chat)`, 'bad-shape');
  if (dModel === 0 || dictSize === 0) throw new LatentDiffError(t.file, `tensor "${t.name}" has an empty axis: shape ${fmt(t.shape)}`, 'bad-shape');
  return { dModel, dictSize };
}

function dictionaryLearningLayout(file: string, tensors: Map<string, TensorRef>): Layout {
  if (!tensors.has('encoder.weight') && !tensors.has('W_enc')) {
    throw new LatentDiffError(file, `not a crosscoder checkpoint: no "encoder.weight" (dictionary_learning) or "W_enc" (ckkissane) tensor (has: ${[...tensors.keys()].slice(0, 12).join(', ')})`, 'missing-tensor');
  }
  const L = 'dictionary_learning';
  const encoderWeight = need(file, tensors, 'encoder.weight', L);
  const { dModel, dictSize } = encoderDims(encoderWeight);
  const why = `encoder.weight ${fmt(encoderWeight.shape)}`;
  const encoderBias = need(file, tensors, 'encoder.bias', L);
  if (!sameShape(encoderBias.shape, [dictSize])) expectShape(encoderBias, [2, dictSize], `${why} (as [dict_size], or legacy [2, dict_size])`);
  const decoderWeight = need(file, tensors, 'decoder.weight', L);
  expectShape(decoderWeight, [2, dictSize, dModel], why);
  const decoderBias = need(file, tensors, 'decoder.bias', L);
  expectShape(decoderBias, [2, dModel], why);
  return { format: 'dictionary_learning', dModel, dictSize, encoderWeight, encoderBias, decoderWeight, decoderLayout: 'LDd', decoderBias };
}

function ckkissaneLayout(file: string, tensors: Map<string, TensorRef>): Layout {
  const L = 'ckkissane';
  const encoderWeight = need(file, tensors, 'W_enc', L);
  const { dModel, dictSize } = encoderDims(encoderWeight);
  const why = `W_enc ${fmt(encoderWeight.shape)}`;
  const encoderBias = need(file, tensors, 'b_enc', L);
  expectShape(encoderBias, [dictSize], why);
  const decoderWeight = need(file, tensors, 'W_dec', L);
  expectShape(decoderWeight, [dictSize, 2, dModel], `${why} (ckkissane W_dec is [dict_size, 2, d_model])`);
  const decoderBias = need(file, tensors, 'b_dec', L);
  expectShape(decoderBias, [2, dModel], why);
  return { format: 'ckkissane', dModel, dictSize, encoderWeight, encoderBias, decoderWeight, decoderLayout: 'DLd', decoderBias };
}

/** trainer_config.json is `{"trainer": {...}, ...}`; a bare trainer config is accepted too. */
function trainerSection(cfg: JsonObject): JsonObject {
  return isJsonObject(cfg.trainer) ? cfg.trainer : cfg;
}

/** Cross-checks the sizes a config file states (names used by DL, ckkissane and trainer configs) with the tensors. */
function checkModelConfig(configFile: string, cfg: JsonObject, layout: Layout): void {
  const enc = layout.encoderWeight;
  const facts: [string, number, string][] = [
    ['activation_dim', layout.dModel, 'd_model'],
    ['d_in', layout.dModel, 'd_model'],
    ['dict_size', layout.dictSize, 'dict_size'],
    ['num_layers', 2, 'number of models'],
  ];
  for (const [key, actual, what] of facts) {
    const v = cfg[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new LatentDiffError(configFile, `"${key}" should be an integer, got ${JSON.stringify(v)}`);
    if (v !== actual) {
      throw new LatentDiffError(configFile, `"${key}" is ${v} but tensor "${enc.name}" ${fmt(enc.shape)} in ${enc.file} has ${what} ${actual}`, 'bad-shape');
    }
  }
}

function dictClassOf(trainerFile: string, trainer: JsonObject): string | undefined {
  const raw = trainer.dict_class;
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') throw new LatentDiffError(trainerFile, `"trainer.dict_class" should be a string, got ${JSON.stringify(raw)}`);
  // Accept both "BatchTopKCrossCoder" and a repr such as "<class 'dictionary_learning.dictionary.BatchTopKCrossCoder'>".
  const name = /([A-Za-z_]\w*)\W*$/.exec(raw)?.[1] ?? raw;
  if (!SUPPORTED_DICT_CLASSES.includes(name)) {
    throw new LatentDiffError(trainerFile, `dict_class ${name} is not supported; Latent Diff reads ${SUPPORTED_DICT_CLASSES.join(' and ')}`, 'unsupported');
  }
  return name;
}

/** Scalars may be stored with shape [] or [1]. */
function readScalar(t: TensorRef, what: string): number {
  if (!(t.shape.length === 0 || sameShape(t.shape, [1]))) throw new LatentDiffError(t.file, `tensor "${t.name}" (${what}) should be a scalar, has shape ${fmt(t.shape)}`, 'bad-shape');
  return readTensorF32(t)[0];
}

function readThreshold(t: TensorRef): number {
  if (sameShape(t.shape, [2])) {
    throw new LatentDiffError(t.file, `tensor "${t.name}" holds one threshold per model (a "Decoupled" BatchTopK crosscoder); per-model thresholds are not supported`, 'unsupported');
  }
  const v = readScalar(t, 'BatchTopK threshold');
  if (!Number.isFinite(v)) throw new LatentDiffError(t.file, `tensor "${t.name}" (BatchTopK threshold) is ${v}`);
  return v;
}

function readK(file: string, kRef: TensorRef | undefined, trainerFile: string, trainer: JsonObject | undefined): number | undefined {
  const fromTensor = kRef ? readScalar(kRef, 'BatchTopK k') : undefined;
  if (fromTensor !== undefined && !(Number.isInteger(fromTensor) && fromTensor > 0)) throw new LatentDiffError(file, `tensor "k" should be a positive integer, is ${fromTensor}`);
  const fromConfig = trainer?.k;
  if (fromConfig === undefined || fromConfig === null) return fromTensor;
  if (typeof fromConfig !== 'number' || !Number.isInteger(fromConfig) || fromConfig <= 0) throw new LatentDiffError(trainerFile, `"trainer.k" should be a positive integer, got ${JSON.stringify(fromConfig)}`);
  if (fromTensor !== undefined && fromTensor !== fromConfig) throw new LatentDiffError(trainerFile, `"trainer.k" is ${fromConfig} but tensor "k" in ${file} is ${fromTensor}`);
  return fromConfig;
}

/** code_normalization_id (1..5) wins; else the trainer config's name for it; else CROSSCODER, as dictionary_learning assumes. */
function readCodeNormalization(idRef: TensorRef | undefined, trainerFile: string, trainer: JsonObject | undefined): CodeNormalization {
  let fromTensor: CodeNormalization | undefined;
  if (idRef) {
    const id = readScalar(idRef, 'code normalization id');
    fromTensor = CODE_NORMALIZATIONS[id - 1];
    if (!Number.isInteger(id) || !fromTensor) throw new LatentDiffError(idRef.file, `tensor "${idRef.name}" is ${id}; expected 1..5 (${CODE_NORMALIZATIONS.join(', ')})`);
  }
  const named = trainer?.code_normalization ?? trainer?.sparsity_loss_type;
  const fromConfig = typeof named === 'string' ? CODE_NORMALIZATIONS.find((c) => c === named.split('.').pop()!.toLowerCase()) : undefined;
  if (fromTensor && fromConfig && fromTensor !== fromConfig) {
    throw new LatentDiffError(trainerFile, `code normalization "${named}" disagrees with tensor "code_normalization_id" (${fromTensor}) in the checkpoint`);
  }
  return fromTensor ?? fromConfig ?? 'crosscoder';
}

/** Newer dictionary_learning checkpoints may normalise inputs; NaN buffers mean "unused". We do not apply it, so refuse it. */
function rejectInputNormalization(tensors: Map<string, TensorRef>): void {
  for (const name of ['activation_mean', 'activation_std']) {
    const t = tensors.get(name);
    if (t && readTensorF32(t).some((v) => !Number.isNaN(v))) {
      throw new LatentDiffError(t.file, `tensor "${t.name}" enables input normalisation, which Latent Diff does not support (the paper's checkpoints do not use it)`, 'unsupported');
    }
  }
}

/** The former identity's digest: the header, the file size and the small bias/threshold tensors. */
function digest(st: SafetensorsFile, small: (TensorRef | undefined)[]): string {
  const h = createHash('sha256');
  const headerBytes = Buffer.alloc(8 + st.headerLength);
  const fd = openSync(st.path, 'r');
  try {
    readSync(fd, headerBytes, 0, headerBytes.length, 0);
  } finally {
    closeSync(fd);
  }
  h.update(headerBytes);
  h.update(String(st.fileSize));
  for (const t of small) if (t) h.update(readTensorBytes(t));
  return h.digest('hex').slice(0, 12);
}
