/**
 * Random Gemma-2-2B-shaped model folders (config.json + sharded safetensors + index, blocks 0..lastBlock only)
 * and a dictionary_learning crosscoder folder, for the full-size benchmark. Values are random; shapes, dtypes
 * and file layout are those of the published checkpoints.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type TensorToWrite } from '../../extension/engine/bundle/safetensors';

export const GEMMA2_2B = {
  vocab: 256000,
  hidden: 2304,
  intermediate: 9216,
  heads: 8,
  kvHeads: 4,
  headDim: 256,
  layers: 26,
};

export const DICT_SIZE = 73728;

export type WeightDtype = 'F32' | 'BF16';

/** The published gemma-2-2b config.json's fields (the -it model's are the same). */
export function gemma2Config2b(): Record<string, unknown> {
  const s = GEMMA2_2B;
  return {
    architectures: ['Gemma2ForCausalLM'], attention_bias: false, attention_dropout: 0.0, attn_logit_softcapping: 50.0,
    bos_token_id: 2, cache_implementation: 'hybrid', eos_token_id: 1, final_logit_softcapping: 30.0, head_dim: s.headDim,
    hidden_act: 'gelu_pytorch_tanh', hidden_activation: 'gelu_pytorch_tanh', hidden_size: s.hidden, initializer_range: 0.02,
    intermediate_size: s.intermediate, max_position_embeddings: 8192, model_type: 'gemma2', num_attention_heads: s.heads,
    num_hidden_layers: s.layers, num_key_value_heads: s.kvHeads, pad_token_id: 0, query_pre_attn_scalar: 256,
    rms_norm_eps: 1e-6, rope_theta: 10000.0, sliding_window: 4096, torch_dtype: 'float32', vocab_size: s.vocab,
  };
}

/** xorshift32 uniform values in [-scale, scale). */
function uniform(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) / 2147483648 - 1) * scale;
  }
  return a;
}

function tensor(dtype: WeightDtype, shape: number[], seed: number, scale: number): TensorToWrite {
  const f = uniform(shape.reduce((a, b) => a * b, 1), seed, scale);
  if (dtype === 'F32') return { dtype, shape, data: f };
  const u32 = new Uint32Array(f.buffer);
  const bf16 = new Uint16Array(u32.length);
  for (let i = 0; i < u32.length; i++) bf16[i] = u32[i] >>> 16;
  return { dtype, shape, data: bf16 };
}

function blockTensors(i: number, dtype: WeightDtype, seed: number): Record<string, TensorToWrite> {
  const s = GEMMA2_2B;
  const p = `model.layers.${i}.`;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const lin = (out: number, inp: number, k: number) => tensor(dtype, [out, inp], seed + k, Math.sqrt(3 / inp));
  const norm = (k: number) => tensor(dtype, [s.hidden], seed + k, 0.1);
  return {
    [`${p}input_layernorm.weight`]: norm(1),
    [`${p}self_attn.q_proj.weight`]: lin(q, s.hidden, 2),
    [`${p}self_attn.k_proj.weight`]: lin(kv, s.hidden, 3),
    [`${p}self_attn.v_proj.weight`]: lin(kv, s.hidden, 4),
    [`${p}self_attn.o_proj.weight`]: lin(s.hidden, q, 5),
    [`${p}post_attention_layernorm.weight`]: norm(6),
    [`${p}pre_feedforward_layernorm.weight`]: norm(7),
    [`${p}mlp.gate_proj.weight`]: lin(s.intermediate, s.hidden, 8),
    [`${p}mlp.up_proj.weight`]: lin(s.intermediate, s.hidden, 9),
    [`${p}mlp.down_proj.weight`]: lin(s.hidden, s.intermediate, 10),
    [`${p}post_feedforward_layernorm.weight`]: norm(11),
  };
}

/**
 * Writes a model folder with blocks 0..lastBlock (and the final norm when that is the model's last block) in shards of at most ~2.3 GB (the embedding alone in the first,
 * as in the published files) so the writer never holds more than one shard in memory. Returns bytes written.
 */
export function writeGemma2Folder(dir: string, lastBlock: number, dtype: WeightDtype, seed: number): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...gemma2Config2b(), torch_dtype: dtype === 'F32' ? 'float32' : 'bfloat16' }, null, 2));
  const groups: number[][] = [[]];
  const perShard = dtype === 'F32' ? 7 : 14;
  for (let i = 0; i <= lastBlock; i++) {
    if (groups.length === 1 || groups.at(-1)!.length === perShard) groups.push([]);
    groups.at(-1)!.push(i);
  }
  const n = groups.length;
  const weightMap: Record<string, string> = {};
  let bytes = 0;
  groups.forEach((blocks, k) => {
    const file = `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`;
    const tensors: Record<string, TensorToWrite> = k === 0
      ? { 'model.embed_tokens.weight': tensor(dtype, [GEMMA2_2B.vocab, GEMMA2_2B.hidden], seed, 0.05) }
      : Object.assign({}, ...blocks.map((i) => blockTensors(i, dtype, seed + 100 * (i + 1))));
    if (k === n - 1 && lastBlock === GEMMA2_2B.layers - 1) tensors['model.norm.weight'] = tensor(dtype, [GEMMA2_2B.hidden], seed + 7, 0.1);
    writeSafetensors(join(dir, file), tensors, { format: 'pt' });
    for (const [name, t] of Object.entries(tensors)) {
      weightMap[name] = file;
      bytes += t.data.byteLength;
    }
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: bytes }, weight_map: weightMap }, null, 2));
  return bytes;
}

/** A dictionary_learning CrossCoder folder (model.safetensors + config.json) at the paper's size, float32. */
export function writeCrosscoderFolder(dir: string, seed: number): number {
  mkdirSync(dir, { recursive: true });
  const d = GEMMA2_2B.hidden;
  const D = DICT_SIZE;
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ activation_dim: d, dict_size: D, encoder_layers: null, init_with_transpose: true, norm_init_scale: 0.005, num_layers: 2, same_init_for_all_layers: true }, null, 2));
  const bias = uniform(D, seed + 2, 0.5).map((v) => v - 2.5); // ~1% of pre-activations positive
  const tensors: Record<string, TensorToWrite> = {
    'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: uniform(2 * d * D, seed + 1, Math.sqrt(3 / (2 * d))) },
    'encoder.bias': { dtype: 'F32', shape: [D], data: bias },
    'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: uniform(2 * D * d, seed + 3, Math.sqrt(3 / d)) },
    'decoder.bias': { dtype: 'F32', shape: [2, d], data: uniform(2 * d, seed + 4, 0.1) },
  };
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return Object.values(tensors).reduce((a, t) => a + t.data.byteLength, 0);
}
