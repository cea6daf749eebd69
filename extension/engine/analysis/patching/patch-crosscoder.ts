/**
 * What the patching experiment needs from the crosscoder (method.md 9): raw codes f = encode([h^base, h^chat])
 * (after the BatchTopK threshold, as the crosscoder's inference does) and, for given codes, the decoder
 * difference sum_j f_j (d_j^chat - d_j^base), without the decoder biases (the paper does not add their
 * difference).
 */
import { CrosscoderRunner, type CrosscoderRunnerOptions } from '../../runtime/crosscoder-runner';
import { readDecoderBias } from '../../graphs/crosscoder-tensors';
import type { SessionOptions } from '../../runtime/graph-session';
import type { CrosscoderCheckpoint, LatentMetrics } from '../../types';

export interface PatchCrosscoder {
  readonly dModel: number;
  readonly dictSize: number;
  /** Raw codes [n * dictSize] of n tokens' residuals [n * dModel]. */
  encodeRaw(hBase: Float32Array, hChat: Float32Array, n: number): Promise<Float32Array>;
  /** sum_j f_j (d_j^chat - d_j^base) [n * dModel] for codes f [n * dictSize]. */
  decoderDifference(f: Float32Array, n: number): Promise<Float32Array>;
}

/** The runner configuration a PatchCrosscoder needs: raw codes only (ModelPair.crosscoder takes it too). */
export const RAW_CODES: Pick<CrosscoderRunnerOptions, 'topK' | 'outputs'> = {
  topK: 1,
  outputs: { top: false, summary: false, selected: false, raw: true, recon: false },
};

/** A PatchCrosscoder over a runner made with RAW_CODES: decode gives x̂^m = f W^m + b^m, the biases are taken off. */
export function patchCrosscoder(runner: CrosscoderRunner, ckpt: CrosscoderCheckpoint): PatchCrosscoder {
  const d = ckpt.dModel;
  const bias = readDecoderBias(ckpt);
  return {
    dModel: d,
    dictSize: ckpt.dictSize,
    async encodeRaw(hBase, hChat, n) {
      return (await runner.encode(hBase, hChat, n)).raw!;
    },
    async decoderDifference(f, n) {
      const { reconBase, reconChat } = await runner.decode(f, n);
      const out = new Float32Array(n * d);
      for (let t = 0; t < n; t++) {
        for (let i = 0; i < d; i++) out[t * d + i] = reconChat[t * d + i] - bias[d + i] - (reconBase[t * d + i] - bias[i]);
      }
      return out;
    },
  };
}

/** A PatchCrosscoder with its own runner (tests, benchmarks); dispose the runner when done. */
export async function openPatchCrosscoder(
  ckpt: CrosscoderCheckpoint,
  metrics: LatentMetrics,
  opts: { cacheDir: string; sessionOptions?: SessionOptions },
): Promise<PatchCrosscoder & { dispose(): Promise<void> }> {
  const runner = await CrosscoderRunner.create(ckpt, metrics, { ...RAW_CODES, cacheDir: opts.cacheDir, sessionOptions: opts.sessionOptions });
  return { ...patchCrosscoder(runner, ckpt), dispose: () => runner.dispose() };
}
