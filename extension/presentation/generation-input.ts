/**
 * What the user types for a generation: steering as LATENT:STRENGTH pairs and sampling as key=value pairs,
 * checked with a sentence saying what is wrong (shown while typing), and the one-line summary of the
 * sampling shown in the panel. No vscode import.
 */
import type { GenerateRequest } from '../engine/analysis/generate/generate-request';
import type { SteerSpec } from '../engine/analysis/generate/steering';
import { t } from '../protocol/l10n';

/** The sampling settings a generation starts from (the latentDiff.generation.* settings). */
export interface SamplingSettings {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

export function describeSampling(r: GenerateRequest): string {
  const how = (r.temperature ?? 0) === 0 ? t('greedy') : t('sampled: temperature {0}, top-p {1}', r.temperature ?? 0, r.topP ?? 1);
  return `${how} · ${t('at most {0} new tokens', String(r.maxNew))} · ${t('seed {0}', r.seed ?? 0)}`;
}

/** "12:1, 7:-0.5" -> steering specs, or a sentence saying what is wrong. */
export function parseSteering(text: string, dictSize: number): SteerSpec[] | string {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return t('give at least one LATENT:STRENGTH');
  const out: SteerSpec[] = [];
  for (const p of parts) {
    const m = /^#?(\d+):(.+)$/.exec(p);
    if (!m) return t('"{0}" is not LATENT:STRENGTH (e.g. 12:1 or 7:-0.5)', p);
    const latent = Number(m[1]);
    const strength = Number(m[2]);
    if (!(latent < dictSize)) return t('latent {0} does not exist: this crosscoder has latents 0..{1}', latent, dictSize - 1);
    if (!Number.isFinite(strength)) return t('the strength of latent {0} must be a finite number, got "{1}"', latent, m[2]);
    out.push({ latent, strength });
  }
  return out;
}

/** "temperature=0.7 top-p=0.9 seed=3 max=64" over the settings' values, or a sentence saying what is wrong. */
export function parseSampling<S extends SamplingSettings>(text: string, base: S): S | string {
  const out = { ...base };
  for (const p of text.split(/[\s,;]+/).filter(Boolean)) {
    const m = /^(temperature|t|top-p|p|seed|max|max-new)=(.+)$/.exec(p);
    const v = Number(m?.[2]);
    if (!m || !Number.isFinite(v)) return t('"{0}" is not one of temperature=T, top-p=P, seed=S, max=N', p);
    if (m[1] === 'temperature' || m[1] === 't') {
      if (v < 0) return t('the temperature must be >= 0 (0: greedy)');
      out.temperature = v;
    } else if (m[1] === 'top-p' || m[1] === 'p') {
      if (!(v > 0 && v <= 1)) return t('top-p must be in (0, 1]');
      out.topP = v;
    } else if (m[1] === 'seed') {
      if (!Number.isSafeInteger(v) || v < 0) return t('the seed must be a non-negative integer');
      out.seed = v;
    } else {
      if (!Number.isInteger(v) || v < 1 || v > 4096) return t('max new tokens must be an integer from 1 to 4096');
      out.maxNewTokens = v;
    }
  }
  return out;
}
