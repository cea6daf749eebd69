import { LatentDiffError } from '../errors';
import { readTensorF32, type TensorRef } from '../bundle/safetensors';
import type { CrosscoderCheckpoint } from '../types';

function expectShape(ref: TensorRef, shapes: number[][], what: string): void {
  if (!shapes.some((s) => s.length === ref.shape.length && s.every((v, i) => v === ref.shape[i]))) {
    throw new LatentDiffError(ref.file, `tensor "${ref.name}" (${what}) has shape ${JSON.stringify(ref.shape)}, expected ${shapes.map((s) => JSON.stringify(s)).join(' or ')}`);
  }
}

/** Checks every tensor shape against dModel/dictSize and the decoder layout, so graph building cannot go wrong silently. */
export function checkCrosscoderShapes(ckpt: CrosscoderCheckpoint): void {
  const d = ckpt.dModel;
  const D = ckpt.dictSize;
  if (!(Number.isInteger(d) && d > 0 && Number.isInteger(D) && D > 0)) throw new LatentDiffError(ckpt.file, `invalid crosscoder size: dModel ${d}, dictSize ${D}`);
  expectShape(ckpt.encoderWeight, [[2, d, D]], 'encoder weight');
  expectShape(ckpt.encoderBias, [[D], [2, D]], 'encoder bias');
  expectShape(ckpt.decoderWeight, [ckpt.decoderLayout === 'LDd' ? [2, D, d] : [D, 2, d]], `decoder weight, layout ${ckpt.decoderLayout}`);
  expectShape(ckpt.decoderBias, [[2, d]], 'decoder bias');
}

export function rejectDecoupled(ckpt: CrosscoderCheckpoint): void {
  if (ckpt.codeNormalization === 'decoupled') {
    throw new LatentDiffError(ckpt.file, "code normalisation 'decoupled' is not supported: its activations and thresholds are per model, not one value per latent", 'unsupported');
  }
}

/** b_enc [D]; a legacy [2, D] bias is summed over the models (method.md 2.1). */
export function readEncoderBias(ckpt: CrosscoderCheckpoint): Float32Array {
  const b = readTensorF32(ckpt.encoderBias);
  const D = ckpt.dictSize;
  if (b.length === D) return b;
  const out = new Float32Array(D);
  for (let j = 0; j < D; j++) out[j] = b[j] + b[D + j];
  return out;
}

/** b_dec [2, d]: row 0 base, row 1 chat. */
export function readDecoderBias(ckpt: CrosscoderCheckpoint): Float32Array {
  return readTensorF32(ckpt.decoderBias);
}
