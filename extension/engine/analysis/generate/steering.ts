/**
 * Steering (method.md section 9, SPEC 12): the vector sum_j strength_j * max_act_j * d_j^chat / ||d_j^chat||
 * added to the residual after block `layer`. max_act_j comes from the bundle's statistics (feature_df.csv);
 * d_j^chat from the crosscoder's decoder, read through its decode graph.
 */
import { LatentDiffError } from '../../errors';
import type { CrosscoderRunner } from '../../runtime/crosscoder-runner';

export interface SteerSpec {
  latent: number;
  strength: number;
}

export function checkSteering(steer: SteerSpec[], dictSize: number, maxAct: Float32Array | undefined, statsFile: string | undefined): void {
  for (const { latent, strength } of steer) {
    if (!(Number.isInteger(latent) && latent >= 0 && latent < dictSize)) throw new LatentDiffError(undefined, `latent ${latent} does not exist: this crosscoder has latents 0..${dictSize - 1}`, 'invalid-input');
    if (typeof strength !== 'number' || !Number.isFinite(strength)) throw new LatentDiffError(undefined, `the steering strength of latent ${latent} must be a finite number, got ${strength}`, 'invalid-input');
  }
  if (steer.length === 0) return;
  if (!maxAct) {
    throw new LatentDiffError(statsFile, statsFile ? 'has no max_act column: steering scales each latent by its max activation' : 'the bundle has no statistics (feature_df.csv): steering scales each latent by its max activation; compute statistics first', 'no-statistics');
  }
  for (const { latent } of steer) {
    if (!(maxAct[latent] > 0)) throw new LatentDiffError(statsFile, `latent ${latent} has max activation ${maxAct[latent]} in the statistics (it never fired on their dataset): there is no scale to steer it by`, 'invalid-input');
  }
}

/** [d] steering vector; steer must have passed checkSteering. */
export async function steeringVector(crosscoder: CrosscoderRunner, steer: SteerSpec[], maxAct: Float32Array): Promise<Float32Array> {
  const { dModel: d, dictSize: D } = crosscoder.ckpt;
  const out = new Float32Array(d);
  if (steer.length === 0) return out;
  // Row i decodes latent i alone at f = 1; the last row decodes nothing: the difference is d_j^chat.
  const S = steer.length;
  const f = new Float32Array((S + 1) * D);
  steer.forEach(({ latent }, i) => (f[i * D + latent] = 1));
  const { reconChat } = await crosscoder.decode(f, S + 1);
  steer.forEach(({ latent, strength }, i) => {
    const dir = Float64Array.from({ length: d }, (_, k) => reconChat[i * d + k] - reconChat[S * d + k]);
    const norm = Math.hypot(...dir);
    if (!(norm > 0)) throw new LatentDiffError(crosscoder.ckpt.file, `latent ${latent} has a zero chat decoder vector: it has no direction to steer along`, 'invalid-input');
    const scale = (strength * maxAct[latent]) / norm;
    for (let k = 0; k < d; k++) out[k] += scale * dir[k];
  });
  return out;
}
