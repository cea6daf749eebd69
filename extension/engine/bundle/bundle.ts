/**
 * bundle.json (SPEC 2): schema, loading and validation. Everything a bundle names is checked here, so
 * later stages can trust it: files exist, the crosscoder and both models agree on dModel, and ONNX
 * graphs have the named inputs and output.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { LatentDiffError } from '../errors';
import type { BundleInfo, CrosscoderCheckpoint } from '../types';
import { BundleFields } from './bundle-fields';
import { loadCrosscoderCheckpoint, type CheckpointLoadOptions } from './crosscoder-checkpoint';
import { isJsonObject, readJsonObject, type JsonObject } from './json-file';
import { checkRegularFile } from '../input-files';
import { findOnnxValue, readOnnxSignature, type OnnxSignature, type OnnxValueInfo } from './onnx-inspect';
import { getTensor, readSafetensorsHeader, type TensorRef } from './safetensors';

/** The schema version this code writes; it reads any 1.x. */
export const BUNDLE_SCHEMA_VERSION = '1.0';
const SUPPORTED_MAJOR = 1;
const DEFAULT_CONTEXT_WINDOW = 1024;
export const BUILTIN_CHAT_TEMPLATES = ['gemma2'] as const;
/** ONNX elem types a residual-stream output may have: float, float16, double, bfloat16. */
const FLOAT_ELEM_TYPES = new Set([1, 10, 11, 16]);
const INT_ELEM_TYPES = new Set([6, 7]);

export type ModelSource =
  | {
      kind: 'onnx';
      name: string;
      path: string;
      /** Graph output holding the residual stream after block `layer`, [batch, seq, dModel]. */
      output: string;
      inputIds: string;
      attentionMask?: string;
      positionIds?: string;
      /** The graph's inputs and outputs as read from the file. */
      signature: OnnxSignature;
      /** The layers after block `layer` to the logits, when the bundle has them. */
      secondHalf?: LogitsGraphSource;
      /** The unembedding W_U [vocab, dModel], for direct-path logit effects, when the bundle names it. */
      unembedding?: UnembeddingSource;
    }
  | { kind: 'hf'; name: string; dir: string };

/** A model's second half as an ONNX file: residual after block `layer` [1, seq, dModel] -> logits [1, seq, vocab]. */
export interface LogitsGraphSource {
  path: string;
  /** Float input holding the residual. */
  input: string;
  /** Float output holding the logits. */
  output: string;
  vocabSize: number;
  /** Locations of external weights, relative to the graph's folder. */
  externalDataFiles: string[];
}

/**
 * Where an ONNX-file model's unembedding W_U [vocab, dModel] is: a float value of its second-half graph (an
 * initializer, or a node output the graph computes from its weights), or a tensor in a safetensors file.
 * `field` is the bundle.json field it came from, named in errors found when it first runs.
 */
export type UnembeddingSource =
  | { kind: 'second-half'; value: string; graph: LogitsGraphSource; field: string }
  | { kind: 'safetensors'; tensor: TensorRef; field: string };

export type ChatTemplateSource = { builtin: (typeof BUILTIN_CHAT_TEMPLATES)[number] } | { text: string; file: string };

export interface Bundle {
  /** Absolute bundle folder. */
  dir: string;
  /** Absolute path of bundle.json. */
  file: string;
  schemaVersion: string;
  name: string;
  layer: number;
  dModel: number;
  contextWindow: number;
  base: ModelSource;
  chat: ModelSource;
  tokenizer: { json: string; config?: string; chatTemplate: ChatTemplateSource };
  crosscoder: CrosscoderCheckpoint;
  stats?: string;
  examples?: string;
}

/** Loads and validates a bundle from its folder (or from its bundle.json). */
export function loadBundle(path: string, opts: CheckpointLoadOptions = {}): Bundle {
  const given = resolve(path);
  const isFile = existsSync(given) && statSync(given).isFile();
  const file = isFile ? given : join(given, 'bundle.json');
  const dir = dirname(file);
  if (!existsSync(file)) throw new LatentDiffError(file, 'bundle.json not found: a bundle folder must contain one', 'not-found');
  checkRegularFile(file, 'bundle.json');
  const json = readJsonObject(file);
  const f = new BundleFields(file, dir);

  const schemaVersion = checkSchemaVersion(f, json);
  const name = f.string(json, 'name', 'name', true) ?? basename(dir);
  const layer = f.integer(json, 'layer', 'layer', 0);
  const dModel = f.integer(json, 'dModel', 'dModel', 1);
  const contextWindow = f.integer(json, 'contextWindow', 'contextWindow', 1, true) ?? DEFAULT_CONTEXT_WINDOW;
  const base = modelSource(f, json, 'base', layer, dModel);
  const chat = modelSource(f, json, 'chat', layer, dModel);
  const tokenizer = tokenizerSource(f, json);
  const crosscoderDir = f.path(json, 'crosscoder', 'crosscoder', 'folder');
  const stats = f.path(json, 'stats', 'stats', 'file', true);
  const examples = f.path(json, 'examples', 'examples', 'file', true);

  const crosscoder = loadCrosscoderCheckpoint(crosscoderDir, opts);
  if (crosscoder.dModel !== dModel) {
    throw new LatentDiffError(file, `dModel is ${dModel} but the crosscoder ${crosscoder.file} has d_model ${crosscoder.dModel} (tensor "${crosscoder.encoderWeight.name}" [${crosscoder.encoderWeight.shape.join(', ')}]): the crosscoder was not trained on these models`, 'bad-shape');
  }

  return { dir, file, schemaVersion, name, layer, dModel, contextWindow, base, chat, tokenizer, crosscoder, ...(stats ? { stats } : {}), ...(examples ? { examples } : {}) };
}

export function bundleInfo(b: Bundle): BundleInfo {
  return {
    name: b.name,
    dir: b.dir,
    layer: b.layer,
    dModel: b.dModel,
    dictSize: b.crosscoder.dictSize,
    baseModel: b.base.name,
    chatModel: b.chat.name,
    crosscoderKind: b.crosscoder.kind,
    crosscoderIdentity: b.crosscoder.identity,
    crosscoderFormerIdentities: b.crosscoder.formerIdentities,
  };
}

function checkSchemaVersion(f: BundleFields, json: JsonObject): string {
  const v = f.string(json, 'schemaVersion', 'schemaVersion');
  const m = /^(\d+)(\.\d+)*$/.exec(v);
  if (!m) throw f.fail('schemaVersion', `should look like "${BUNDLE_SCHEMA_VERSION}", got ${JSON.stringify(v)}`);
  if (Number(m[1]) !== SUPPORTED_MAJOR) {
    throw f.fail('schemaVersion', `bundle schema ${v} is not supported: this version of Latent Diff reads schema ${SUPPORTED_MAJOR}.x (current ${BUNDLE_SCHEMA_VERSION})`, 'unsupported-version');
  }
  return v;
}

/** Reads and checks one model entry: an HF folder, or an ONNX file with the named inputs and output. */
function modelSource(f: BundleFields, json: JsonObject, role: 'base' | 'chat', layer: number, dModel: number): ModelSource {
  const m = f.object(json, role, role);
  const name = f.string(m, 'name', `${role}.name`);
  const hasOnnx = m.onnx !== undefined && m.onnx !== null;
  const hasHf = m.hf !== undefined && m.hf !== null;
  if (hasOnnx === hasHf) {
    throw f.fail(role, hasOnnx ? 'give either "onnx" or "hf", not both' : 'needs "onnx" (an ONNX file) or "hf" (a Hugging Face model folder)', 'missing-field');
  }
  if (hasHf) {
    if (m.unembedding !== undefined && m.unembedding !== null) throw f.fail(`${role}.unembedding`, 'is for ONNX-file models: a Hugging Face folder\'s unembedding is read from the folder (its tied embedding or lm_head.weight)');
    const dir = f.path(m, 'hf', `${role}.hf`, 'folder');
    checkHfFolder(f, role, dir, layer, dModel);
    return { kind: 'hf', name, dir };
  }
  const path = f.path(m, 'onnx', `${role}.onnx`, 'file');
  const output = f.string(m, 'output', `${role}.output`);
  const inputs = f.object(m, 'inputs', `${role}.inputs`);
  const attentionMask = f.string(inputs, 'attentionMask', `${role}.inputs.attentionMask`, true);
  const positionIds = f.string(inputs, 'positionIds', `${role}.inputs.positionIds`, true);
  const inputIds = f.string(inputs, 'inputIds', `${role}.inputs.inputIds`);
  const named = { inputIds, attentionMask, positionIds };
  const signature = checkOnnx(f, role, path, output, named, dModel);
  const secondHalf = m.secondHalf === undefined || m.secondHalf === null ? undefined : secondHalfSource(f, m, role, dModel);
  const unembedding = m.unembedding === undefined || m.unembedding === null ? undefined : unembeddingSource(f, m, role, dModel, secondHalf);
  return {
    kind: 'onnx', name, path, output, inputIds,
    ...(attentionMask ? { attentionMask } : {}),
    ...(positionIds ? { positionIds } : {}),
    signature,
    ...(secondHalf ? { secondHalf } : {}),
    ...(unembedding ? { unembedding } : {}),
  };
}

/** `unembedding`: the name of a value in the second-half graph, or {"safetensors": file, "tensor": name}. */
function unembeddingSource(f: BundleFields, m: JsonObject, role: string, dModel: number, secondHalf: LogitsGraphSource | undefined): UnembeddingSource {
  const field = `${role}.unembedding`;
  const expected = `[${secondHalf?.vocabSize ?? 'vocab'}, ${dModel}]`;
  const checkShape = (dims: number[], what: string) => {
    if (dims.length !== 2 || dims[1] !== dModel || (secondHalf && dims[0] !== secondHalf.vocabSize) || dims[0] < 1) {
      throw f.fail(field, `${what} has shape [${dims.join(', ')}]; the unembedding is [vocab, dModel] = ${expected}`, 'bad-shape');
    }
  };
  if (typeof m.unembedding === 'string') {
    const value = f.string(m, 'unembedding', field);
    if (!secondHalf) throw f.fail(field, `names "${value}", a value of the second-half graph, but the model has no "secondHalf"; give {"safetensors": file, "tensor": name} instead`, 'missing-field');
    const origin = findOnnxValue(secondHalf.path, value);
    if (!origin) throw f.fail(field, `${secondHalf.path} has no initializer or node output named "${value}"`, 'bad-onnx');
    if (origin.kind === 'input') throw f.fail(field, `"${value}" is an input of ${secondHalf.path}, not a weight: name the unembedding matrix the graph holds or computes`, 'bad-onnx');
    if (origin.kind === 'initializer') {
      if (!FLOAT_ELEM_TYPES.has(origin.elemType)) throw f.fail(field, `initializer "${value}" of ${secondHalf.path} has element type ${origin.elemType}; the unembedding is floating point`, 'bad-onnx');
      checkShape(origin.dims, `initializer "${value}" of ${secondHalf.path}`);
    }
    return { kind: 'second-half', value, graph: secondHalf, field };
  }
  const u = f.object(m, 'unembedding', field);
  const file = f.path(u, 'safetensors', `${field}.safetensors`, 'file');
  const name = f.string(u, 'tensor', `${field}.tensor`);
  const header = readSafetensorsHeader(file);
  if (!header.tensors.has(name)) throw f.fail(`${field}.tensor`, `${file} has no tensor "${name}"`, 'missing-tensor');
  const tensor = getTensor(header, name);
  if (!['F32', 'F16', 'BF16', 'F64'].includes(tensor.dtype)) throw f.fail(`${field}.tensor`, `tensor "${name}" of ${file} has dtype ${tensor.dtype}; the unembedding is floating point (F32, F16, BF16, F64)`);
  checkShape(tensor.shape, `tensor "${name}" of ${file}`);
  return { kind: 'safetensors', tensor, field };
}

/** `secondHalf`: an ONNX graph from the residual after block `layer` to logits over a fixed vocabulary. */
function secondHalfSource(f: BundleFields, m: JsonObject, role: string, dModel: number): LogitsGraphSource {
  const field = `${role}.secondHalf`;
  const s = f.object(m, 'secondHalf', field);
  const path = f.path(s, 'onnx', `${field}.onnx`, 'file');
  const input = f.string(s, 'input', `${field}.input`);
  const output = f.string(s, 'output', `${field}.output`);
  const sig = readOnnxSignature(path);
  const inp = sig.inputs.find((i) => i.name === input);
  if (!inp) throw new LatentDiffError(path, `has no input named "${input}" (inputs: ${describe(sig.inputs)}); fix "${field}.input" in ${f.file}`, 'bad-onnx');
  const extra = sig.inputs.filter((i) => i.name !== input);
  if (extra.length) throw new LatentDiffError(path, `has inputs ${describe(extra)} besides "${input}": a second half reads only the residual`, 'bad-onnx');
  if (inp.elemType !== 0 && inp.elemType !== 1) throw new LatentDiffError(path, `input "${input}" has element type ${inp.elemType}; the residual is float32`, 'bad-onnx');
  if (inp.dims && (inp.dims.length !== 3 || (typeof inp.dims[2] === 'number' && inp.dims[2] !== dModel))) {
    throw new LatentDiffError(path, `input "${input}" has shape [${inp.dims.join(', ')}]; expected [batch, seq, ${dModel}] (dModel in ${f.file})`, 'bad-shape');
  }
  const out = sig.outputs.find((o) => o.name === output);
  if (!out) throw new LatentDiffError(path, `has no output named "${output}" (outputs: ${describe(sig.outputs)}); fix "${field}.output" in ${f.file}`, 'bad-onnx');
  if (out.elemType !== 0 && out.elemType !== 1) throw new LatentDiffError(path, `output "${output}" has element type ${out.elemType}; logits must be float32`, 'bad-onnx');
  const vocab = out.dims?.[2];
  if (out.dims?.length !== 3 || typeof vocab !== 'number' || vocab < 1) {
    throw new LatentDiffError(path, `output "${output}" has shape [${out.dims?.join(', ') ?? 'unknown'}]; a second half declares logits [batch, seq, vocab] with a fixed vocabulary size`, 'bad-shape');
  }
  for (const loc of sig.externalDataFiles) {
    if (!existsSync(resolve(dirname(path), loc))) throw new LatentDiffError(path, `its weights are in "${loc}", which is missing (${resolve(dirname(path), loc)})`, 'not-found');
  }
  return { path, input, output, vocabSize: vocab, externalDataFiles: sig.externalDataFiles };
}

function tokenizerSource(f: BundleFields, json: JsonObject): Bundle['tokenizer'] {
  const t = f.object(json, 'tokenizer', 'tokenizer');
  const tokenizerJson = f.path(t, 'json', 'tokenizer.json', 'file');
  const config = f.path(t, 'config', 'tokenizer.config', 'file', true);
  const template = f.string(t, 'chatTemplate', 'tokenizer.chatTemplate', true);
  let chatTemplate: ChatTemplateSource;
  if (template?.startsWith('builtin:')) {
    const builtin = BUILTIN_CHAT_TEMPLATES.find((b) => `builtin:${b}` === template);
    if (!builtin) throw f.fail('tokenizer.chatTemplate', `unknown built-in template "${template}"; built in: ${BUILTIN_CHAT_TEMPLATES.map((b) => `builtin:${b}`).join(', ')}`);
    chatTemplate = { builtin };
  } else if (template) {
    const file = f.path(t, 'chatTemplate', 'tokenizer.chatTemplate', 'file');
    checkRegularFile(file, 'chat template file');
    const text = readFileSync(file, 'utf8');
    if (text.trim() === '') throw new LatentDiffError(file, 'chat template file is empty');
    chatTemplate = { text, file };
  } else {
    const fromConfig = config ? readJsonObject(config).chat_template : undefined;
    if (typeof fromConfig !== 'string' || !config) {
      throw f.fail('tokenizer.chatTemplate', `is missing and ${config ?? 'no tokenizer config'} has no chat_template; use "builtin:gemma2" or the path of a .jinja file`, 'missing-field');
    }
    chatTemplate = { text: fromConfig, file: config };
  }
  return { json: tokenizerJson, ...(config ? { config } : {}), chatTemplate };
}

function checkHfFolder(f: BundleFields, role: string, dir: string, layer: number, dModel: number): void {
  const configFile = join(dir, 'config.json');
  if (!existsSync(configFile)) throw f.fail(`${role}.hf`, `${dir} has no config.json: not a Hugging Face model folder`, 'not-found');
  if (!readdirSync(dir).some((n) => n.endsWith('.safetensors'))) throw f.fail(`${role}.hf`, `${dir} has no *.safetensors weights`, 'not-found');
  const cfg = readJsonObject(configFile);
  const text = isJsonObject(cfg.text_config) ? cfg.text_config : cfg;
  if (typeof text.hidden_size === 'number' && text.hidden_size !== dModel) {
    throw new LatentDiffError(configFile, `hidden_size is ${text.hidden_size} but ${f.file} says dModel ${dModel}`, 'bad-shape');
  }
  if (typeof text.num_hidden_layers === 'number' && layer >= text.num_hidden_layers) {
    throw new LatentDiffError(configFile, `the model has ${text.num_hidden_layers} layers but ${f.file} asks for the residual after block ${layer}`, 'bad-shape');
  }
}

function describe(list: OnnxValueInfo[]): string {
  return list.length ? list.map((v) => `"${v.name}"`).join(', ') : 'none';
}

function checkOnnx(f: BundleFields, role: string, path: string, output: string, inputs: Record<string, string | undefined>, dModel: number): OnnxSignature {
  const sig = readOnnxSignature(path);
  const out = sig.outputs.find((o) => o.name === output);
  if (!out) throw new LatentDiffError(path, `has no output named "${output}" (outputs: ${describe(sig.outputs)}); fix "${role}.output" in ${f.file}`, 'bad-onnx');
  for (const [key, name] of Object.entries(inputs)) {
    if (name === undefined) continue;
    const input = sig.inputs.find((i) => i.name === name);
    if (!input) throw new LatentDiffError(path, `has no input named "${name}" (inputs: ${describe(sig.inputs)}); fix "${role}.inputs.${key}" in ${f.file}`, 'bad-onnx');
    if (key === 'inputIds' && input.elemType !== 0 && !INT_ELEM_TYPES.has(input.elemType)) {
      throw new LatentDiffError(path, `input "${name}" has element type ${input.elemType}; token ids must be int64 or int32`, 'bad-onnx');
    }
  }
  if (out.elemType !== 0 && !FLOAT_ELEM_TYPES.has(out.elemType)) throw new LatentDiffError(path, `output "${out.name}" has element type ${out.elemType}; the residual stream must be floating point`, 'bad-onnx');
  if (out.dims) {
    if (out.dims.length !== 3) throw new LatentDiffError(path, `output "${out.name}" has shape [${out.dims.join(', ')}]; expected [batch, seq, dModel]`, 'bad-shape');
    const width = out.dims[2];
    if (typeof width === 'number' && width !== dModel) {
      throw new LatentDiffError(path, `output "${out.name}" has width ${width} but ${f.file} says dModel ${dModel}`, 'bad-shape');
    }
  }
  const modelDir = dirname(path);
  for (const loc of sig.externalDataFiles) {
    if (!existsSync(resolve(modelDir, loc))) throw new LatentDiffError(path, `its weights are in "${loc}", which is missing (${resolve(modelDir, loc)})`, 'not-found');
  }
  return sig;
}
