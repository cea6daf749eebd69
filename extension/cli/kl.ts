/**
 * `latent-diff kl FILE... [--bundle DIR] [--intervention none|all|chat-error|latents]... [--latents LIST]
 * [--set NAME] [--json]`: the paper's patching experiment (method.md 9) on chats.
 */
import { resolve } from 'node:path';
import { Analyzer } from '../engine/analysis/analyzer';
import type { KlReport, KlRequest } from '../engine/analysis/patching/kl-job';
import { runKl } from '../engine/analysis/patching/kl-job';
import { isLatentSetName, LATENT_SET_NAMES, type LatentSetName } from '../engine/analysis/patching/latent-sets';
import { POSITION_SUBSETS } from '../engine/analysis/patching/positions';
import { defaultCacheDir, demoBundleDir } from '../engine/paths';
import { parseArgs, UsageError } from './args';
import { ENGINE_FLAGS, engineOptions, engineUsage } from './engine-flags';
import { reportProvider } from './provider-note';

export const KL_USAGE = `latent-diff kl FILE... [--bundle DIR] [--intervention none|all|chat-error|latents]... [--latents LIST]
                [--set ${LATENT_SET_NAMES.join('|')}] [--json]
  The paper's patching experiment: per-token KL(P_chat || P_patched) at the positions where the chat model
  predicts its own answer, for base activations patched with crosscoder latents (method.md section 9).
  FILE: a chat (JSON/JSONL with "messages", or <start_of_turn> turns), JSONL of chats, or a Parquet dataset.
  --bundle DIR        bundle folder (default: the embedded demo bundle)
  --intervention I    none | all | chat-error | latents (repeatable; default none all chat-error)
  --latents LIST      comma-separated latent ids patched together (repeatable: one intervention each)
  --set NAME          a latent set from the bundle's statistics (repeatable): robust, or the best (pareto) /
                      worst (antipareto) half of the filtered chat-only latents by Delta-norm or nu rank-sum
  --json              print one JSON object (with per-token KL)
${engineUsage(20)}`;

const KINDS = ['none', 'all', 'chat-error', 'latents'] as const;

function latentList(v: string): number[] {
  const ids = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 0) throw new UsageError(`--latents needs at least one latent id, got "${v}"`);
  return ids.map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--latents takes latent ids (integers >= 0) separated by commas, got "${s}"`);
    return n;
  });
}

export function klRequest(flags: Map<string, string[]>): KlRequest {
  const kinds = flags.get('intervention') ?? ['none', 'all', 'chat-error'];
  for (const k of kinds) if (!(KINDS as readonly string[]).includes(k)) throw new UsageError(`--intervention must be one of ${KINDS.join(', ')}, got "${k}"`);
  const sets = (flags.get('set') ?? []).map((s) => {
    if (!isLatentSetName(s)) throw new UsageError(`--set must be one of ${LATENT_SET_NAMES.join(', ')}, got "${s}"`);
    return s as LatentSetName;
  });
  const latentLists = (flags.get('latents') ?? []).map(latentList);
  if (kinds.includes('latents') && latentLists.length === 0 && sets.length === 0) throw new UsageError('--intervention latents needs --latents LIST or --set NAME');
  return { interventions: kinds.filter((k): k is 'none' | 'all' | 'chat-error' => k !== 'latents'), latentLists, sets };
}

export function klJson(r: KlReport): unknown {
  return {
    provider: r.provider,
    providerNote: r.providerNote ?? null,
    documents: r.documents,
    interventions: r.interventions.map((iv) => ({ name: iv.name, latents: iv.latents, kl: iv.kl, perToken: iv.perToken })),
  };
}

function klTable(r: KlReport, bundleName: string): string {
  const cell = (s: { mean: number; ci95: number; n: number }) => (s.n === 0 ? '-' : `${s.mean.toFixed(4)} ± ${s.ci95.toFixed(4)}`).padEnd(20);
  const lines = [
    `${bundleName}: ${r.documents} chat${r.documents === 1 ? '' : 's'}, ${r.tokens} scored tokens, provider ${r.provider}`,
    '',
    `${'intervention'.padEnd(22)} ${'latents'.padStart(7)}  ${POSITION_SUBSETS.map((s) => `KL ${s}`.padEnd(20)).join(' ')}`,
  ];
  for (const iv of r.interventions) {
    const n = iv.latents.length ? String(iv.latents.length) : iv.name === 'none' ? '0' : 'all';
    lines.push(`${iv.name.padEnd(22)} ${n.padStart(7)}  ${POSITION_SUBSETS.map((s) => cell(iv.kl[s])).join(' ')}`);
  }
  lines.push('', 'KL(P_chat || P_patched) in nats, mean ± 95% interval over tokens (method.md section 9). Lower = more of');
  lines.push('the chat model\'s behaviour recovered by the patch; "none" is the base activation, unpatched.');
  return lines.join('\n') + '\n';
}

export async function runKlCommand(argv: string[], root: string, out: (s: string) => void, err: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, { bundle: 'string', intervention: 'list', latents: 'string', set: 'list', json: 'bool', ...ENGINE_FLAGS });
  if (args.positional.length === 0) throw new UsageError('kl needs at least one FILE');
  const req = klRequest(args.flags);
  const analyzer = Analyzer.open(args.flags.get('bundle')?.[0] ?? demoBundleDir(root), { ...engineOptions(args), cacheDir: defaultCacheDir() });
  try {
    const l = await analyzer.load();
    const report = await runKl({ bundle: analyzer.bundle, ...l }, { files: args.positional.map((f) => resolve(f)) }, req);
    for (const s of report.skipped) err(`latent-diff: note: ${s} has no model turn, skipped\n`);
    out(args.flags.has('json') ? JSON.stringify(klJson(report)) + '\n' : klTable(report, analyzer.bundle.name));
    if (!args.flags.has('json')) reportProvider(report, err);
  } finally {
    await analyzer.dispose();
  }
}
