/** The demo bundle's models and tokenizer opened once per test file (cpu), for the statistics tests to share. */
import { join } from 'node:path';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { openSequenceEncoder, type SequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';

export const DEMO = join(__dirname, '..', '..', 'models', 'demo');

export async function openDemoEncoder(cacheDir: string): Promise<{ encoder: SequenceEncoder; tokenizer: GemmaTokenizer }> {
  const bundle = loadBundle(DEMO);
  const encoder = await openSequenceEncoder(bundle, await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir }), { provider: 'cpu', cacheDir });
  return { encoder, tokenizer: GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config) };
}
