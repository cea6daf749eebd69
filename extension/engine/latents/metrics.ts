import { readTensorF32, type TensorRef } from '../bundle/safetensors';
import { LatentDiffError } from '../errors';
import type { CrosscoderCheckpoint, LatentMetrics } from '../types';
import { rejectDecoupled } from '../graphs/crosscoder-tensors';
import { openGraphSession, type SessionOptions } from '../runtime/graph-session';
import { buildMetricsGraph, METRICS_OUTPUTS, type MetricsOutput } from '../graphs/metrics-graph';
import { DEFAULT_TAG_THRESHOLDS, tagCodes, type TagThresholds } from './tags';

/**
 * The weight-intrinsic part of the metrics, in float64: what the cache stores. Everything else (Delta-norm,
 * scale, tags) is derived from it cheaply, so a cache entry never depends on settings.
 */
export interface LatentGeometry {
  dictSize: number;
  decNormBase: Float64Array;
  decNormChat: Float64Array;
  decCos: Float64Array;
  encNormBase: Float64Array;
  encNormChat: Float64Array;
  encCos: Float64Array;
}

export interface LatentMetricsOptions {
  /** Where the metrics graph goes when the checkpoint's folder is read-only (place-graph.ts). */
  cacheDir: string;
  sessionOptions?: SessionOptions;
  thresholds?: TagThresholds;
  /** Weight elements reduced at a time by the graph (metrics-graph.ts). */
  chunkElements?: number;
}

/** cos(u, v) from norms and dot product; 0 when either vector is zero (torch's cosine_similarity convention). */
function cosine(dot: number, n0: number, n1: number): number {
  if (n0 === 0 || n1 === 0) return 0;
  return Math.max(-1, Math.min(1, dot / (n0 * n1)));
}

/**
 * The metrics graph reduces every encoder and decoder weight into its latent's sums, so a NaN or Inf
 * anywhere in them shows there, found without a JS pass over gigabytes; the biases are small and read here.
 */
function checkFiniteWeights(ckpt: CrosscoderCheckpoint, decoderSums: Float32Array[], encoderSums: Float32Array[]): void {
  const fail = (ref: TensorRef, where: string): never => {
    throw new LatentDiffError(ref.file, `tensor "${ref.name}" holds non-finite values (NaN or Inf, or values so large their squares overflow), first ${where}: the checkpoint is broken`, 'non-finite');
  };
  for (const [sums, ref] of [[decoderSums, ckpt.decoderWeight], [encoderSums, ckpt.encoderWeight]] as const) {
    for (const s of sums) {
      const j = s.findIndex((v) => !Number.isFinite(v));
      if (j >= 0) fail(ref, `in latent ${j}`);
    }
  }
  for (const ref of [ckpt.encoderBias, ckpt.decoderBias]) {
    const i = readTensorF32(ref).findIndex((v) => !Number.isFinite(v));
    if (i >= 0) fail(ref, `at element ${i}`);
  }
  if (ckpt.threshold !== undefined && !Number.isFinite(ckpt.threshold)) throw new LatentDiffError(ckpt.file, `tensor "threshold" is ${ckpt.threshold}: the checkpoint is broken`, 'non-finite');
}

/** Runs the metrics graph over the checkpoint's weights and finishes norms and cosines in float64. */
export async function computeLatentGeometry(ckpt: CrosscoderCheckpoint, opts: LatentMetricsOptions): Promise<LatentGeometry> {
  // Every node of this graph is constant, so ORT's optimizer would constant-fold it all at session creation,
  // measured 3x slower and +1.3 GB peak memory at the paper's size: optimisation stays off.
  const sessionOptions = { ...opts.sessionOptions, graphOptimizationLevel: 'disabled' as const };
  const session = await openGraphSession(buildMetricsGraph(ckpt, { chunkElements: opts.chunkElements }), 'latent-metrics', opts.cacheDir, sessionOptions);
  try {
    const out = await session.run({});
    const get = (name: MetricsOutput) => out[name].data as Float32Array;
    const D = ckpt.dictSize;
    const geo: LatentGeometry = {
      dictSize: D,
      decNormBase: new Float64Array(D), decNormChat: new Float64Array(D), decCos: new Float64Array(D),
      encNormBase: new Float64Array(D), encNormChat: new Float64Array(D), encCos: new Float64Array(D),
    };
    const [dsb, dsc, dd, esb, esc, ed] = METRICS_OUTPUTS.map(get);
    checkFiniteWeights(ckpt, [dsb, dsc, dd], [esb, esc, ed]);
    for (let j = 0; j < D; j++) {
      geo.decNormBase[j] = Math.sqrt(dsb[j]);
      geo.decNormChat[j] = Math.sqrt(dsc[j]);
      geo.decCos[j] = cosine(dd[j], geo.decNormBase[j], geo.decNormChat[j]);
      geo.encNormBase[j] = Math.sqrt(esb[j]);
      geo.encNormChat[j] = Math.sqrt(esc[j]);
      geo.encCos[j] = cosine(ed[j], geo.encNormBase[j], geo.encNormChat[j]);
    }
    return geo;
  } finally {
    await session.release();
  }
}

/**
 * Delta-norm in the paper's convention (method.md 4.1): 0.5 * ((|d_chat| - |d_base|) / max + 1); 1 = chat-only.
 * NaN when both decoder vectors are zero (the reference's 0/0); its tag is then 'other'.
 */
export function deltaNorm(normBase: number, normChat: number): number {
  const m = Math.max(normBase, normChat);
  if (m === 0) return NaN;
  return 0.5 * ((normChat - normBase) / m + 1);
}

/** s_j of the code normalisation (method.md 2.2), from the two decoder norms. */
export function codeScale(norm: CrosscoderCheckpoint['codeNormalization'], normBase: number, normChat: number): number {
  const cc = normBase + normChat;
  const sae = Math.hypot(normBase, normChat);
  switch (norm) {
    case 'crosscoder': return cc;
    case 'sae': return sae;
    case 'mixed': return sae + 0.1 * cc;
    case 'none': return 1;
    case 'decoupled': throw new Error('codeScale: decoupled code normalisation has no single scale per latent');
  }
}

export function deriveLatentMetrics(ckpt: CrosscoderCheckpoint, geo: LatentGeometry, thresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS): LatentMetrics {
  rejectDecoupled(ckpt);
  const D = geo.dictSize;
  const delta = new Float64Array(D);
  const scale = new Float32Array(D);
  for (let j = 0; j < D; j++) {
    delta[j] = deltaNorm(geo.decNormBase[j], geo.decNormChat[j]);
    scale[j] = codeScale(ckpt.codeNormalization, geo.decNormBase[j], geo.decNormChat[j]);
  }
  return {
    dictSize: D,
    decNormBase: Float32Array.from(geo.decNormBase),
    decNormChat: Float32Array.from(geo.decNormChat),
    deltaNorm: Float32Array.from(delta),
    decCos: Float32Array.from(geo.decCos),
    encNormBase: Float32Array.from(geo.encNormBase),
    encNormChat: Float32Array.from(geo.encNormChat),
    encCos: Float32Array.from(geo.encCos),
    scale,
    tag: tagCodes(delta, thresholds),
  };
}

/** Computes the static per-latent metrics of a checkpoint (no cache; see metrics-cache.ts for the cached form). */
export async function computeLatentMetrics(ckpt: CrosscoderCheckpoint, opts: LatentMetricsOptions): Promise<LatentMetrics> {
  rejectDecoupled(ckpt);
  return deriveLatentMetrics(ckpt, await computeLatentGeometry(ckpt, opts), opts.thresholds);
}
