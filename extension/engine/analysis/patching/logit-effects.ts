/**
 * Logit effects of a latent (issue 8): each model's decoder vector d_j^m through that model's unembedding,
 * direct path only: d_j^m @ W_U^T, without the final RMSNorm (neither its normalisation nor its gain) and
 * without soft-capping, so the numbers are the vector's own contribution to the logits before the final norm
 * rescales the whole residual. The LOGIT_EFFECTS_CONVENTION text says so wherever they are shown.
 */
import { readTensorF32 } from '../../bundle/safetensors';
import { LatentDiffError } from '../../errors';
import { decoderRow } from '../../latents/latent-scaling';
import type { SplitModel } from '../../runtime/split-model';
import type { CrosscoderCheckpoint } from '../../types';

export const LOGIT_EFFECTS_CONVENTION = 'direct path: d_j^m @ W_U^T through the unembedding only (no final norm, no soft-capping)';

export interface TokenEffect {
  id: number;
  logit: number;
}

export interface LogitEffects {
  latent: number;
  convention: string;
  /** Per model, the k tokens promoted most (highest first) and suppressed most (lowest first). */
  base: { promoted: TokenEffect[]; suppressed: TokenEffect[] };
  chat: { promoted: TokenEffect[]; suppressed: TokenEffect[] };
}

/** d_j^base and d_j^chat read from the checkpoint's decoder (either layout). */
export function decoderVectors(ckpt: CrosscoderCheckpoint, j: number): { base: Float32Array; chat: Float32Array } {
  if (!(Number.isInteger(j) && j >= 0 && j < ckpt.dictSize)) throw new LatentDiffError(undefined, `latent ${j} does not exist: this crosscoder has latents 0..${ckpt.dictSize - 1}`, 'invalid-input');
  const layout = { dModel: ckpt.dModel, dictSize: ckpt.dictSize, layout: ckpt.decoderLayout, weight: new Float32Array(0), bias: new Float32Array(0) };
  const row = (m: 0 | 1) => readTensorF32(ckpt.decoderWeight, decoderRow(layout, m, j), ckpt.dModel);
  return { base: row(0), chat: row(1) };
}

async function effectsOf(model: SplitModel, v: Float32Array, k: number): Promise<LogitEffects['base']> {
  if (!model.unembedTopK) throw new LatentDiffError(model.name, 'this model does not expose its unembedding, so logit effects cannot be computed', 'no-unembedding');
  const r = await model.unembedTopK(v, k);
  const list = (ids: Int32Array, values: Float32Array) => Array.from(ids, (id, i) => ({ id, logit: values[i] }));
  return { promoted: list(r.topIds, r.topValues), suppressed: list(r.bottomIds, r.bottomValues) };
}

export async function logitEffects(models: { base: SplitModel; chat: SplitModel }, ckpt: CrosscoderCheckpoint, latent: number, k = 10): Promise<LogitEffects> {
  const v = decoderVectors(ckpt, latent);
  return {
    latent,
    convention: LOGIT_EFFECTS_CONVENTION,
    base: await effectsOf(models.base, v.base, k),
    chat: await effectsOf(models.chat, v.chat, k),
  };
}
