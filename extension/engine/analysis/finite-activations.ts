/**
 * Residual-stream activations must be finite: a model with NaN or Inf weights otherwise yields null numbers,
 * "shared" verdicts and NaN statistics with no error. One pass over T x d floats per model (megabytes, not
 * the gigabytes of the weights), naming the model's file and the first token that went wrong.
 */
import type { ModelSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';

/**
 * Throws a LatentDiffError naming the model's file and the first token whose activation vector is not finite;
 * tokens before `fromToken` were checked already (a live update's unchanged prefix).
 */
export function checkFiniteActivations(x: Float32Array, d: number, model: ModelSource, tokenLabel: (t: number) => string, fromToken = 0): void {
  const modelFile = model.kind === 'onnx' ? model.path : model.dir;
  for (let i = fromToken * d; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      const t = Math.floor(i / d);
      throw new LatentDiffError(modelFile, `the model produced a non-finite activation (${x[i]}) at ${tokenLabel(t)}, residual dimension ${i - t * d}: its weights or graph hold NaN or Inf`, 'non-finite');
    }
  }
}
