import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildGemma2GraphBytes, GEMMA2_INPUTS, GEMMA2_OUTPUT, layerOutputName } from './gemma2-graph';
import { placeGraph, type PlacedGraph } from '../place-graph';
import type { Gemma2Config } from './gemma2-config';
import { GraphCache, weightsIdentity } from './graph-cache';
import { openGemma2Folder } from './hf-folder';

/** Bump when the graph's construction changes, so cached graphs from older builds are not reused. */
const BUILDER_VERSION = 1;

export type Gemma2LoadStage = 'reading-headers' | 'building-graph' | 'writing-graph' | 'cached';

export interface Gemma2BuildOptions {
  /** Output the residual stream after this block (0-based). */
  layer: number;
  /** Where graph records (and, if the weights' folder is read-only, hard-linked graphs) go. */
  cacheDir: string;
  /** Also output resid_<i> for every block 0..layer (tests, diagnostics). */
  allLayers?: boolean;
  onProgress?: (stage: Gemma2LoadStage, fraction: number) => void;
}

export interface Gemma2Graph extends PlacedGraph {
  inputNames: readonly string[];
  /** Residual stream after block `layer`: float32 [batch, seq, hidden]. */
  outputName: string;
  /** resid_<i> for blocks 0..layer when allLayers was set, else empty. */
  layerOutputNames: string[];
  config: Gemma2Config;
  /** The safetensors files the graph points into (all in the model folder). */
  weightFiles: string[];
  /** Bytes of the tensors the graph references (embedding + blocks 0..layer), in their stored dtype. */
  weightBytes: number;
  fromCache: boolean;
}

interface CachedFacts {
  weightFiles: string[];
  weightBytes: number;
  placement: PlacedGraph['placement'];
}

/**
 * A Hugging Face Gemma 2 folder -> an ONNX graph up to block `layer` whose weights are the folder's own
 * safetensors files (memory-mapped by ORT, never converted). Built once per set of weights and cached.
 */
export function buildGemma2Graph(dir: string, options: Gemma2BuildOptions): Gemma2Graph {
  const progress = options.onProgress ?? (() => {});
  progress('reading-headers', 0);
  const folder = openGemma2Folder(dir, options.layer);
  const names = {
    inputNames: GEMMA2_INPUTS,
    outputName: GEMMA2_OUTPUT,
    layerOutputNames: options.allLayers ? folder.blocks.map((_, i) => layerOutputName(i)) : [],
    config: folder.config,
  };
  const key = weightsIdentity(folder.shards, readFileSync(join(dir, 'config.json'), 'utf8'), { layer: options.layer, allLayers: !!options.allLayers, BUILDER_VERSION });
  const cache = new GraphCache<CachedFacts>(join(options.cacheDir, 'gemma2'));
  const hit = cache.get(key);
  if (hit) {
    progress('cached', 1);
    return { ...names, ...hit.meta, path: hit.path, bytes: readFileSync(hit.path), fromCache: true };
  }
  progress('building-graph', 0.3);
  const bytes = buildGemma2GraphBytes(folder, { allLayers: options.allLayers });
  progress('writing-graph', 0.7);
  const placed = placeGraph(bytes, folder.weightFiles, `gemma2-l${options.layer}`, options.cacheDir);
  const facts: CachedFacts = { weightFiles: folder.weightFiles, weightBytes: folder.weightBytes, placement: placed.placement };
  if (placed.path) cache.set(key, { path: placed.path, meta: facts });
  progress('writing-graph', 1);
  return { ...names, ...placed, ...facts, fromCache: false };
}
