import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { LatentDiffError } from '../../errors';
import { isJsonObject, readJsonObject } from '../../bundle/json-file';
import { readSafetensorsHeader, type SafetensorsFile, type TensorRef } from '../../bundle/safetensors';
import { parseGemma2Config, type Gemma2Config } from './gemma2-config';

/** The weights of one Gemma 2 decoder block, as located in the folder's safetensors files. */
export interface Gemma2BlockWeights {
  inputNorm: TensorRef;
  q: TensorRef;
  k: TensorRef;
  v: TensorRef;
  o: TensorRef;
  postAttnNorm: TensorRef;
  preFfnNorm: TensorRef;
  gate: TensorRef;
  up: TensorRef;
  down: TensorRef;
  postFfnNorm: TensorRef;
}

export interface Gemma2Folder {
  dir: string;
  configFile: string;
  config: Gemma2Config;
  /** The safetensors files whose headers were read (with an index: those holding the needed tensors). */
  shards: SafetensorsFile[];
  /** The token embedding (first half only). */
  embed?: TensorRef;
  /** Model index of blocks[0]: 0 for the first half, layer + 1 for the second. */
  firstBlock: number;
  /** First half: blocks 0..layer; second half: blocks layer+1..N-1. */
  blocks: Gemma2BlockWeights[];
  /** Second half only: the final RMSNorm and the unembedding (the embedding matrix when tied). */
  head?: { finalNorm: TensorRef; unembed: TensorRef };
  /** Absolute paths of the files the referenced tensors live in. */
  weightFiles: string[];
  /** Bytes of the referenced tensors, in their stored dtype. */
  weightBytes: number;
}

/** 'first': embedding + blocks 0..layer. 'second': blocks layer+1..N-1, final norm and unembedding. */
export type Gemma2Half = 'first' | 'second';

const INDEX_FILE = 'model.safetensors.index.json';
const SINGLE_FILE = 'model.safetensors';
/** How many missing tensor names an error lists before summarising the rest. */
const LIST_MISSING = 12;

/**
 * Reads a Hugging Face Gemma 2 folder for one half of the model split after block `layer`: config.json, the
 * safetensors headers (never the tensor data), and checks that every tensor the half needs exists with the
 * shape config.json implies. Missing tensors are all named in one error ('missing-tensor', naming the folder).
 * For the second half, a shard the index lists but that is absent counts as missing tensors (folders
 * downloaded only up to block `layer` are common); for the first half it is a 'not-found' error.
 */
export function openGemma2Folder(dir: string, layer: number, half: Gemma2Half = 'first'): Gemma2Folder {
  const configFile = join(dir, 'config.json');
  const config = parseGemma2Config(readJsonObject(configFile), configFile);
  if (!Number.isInteger(layer) || layer < 0 || layer >= config.numLayers) {
    throw new LatentDiffError(configFile, `block ${layer} was asked for, but the model has num_hidden_layers = ${config.numLayers} (blocks 0..${config.numLayers - 1})`, 'bad-layer');
  }
  const index = readShards(dir);
  const absentShards = new Set<string>();
  const lookup = (name: string): TensorRef | undefined => {
    try {
      return index.fileOf(name)?.tensors.get(name);
    } catch (e) {
      if (half === 'second' && e instanceof LatentDiffError && e.code === 'not-found' && e.file) {
        absentShards.add(basename(e.file));
        return undefined;
      }
      throw e;
    }
  };
  const prefix = lookup('model.embed_tokens.weight') ? 'model.' : lookup('embed_tokens.weight') ? '' : 'model.';
  const used = new Set<string>();
  const missing: { name: string; what: string }[] = [];
  let weightBytes = 0;
  const need = (full: string, shape: number[], what: string): TensorRef => {
    const ref = lookup(full);
    if (!ref) {
      missing.push({ name: full, what });
      return undefined as unknown as TensorRef; // reported below, with every other missing tensor
    }
    if (ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i])) {
      throw new LatentDiffError(ref.file, `tensor "${full}" has shape [${ref.shape.join(', ')}], but config.json implies [${shape.join(', ')}] (${what})`, 'bad-shape');
    }
    if (ref.dtype !== 'F32' && ref.dtype !== 'BF16' && ref.dtype !== 'F16') {
      throw new LatentDiffError(ref.file, `tensor "${full}" has dtype ${ref.dtype}; F32, BF16 or F16 is needed`, 'bad-dtype');
    }
    used.add(ref.file);
    weightBytes += ref.byteLength;
    return ref;
  };
  const c = config;
  const inModel = (name: string, shape: number[], what: string) => need(prefix + name, shape, what);
  const embedding = () => inModel('embed_tokens.weight', [c.vocabSize, c.hiddenSize], 'embedding: vocab_size x hidden_size');
  const first = half === 'first' ? 0 : layer + 1;
  const last = half === 'first' ? layer : c.numLayers - 1;
  const embed = half === 'first' ? embedding() : undefined;
  const blocks: Gemma2BlockWeights[] = [];
  for (let i = first; i <= last; i++) blocks.push(blockWeights(inModel, c, i));
  let head: Gemma2Folder['head'];
  if (half === 'second') {
    const finalNorm = inModel('norm.weight', [c.hiddenSize], 'final norm: hidden_size');
    // lm_head.weight sits outside the "model." prefix in transformers' files
    const unembed = c.tieWordEmbeddings
      ? embedding()
      : need('lm_head.weight', [c.vocabSize, c.hiddenSize], 'unembedding (tie_word_embeddings is false): vocab_size x hidden_size');
    head = { finalNorm, unembed };
  }
  if (missing.length) {
    const where = existsSync(join(dir, INDEX_FILE)) ? INDEX_FILE : index.shards().map((s) => basename(s.path)).join(', ');
    const named = describeMissing(missing, prefix);
    const listed = named.slice(0, LIST_MISSING).join(', ') + (named.length > LIST_MISSING ? `, and ${named.length - LIST_MISSING} more` : '');
    const absent = absentShards.size ? `; ${[...absentShards].join(', ')} (listed in ${INDEX_FILE}) ${absentShards.size > 1 ? 'are' : 'is'} absent` : '';
    const part = half === 'first' ? `the first half (embedding and blocks 0..${layer})` : `the second half (blocks ${layer + 1}..${c.numLayers - 1} after block ${layer}, final norm, unembedding)`;
    throw new LatentDiffError(dir, `missing ${missing.length === 1 ? 'tensor' : `${missing.length} tensors`} ${listed}, needed for ${part}; looked in ${where}${absent}`, 'missing-tensor');
  }
  return { dir, configFile, config, shards: index.shards(), embed, firstBlock: first, blocks, head, weightFiles: [...used].sort(), weightBytes };
}

/** Missing tensors for a message: a block missing whole is one entry ("model.layers.2.*"), others are named. */
function describeMissing(missing: { name: string; what: string }[], prefix: string): string[] {
  const layers = `${prefix}layers.`;
  const blockOf = (name: string) => (name.startsWith(layers) ? name.slice(layers.length).split('.')[0] : undefined);
  const count = new Map<string, number>();
  for (const m of missing) {
    const block = blockOf(m.name);
    if (block !== undefined) count.set(block, (count.get(block) ?? 0) + 1);
  }
  const out: string[] = [];
  const whole = new Set<string>();
  for (const m of missing) {
    const block = blockOf(m.name);
    if (block === undefined || count.get(block) !== BLOCK_TENSORS) out.push(`"${m.name}" (${m.what})`);
    else if (!whole.has(block)) {
      whole.add(block);
      out.push(`"${layers}${block}.*" (all ${BLOCK_TENSORS} tensors of block ${block})`);
    }
  }
  return out;
}

/** Tensors per decoder block (Gemma2BlockWeights). */
const BLOCK_TENSORS = 11;

function blockWeights(need: (name: string, shape: number[], what: string) => TensorRef, c: Gemma2Config, i: number): Gemma2BlockWeights {
  const p = `layers.${i}.`;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const norm = (n: string) => need(p + n, [c.hiddenSize], `block ${i}: hidden_size`);
  return {
    inputNorm: norm('input_layernorm.weight'),
    q: need(`${p}self_attn.q_proj.weight`, [qDim, c.hiddenSize], `block ${i}: num_attention_heads*head_dim x hidden_size`),
    k: need(`${p}self_attn.k_proj.weight`, [kvDim, c.hiddenSize], `block ${i}: num_key_value_heads*head_dim x hidden_size`),
    v: need(`${p}self_attn.v_proj.weight`, [kvDim, c.hiddenSize], `block ${i}: num_key_value_heads*head_dim x hidden_size`),
    o: need(`${p}self_attn.o_proj.weight`, [c.hiddenSize, qDim], `block ${i}: hidden_size x num_attention_heads*head_dim`),
    postAttnNorm: norm('post_attention_layernorm.weight'),
    preFfnNorm: norm('pre_feedforward_layernorm.weight'),
    gate: need(`${p}mlp.gate_proj.weight`, [c.intermediateSize, c.hiddenSize], `block ${i}: intermediate_size x hidden_size`),
    up: need(`${p}mlp.up_proj.weight`, [c.intermediateSize, c.hiddenSize], `block ${i}: intermediate_size x hidden_size`),
    down: need(`${p}mlp.down_proj.weight`, [c.hiddenSize, c.intermediateSize], `block ${i}: hidden_size x intermediate_size`),
    postFfnNorm: norm('post_feedforward_layernorm.weight'),
  };
}

/**
 * The folder's safetensors files: via model.safetensors.index.json (a shard's header is read only when one of
 * its tensors is needed, so shards holding only later blocks may be absent), else model.safetensors, else
 * every *.safetensors file. `shards()` lists the headers read so far.
 */
function readShards(dir: string): { shards: () => SafetensorsFile[]; fileOf: (tensor: string) => SafetensorsFile | undefined } {
  const indexFile = join(dir, INDEX_FILE);
  if (existsSync(indexFile)) {
    const index = readJsonObject(indexFile);
    const map = index.weight_map;
    if (!isJsonObject(map)) throw new LatentDiffError(indexFile, '"weight_map" must be an object mapping tensor names to safetensors files', 'invalid-index');
    for (const [tensor, file] of Object.entries(map)) {
      if (typeof file !== 'string' || file !== basename(file) || !file.endsWith('.safetensors')) {
        throw new LatentDiffError(indexFile, `weight_map["${tensor}"] must be the name of a .safetensors file in the same folder, got ${JSON.stringify(file)}`, 'invalid-index');
      }
    }
    const read = new Map<string, SafetensorsFile>();
    return {
      shards: () => [...read.values()],
      fileOf: (tensor) => {
        const file = map[tensor];
        if (typeof file !== 'string') return undefined;
        let shard = read.get(file);
        if (!shard) {
          shard = readSafetensorsHeader(join(dir, file));
          read.set(file, shard);
        }
        if (!shard.tensors.has(tensor)) throw new LatentDiffError(shard.path, `tensor "${tensor}" is listed in ${INDEX_FILE} for this file but is not in it`, 'missing-tensor');
        return shard;
      },
    };
  }
  const single = join(dir, SINGLE_FILE);
  const files = existsSync(single) ? [single] : readdirSync(dir).filter((n) => n.endsWith('.safetensors') && !n.startsWith('.')).sort().map((n) => join(dir, n));
  if (!files.length) throw new LatentDiffError(dir, `no ${INDEX_FILE}, ${SINGLE_FILE} or other *.safetensors file: not a Hugging Face model folder with safetensors weights`, 'not-found');
  const shards = files.map(readSafetensorsHeader);
  return { shards: () => shards, fileOf: (tensor) => shards.find((s) => s.tensors.has(tensor)) };
}
