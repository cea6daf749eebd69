import { openSync, readSync, closeSync } from 'node:fs';
import { readTensorF32, type TensorRef } from '../../bundle/safetensors';
import { readDecoderBias } from '../../graphs/crosscoder-tensors';
import type { CrosscoderCheckpoint } from '../../types';
import type { DecoderWeights } from '../../latents/latent-scaling';
import { LatentDiffError } from '../../errors';

/** Reads an F32 tensor straight into a Float32Array (other dtypes through the converting reader). */
function readF32(ref: TensorRef): Float32Array {
  if (ref.dtype !== 'F32') return readTensorF32(ref);
  const out = new Float32Array(ref.byteLength / 4);
  const bytes = new Uint8Array(out.buffer);
  const fd = openSync(ref.file, 'r');
  try {
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), ref.offset + done);
      if (n === 0) throw new LatentDiffError(ref.file, `unexpected end of file while reading tensor "${ref.name}"`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/** The crosscoder's decoder in memory, for the sparse reconstructions and dot products of Latent Scaling. */
export function loadDecoderWeights(ckpt: CrosscoderCheckpoint): DecoderWeights {
  return { dModel: ckpt.dModel, dictSize: ckpt.dictSize, weight: readF32(ckpt.decoderWeight), layout: ckpt.decoderLayout, bias: readDecoderBias(ckpt) };
}
