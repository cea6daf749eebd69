/**
 * Per-latent statistics for the UI from a feature_df.csv (ours or the paper's published one): Latent
 * Scaling betas and ratios, frequency, max activation. Columns are looked up by the paper's names, with
 * the older/validation variants as fallbacks; rows for latents outside the crosscoder are rejected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readFeatureDf } from './feature-df';
import { LatentDiffError } from '../errors';

/** Per-latent statistics from a feature_df (NaN where unknown). */
export interface LatentStats {
  source: string;
  nuError?: Float32Array;
  nuReconstruction?: Float32Array;
  betaErrorBase?: Float32Array;
  betaErrorChat?: Float32Array;
  betaReconstructionBase?: Float32Array;
  betaReconstructionChat?: Float32Array;
  freq?: Float32Array;
  maxAct?: Float32Array;
}

const COLUMNS: Record<Exclude<keyof LatentStats, 'source'>, string[]> = {
  nuError: ['beta_ratio_error', 'nu_eps'],
  nuReconstruction: ['beta_ratio_reconstruction', 'nu_r'],
  betaErrorBase: ['beta_error_base'],
  betaErrorChat: ['beta_error_chat'],
  betaReconstructionBase: ['beta_reconstruction_base'],
  betaReconstructionChat: ['beta_reconstruction_chat'],
  freq: ['freq', 'freq_val', 'lmsys_freq'],
  maxAct: ['max_act', 'max_act_val', 'lmsys_max_act'],
};

export function loadLatentStats(file: string, dictSize: number): LatentStats {
  const df = readFeatureDf(file);
  for (let r = 0; r < df.latents.length; r++) {
    if (df.latents[r] >= dictSize) throw new LatentDiffError(file, `row ${r + 2} is latent ${df.latents[r]}, but the crosscoder has only ${dictSize} latents: these statistics belong to another crosscoder`, 'bad-csv');
  }
  const stats: LatentStats = { source: file };
  for (const [key, names] of Object.entries(COLUMNS) as [Exclude<keyof LatentStats, 'source'>, string[]][]) {
    const name = names.find((n) => df.numbers.has(n));
    if (!name) continue;
    const values = df.numbers.get(name)!;
    const col = new Float32Array(dictSize).fill(NaN);
    for (let r = 0; r < df.latents.length; r++) col[df.latents[r]] = values[r];
    stats[key] = col;
  }
  return stats;
}

/** The statistics table of a bundle: bundle.json's "stats" entry, else a feature_df.csv next to it. */
export function bundleStatsFile(bundleDir: string, declared: string | undefined): string | undefined {
  if (declared) return declared;
  const guess = join(bundleDir, 'feature_df.csv');
  return existsSync(guess) ? guess : undefined;
}
