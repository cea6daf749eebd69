/**
 * A feature_df.csv (ours or a published one) as per-latent arrays for the sidebar and latent pages: Delta-norm
 * in the paper's convention whichever the file uses, nu ratios, frequency, max activation, template share,
 * all beta columns present, and flags and verdicts recomputed with the user's thresholds (so changing a
 * setting needs no new run). Latents missing from the table get NaN.
 */
import { LatentDiffError } from '../../errors';
import { tagOf, type TagThresholds, DEFAULT_TAG_THRESHOLDS } from '../../latents/tags';
import { DEFAULT_VERDICT_THRESHOLDS, latentVerdict, type LatentVerdict, type VerdictThresholds } from '../../latents/verdict';
import type { FeatureDf } from '../feature-df';

export interface LatentStatsTable {
  file: string;
  convention: 'paper' | 'code';
  dictSize: number;
  deltaNorm: Float64Array;
  nuEps: Float64Array;
  nuR: Float64Array;
  freq: Float64Array;
  maxAct: Float64Array;
  /** lmsys_ctrl_%: share of the latent's activations on chat-template tokens. */
  ctrlShare: Float64Array;
  /** Every beta_* column of the file, by its name. */
  betas: Map<string, Float64Array>;
  verdicts: LatentVerdict[];
}

/** The first of the named columns the table has (published tables differ in naming). */
function column(df: FeatureDf, names: string[], D: number, rowOf: Int32Array): Float64Array {
  const out = new Float64Array(D).fill(NaN);
  const col = names.map((n) => df.numbers.get(n)).find((c) => c !== undefined);
  if (col) for (let r = 0; r < rowOf.length; r++) out[rowOf[r]] = col[r];
  return out;
}

export function latentStatsTable(
  df: FeatureDf,
  dictSize: number,
  thresholds: VerdictThresholds = DEFAULT_VERDICT_THRESHOLDS,
  tagThresholds: TagThresholds = DEFAULT_TAG_THRESHOLDS,
): LatentStatsTable {
  if (!df.deltaNorm || !df.convention) {
    throw new LatentDiffError(df.file, 'has neither "delta_norm" nor "dec_norm_diff": not a per-latent statistics table', 'bad-csv');
  }
  for (const id of df.latents) {
    if (id >= dictSize) throw new LatentDiffError(df.file, `has latent ${id}, but the crosscoder has ${dictSize} latents: the table belongs to another crosscoder`, 'mismatch');
  }
  const rowOf = df.latents;
  const deltaNorm = new Float64Array(dictSize).fill(NaN);
  df.deltaNorm.forEach((v, r) => (deltaNorm[rowOf[r]] = v));
  const nuEps = column(df, ['nu_eps', 'beta_ratio_error'], dictSize, rowOf);
  const nuR = column(df, ['nu_r', 'beta_ratio_reconstruction'], dictSize, rowOf);
  const betas = new Map<string, Float64Array>();
  for (const name of df.numbers.keys()) if (name.startsWith('beta_')) betas.set(name, column(df, [name], dictSize, rowOf));
  return {
    file: df.file,
    convention: df.convention,
    dictSize,
    deltaNorm,
    nuEps,
    nuR,
    freq: column(df, ['freq', 'freq_val', 'lmsys_freq'], dictSize, rowOf),
    maxAct: column(df, ['max_act', 'max_act_val', 'lmsys_max_act'], dictSize, rowOf),
    ctrlShare: column(df, ['lmsys_ctrl_%'], dictSize, rowOf),
    betas,
    verdicts: Array.from({ length: dictSize }, (_, j) => latentVerdict(tagOf(deltaNorm[j], tagThresholds), deltaNorm[j], nuEps[j], nuR[j], thresholds)),
  };
}
