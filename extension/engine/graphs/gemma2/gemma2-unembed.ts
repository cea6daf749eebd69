/**
 * Gemma 2's direct-path logit-effects graph: residual-space vectors through the unembedding (the tied
 * embedding matrix, read from the folder's safetensors as external data, cast to float32 in the graph when
 * stored as bf16/f16), top and bottom k tokens per vector (unembed-top-k.ts). No final norm, no soft-capping.
 */
import type { PlacedGraph } from '../place-graph';
import { unembedTopKOverTensor } from '../unembed-top-k';
import { openGemma2Folder } from './hf-folder';

export function buildGemma2UnembedGraph(dir: string, layer: number, cacheDir: string): PlacedGraph {
  const folder = openGemma2Folder(dir, layer, 'second');
  return unembedTopKOverTensor(folder.head!.unembed, 'gemma2-unembed', cacheDir);
}
