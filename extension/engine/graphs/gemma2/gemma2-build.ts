import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGemma2GraphBytes, GEMMA2_INPUTS, GEMMA2_OUTPUT, GEMMA2_SECOND_INPUTS, layerOutputName, pastKeyName, pastValueName, type Gemma2GraphSpec } from './gemma2-graph';
import { placeGraph, type PlacedGraph } from '../place-graph';
import type { Gemma2Config } from './gemma2-config';
import { GraphCache, weightsIdentity } from './graph-cache';
import { openGemma2Folder, type Gemma2Half } from './hf-folder';
import { NEXT_TOKEN } from '../next-token-head';

/** Bump when the graph's construction changes, so cached graphs from older builds are not reused. */
const BUILDER_VERSION = 2;

export type Gemma2LoadStage = 'reading-headers' | 'building-graph' | 'writing-graph' | 'cached';

export interface Gemma2BuildOptions extends Gemma2GraphSpec {
  /** The model is split after this block (0-based): the first half outputs the residual stream after it. */
  layer: number;
  /** Where graph records (and, if the weights' folder is read-only, hard-linked graphs) go. */
  cacheDir: string;
  /** Which half (default 'first'). */
  half?: Gemma2Half;
  onProgress?: (stage: Gemma2LoadStage, fraction: number) => void;
}

export interface Gemma2Graph extends PlacedGraph {
  half: Gemma2Half;
  inputNames: readonly string[];
  /** First half: the residual stream after block `layer`, float32 [batch, seq, hidden]. Second half: NEXT_TOKEN.argmax (see NEXT_TOKEN for the rest). */
  outputName: string;
  /** resid_<i> for blocks 0..layer when allLayers was set (first half), else empty. */
  layerOutputNames: string[];
  /** Model indices of the blocks whose keys/values the graph takes and returns (empty without kv). */
  kvBlocks: number[];
  config: Gemma2Config;
  /** The safetensors files the graph points into (all in the model folder). */
  weightFiles: string[];
  /** Bytes of the tensors the graph references, in their stored dtype. */
  weightBytes: number;
  fromCache: boolean;
}

interface CachedFacts {
  weightFiles: string[];
  weightBytes: number;
  placement: PlacedGraph['placement'];
}

/**
 * A Hugging Face Gemma 2 folder -> an ONNX graph of one half of the model split after block `layer`, whose
 * weights are the folder's own safetensors files (memory-mapped by ORT, never converted). Built once per set
 * of weights and graph variant, and cached.
 */
export function buildGemma2Graph(dir: string, options: Gemma2BuildOptions): Gemma2Graph {
  const progress = options.onProgress ?? (() => {});
  const half = options.half ?? 'first';
  progress('reading-headers', 0);
  const folder = openGemma2Folder(dir, options.layer, half);
  const first = half === 'first';
  const spec: Required<Gemma2GraphSpec> = {
    allLayers: first && !!options.allLayers,
    kv: !!options.kv,
    head: first ? {} : { logProbs: !!options.head?.logProbs, kl: !!options.head?.kl },
  };
  const kvBlocks = spec.kv ? folder.blocks.map((_, j) => folder.firstBlock + j) : [];
  const names = {
    half,
    inputNames: [
      ...(first ? GEMMA2_INPUTS : GEMMA2_SECOND_INPUTS),
      ...kvBlocks.flatMap((i) => [pastKeyName(i), pastValueName(i)]),
      ...(first ? [] : [NEXT_TOKEN.topK, ...(spec.head.kl ? [NEXT_TOKEN.klReference] : [])]),
    ],
    outputName: first ? GEMMA2_OUTPUT : NEXT_TOKEN.argmax,
    layerOutputNames: spec.allLayers ? folder.blocks.map((_, i) => layerOutputName(i)) : [],
    kvBlocks,
    config: folder.config,
  };
  const variant = { half, layer: options.layer, ...spec, BUILDER_VERSION };
  const key = weightsIdentity(folder.shards, readFileSync(join(dir, 'config.json'), 'utf8'), variant);
  const cache = new GraphCache<CachedFacts>(join(options.cacheDir, 'gemma2'));
  const hit = cache.get(key);
  if (hit) {
    progress('cached', 1);
    return { ...names, ...hit.meta, path: hit.path, bytes: readFileSync(hit.path), fromCache: true };
  }
  progress('building-graph', 0.3);
  const bytes = buildGemma2GraphBytes(folder, spec);
  progress('writing-graph', 0.7);
  const stem = `gemma2-l${options.layer}${first ? '' : '-second'}${spec.kv ? '-kv' : ''}`;
  const placed = placeGraph(bytes, folder.weightFiles, stem, options.cacheDir);
  const facts: CachedFacts = { weightFiles: folder.weightFiles, weightBytes: folder.weightBytes, placement: placed.placement };
  if (placed.path) cache.set(key, { path: placed.path, meta: facts });
  progress('writing-graph', 1);
  return { ...names, ...placed, ...facts, fromCache: false };
}
