/**
 * Latent Scaling (method.md 4.3), accumulated in closed form.
 *
 * For latent j, with d = d_j^chat and the RAW code f_nj, every variant fits
 *   beta_j = argmin_b sum_n || b f_nj d - y_n ||^2 = (d . sum_n f_nj y_n) / (||d||^2 sum_n f_nj^2).
 * Instead of a d-vector A_j per latent and target, we accumulate the scalar P_j = sum_n f_nj (y_n . d) for
 * the active latents of each token (cost per token ~ active latents x d), with these targets y for M in
 * {base, chat}:
 *   activation          x^M                        P = sum f (x^M . d)
 *   activation_no_bias  x^M - b_dec^M              P_act - (b_dec^M . d) sum f
 *   reconstruction      x̂^M (bias and latent j in) P = sum f (x̂^M . d)
 *   error               x^M - (x̂^M - f_j d_j^M)    P_act - P_recon + (d_j^M . d) sum f^2
 * so six sums per latent (sum f, sum f^2, P_act and P_recon for both models) give all eight betas. The sums
 * are exact (ExactSums), x̂ and the dot products are float64. A latent that never fires gives 0/0 = NaN,
 * kept as NaN as in the reference.
 */
import { ExactSums } from '../analysis/stats/exact-sums';

/** Decoder weights in memory, either layout of CrosscoderCheckpoint (index 0 = base, 1 = chat). */
export interface DecoderWeights {
  dModel: number;
  dictSize: number;
  /** [2, D, d] when layout is 'LDd', [D, 2, d] when 'DLd'. */
  weight: Float32Array;
  layout: 'LDd' | 'DLd';
  /** [2, d]. */
  bias: Float32Array;
}

/** Offset of d_j^m in DecoderWeights.weight. */
export function decoderRow(dec: DecoderWeights, m: 0 | 1, j: number): number {
  return dec.layout === 'LDd' ? (m * dec.dictSize + j) * dec.dModel : (j * 2 + m) * dec.dModel;
}

/** Per-latent dot products of the decoder that the betas need, in float64. */
export interface DecoderGeometry {
  /** ||d_j^chat||^2 */
  chatNormSq: Float64Array;
  /** d_j^base . d_j^chat */
  baseDotChat: Float64Array;
  /** b_dec^base . d_j^chat, b_dec^chat . d_j^chat */
  biasBaseDotChat: Float64Array;
  biasChatDotChat: Float64Array;
}

export function decoderGeometry(dec: DecoderWeights): DecoderGeometry {
  const { dModel: d, dictSize: D, weight: w, bias } = dec;
  const g: DecoderGeometry = {
    chatNormSq: new Float64Array(D), baseDotChat: new Float64Array(D),
    biasBaseDotChat: new Float64Array(D), biasChatDotChat: new Float64Array(D),
  };
  for (let j = 0; j < D; j++) {
    const ob = decoderRow(dec, 0, j);
    const oc = decoderRow(dec, 1, j);
    let cc = 0, bc = 0, b0 = 0, b1 = 0;
    for (let i = 0; i < d; i++) {
      const c = w[oc + i];
      cc += c * c;
      bc += w[ob + i] * c;
      b0 += bias[i] * c;
      b1 += bias[d + i] * c;
    }
    g.chatNormSq[j] = cc;
    g.baseDotChat[j] = bc;
    g.biasBaseDotChat[j] = b0;
    g.biasChatDotChat[j] = b1;
  }
  return g;
}

/** The six sums per latent, in this order, at index j * LS_SUM_COUNT + k. */
export const LS_SUMS = ['sumF', 'sumF2', 'actBase', 'actChat', 'reconBase', 'reconChat'] as const;
export const LS_SUM_COUNT = LS_SUMS.length;

export class LatentScalingAccumulator {
  readonly sums: ExactSums;
  private readonly reconBase: Float64Array;
  private readonly reconChat: Float64Array;

  constructor(readonly dec: DecoderWeights, sums?: ExactSums) {
    this.sums = sums ?? new ExactSums(dec.dictSize * LS_SUM_COUNT);
    if (this.sums.size !== dec.dictSize * LS_SUM_COUNT) throw new Error(`LatentScalingAccumulator: sums sized for ${this.sums.size / LS_SUM_COUNT} latents, decoder has ${dec.dictSize}`);
    this.reconBase = new Float64Array(dec.dModel);
    this.reconChat = new Float64Array(dec.dModel);
  }

  /**
   * One token: its n active latents (ids in `active`, raw codes in `f`, both from index 0) and the two
   * models' residuals at xBase[xOffset .. xOffset + d), xChat[...].
   */
  addToken(active: ArrayLike<number>, f: ArrayLike<number>, n: number, xBase: Float32Array, xChat: Float32Array, xOffset: number): void {
    const { dModel: d, weight: w, bias } = this.dec;
    const rb = this.reconBase;
    const rc = this.reconChat;
    for (let i = 0; i < d; i++) {
      rb[i] = bias[i];
      rc[i] = bias[d + i];
    }
    for (let k = 0; k < n; k++) {
      const fk = f[k];
      const ob = decoderRow(this.dec, 0, active[k]);
      const oc = decoderRow(this.dec, 1, active[k]);
      for (let i = 0; i < d; i++) {
        rb[i] += fk * w[ob + i];
        rc[i] += fk * w[oc + i];
      }
    }
    const s = this.sums;
    for (let k = 0; k < n; k++) {
      const j = active[k];
      const fj = f[k];
      const oc = decoderRow(this.dec, 1, j);
      let xb = 0, xc = 0, hb = 0, hc = 0;
      for (let i = 0; i < d; i++) {
        const c = w[oc + i];
        xb += xBase[xOffset + i] * c;
        xc += xChat[xOffset + i] * c;
        hb += rb[i] * c;
        hc += rc[i] * c;
      }
      const at = j * LS_SUM_COUNT;
      s.add(at, fj);
      s.add(at + 1, fj * fj);
      s.add(at + 2, fj * xb);
      s.add(at + 3, fj * xc);
      s.add(at + 4, fj * hb);
      s.add(at + 5, fj * hc);
    }
  }
}

/** Betas and their base/chat ratios per latent (NaN where the latent never fired). Ratios are the paper's nu. */
export interface LatentScalingResult {
  betaActivationBase: Float64Array;
  betaActivationChat: Float64Array;
  betaActivationNoBiasBase: Float64Array;
  betaActivationNoBiasChat: Float64Array;
  betaReconstructionBase: Float64Array;
  betaReconstructionChat: Float64Array;
  betaErrorBase: Float64Array;
  betaErrorChat: Float64Array;
  /** beta_activation_ratio */
  ratioActivation: Float64Array;
  /** beta_activation_no_bias_ratio */
  ratioActivationNoBias: Float64Array;
  /** beta_ratio_reconstruction = nu_r */
  ratioReconstruction: Float64Array;
  /** beta_ratio_error = nu_eps */
  ratioError: Float64Array;
}

export function latentScalingResult(sums: ExactSums, geo: DecoderGeometry): LatentScalingResult {
  const D = geo.chatNormSq.length;
  const arr = () => new Float64Array(D);
  const r: LatentScalingResult = {
    betaActivationBase: arr(), betaActivationChat: arr(), betaActivationNoBiasBase: arr(), betaActivationNoBiasChat: arr(),
    betaReconstructionBase: arr(), betaReconstructionChat: arr(), betaErrorBase: arr(), betaErrorChat: arr(),
    ratioActivation: arr(), ratioActivationNoBias: arr(), ratioReconstruction: arr(), ratioError: arr(),
  };
  for (let j = 0; j < D; j++) {
    const at = j * LS_SUM_COUNT;
    const sumF = sums.value(at);
    const c = sums.value(at + 1);
    const actB = sums.value(at + 2);
    const actC = sums.value(at + 3);
    const recB = sums.value(at + 4);
    const recC = sums.value(at + 5);
    const denom = geo.chatNormSq[j] * c;
    r.betaActivationBase[j] = actB / denom;
    r.betaActivationChat[j] = actC / denom;
    r.betaActivationNoBiasBase[j] = (actB - geo.biasBaseDotChat[j] * sumF) / denom;
    r.betaActivationNoBiasChat[j] = (actC - geo.biasChatDotChat[j] * sumF) / denom;
    r.betaReconstructionBase[j] = recB / denom;
    r.betaReconstructionChat[j] = recC / denom;
    r.betaErrorBase[j] = (actB - recB + geo.baseDotChat[j] * c) / denom;
    r.betaErrorChat[j] = (actC - recC + geo.chatNormSq[j] * c) / denom;
    r.ratioActivation[j] = r.betaActivationBase[j] / r.betaActivationChat[j];
    r.ratioActivationNoBias[j] = r.betaActivationNoBiasBase[j] / r.betaActivationNoBiasChat[j];
    r.ratioReconstruction[j] = r.betaReconstructionBase[j] / r.betaReconstructionChat[j];
    r.ratioError[j] = r.betaErrorBase[j] / r.betaErrorChat[j];
  }
  return r;
}
