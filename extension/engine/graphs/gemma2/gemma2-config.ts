import { LatentDiffError } from '../../errors';
import { isJsonObject, type JsonObject } from '../../bundle/json-file';

/** The parts of a Hugging Face Gemma 2 config.json that the graphs depend on. */
export interface Gemma2Config {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  queryPreAttnScalar: number;
  rmsNormEps: number;
  ropeTheta: number;
  slidingWindow: number;
  /** null: no attention-logit soft-capping. */
  attnLogitSoftcap: number | null;
  /** null: no soft-capping of the final logits. */
  finalLogitSoftcap: number | null;
  /** The unembedding is the embedding matrix (Gemma 2 always ties; false means lm_head.weight is its own tensor). */
  tieWordEmbeddings: boolean;
  /** Per block: does it use sliding-window attention? */
  slidingLayers: boolean[];
}

/**
 * transformers' Gemma2Config defaults, used for fields a config.json leaves out (transformers does the same).
 * Sizes have no default here: a config without them is not a usable model description.
 */
const DEFAULTS = {
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  sliding_window: 4096,
  attn_logit_softcapping: 50,
  final_logit_softcapping: 30,
};

const SUPPORTED_ACTIVATIONS = ['gelu_pytorch_tanh', 'gelu_tanh'];

/** Validates a parsed config.json of a Gemma 2 model; every problem names the file and the field. */
export function parseGemma2Config(raw: JsonObject, file: string): Gemma2Config {
  const fail = (problem: string, code = 'invalid-config') => new LatentDiffError(file, problem, code);
  if (raw.model_type !== 'gemma2') {
    throw fail(`model_type is ${JSON.stringify(raw.model_type)}; only Gemma 2 models ("gemma2") can be read from a Hugging Face folder (export other models to ONNX instead)`, 'unsupported-model');
  }
  const int = (key: string): number => {
    const v = raw[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (key: keyof typeof DEFAULTS): number => {
    const v = raw[key] ?? DEFAULTS[key];
    if (typeof v !== 'number' || !(v > 0)) throw fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const numLayers = int('num_hidden_layers');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads');
  if (numHeads % numKvHeads !== 0) throw fail(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  const activation = raw.hidden_activation ?? raw.hidden_act ?? 'gelu_pytorch_tanh';
  if (typeof activation !== 'string' || !SUPPORTED_ACTIVATIONS.includes(activation)) {
    throw fail(`hidden_activation ${JSON.stringify(activation)} is not supported (Gemma 2 uses "gelu_pytorch_tanh")`, 'unsupported-model');
  }
  if (raw.attention_bias === true) throw fail('attention_bias is true; Gemma 2 attention has no biases and this reader does not support them', 'unsupported-model');
  if (raw.rope_scaling !== undefined && raw.rope_scaling !== null) throw fail(`rope_scaling ${JSON.stringify(raw.rope_scaling)} is not supported (Gemma 2 uses plain RoPE)`, 'unsupported-model');
  if (raw.use_bidirectional_attention === true) throw fail('use_bidirectional_attention is true; Gemma 2 language models attend causally', 'unsupported-model');
  const softcap = raw.attn_logit_softcapping === null ? null : num('attn_logit_softcapping');
  const finalSoftcap = raw.final_logit_softcapping === null ? null : num('final_logit_softcapping');
  const tie = raw.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') throw fail(`"tie_word_embeddings" must be true or false, got ${JSON.stringify(tie)}`);
  const window = num('sliding_window');
  if (!Number.isInteger(window)) throw fail(`"sliding_window" must be an integer, got ${window}`);
  return {
    vocabSize: int('vocab_size'),
    hiddenSize: int('hidden_size'),
    intermediateSize: int('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim: int('head_dim'),
    queryPreAttnScalar: num('query_pre_attn_scalar'),
    rmsNormEps: num('rms_norm_eps'),
    ropeTheta: ropeTheta(raw, num, fail),
    slidingWindow: window,
    attnLogitSoftcap: softcap,
    finalLogitSoftcap: finalSoftcap,
    tieWordEmbeddings: tie,
    slidingLayers: slidingLayers(raw, numLayers, fail),
  };
}

/** transformers 5 writes RoPE settings as `rope_parameters: {rope_type, rope_theta}`; older files as `rope_theta`. */
function ropeTheta(raw: JsonObject, num: (key: keyof typeof DEFAULTS) => number, fail: (p: string, code?: string) => LatentDiffError): number {
  const params = raw.rope_parameters;
  if (params === undefined || params === null) return num('rope_theta');
  if (!isJsonObject(params)) throw fail(`"rope_parameters" must be an object, got ${JSON.stringify(params)}`);
  if ((params.rope_type ?? 'default') !== 'default') throw fail(`rope_parameters.rope_type ${JSON.stringify(params.rope_type)} is not supported (Gemma 2 uses plain RoPE, "default")`, 'unsupported-model');
  const theta = params.rope_theta ?? raw.rope_theta ?? DEFAULTS.rope_theta;
  if (typeof theta !== 'number' || !(theta > 0)) throw fail(`rope_parameters.rope_theta must be a positive number, got ${JSON.stringify(theta)}`);
  return theta;
}

/**
 * Which blocks use the sliding window. Newer transformers write `layer_types`; older configs leave it out and
 * transformers then slides on the even blocks (0, 2, 4, ...) and attends globally on the odd ones.
 */
function slidingLayers(raw: JsonObject, numLayers: number, fail: (p: string) => LatentDiffError): boolean[] {
  const types = raw.layer_types;
  if (types === undefined || types === null) return Array.from({ length: numLayers }, (_, i) => i % 2 === 0);
  if (!Array.isArray(types) || types.length !== numLayers) throw fail(`"layer_types" must list ${numLayers} entries (num_hidden_layers), got ${JSON.stringify(types)}`);
  return types.map((t, i) => {
    if (t === 'sliding_attention') return true;
    if (t === 'full_attention') return false;
    throw fail(`layer_types[${i}] is ${JSON.stringify(t)}; expected "sliding_attention" or "full_attention"`);
  });
}
