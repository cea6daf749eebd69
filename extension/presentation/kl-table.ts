/**
 * The patching experiment's results as the user reads them: a Markdown comparison table (mean KL with its
 * 95% interval over all / k_first / post_k_first positions, per intervention) and, for one intervention, the
 * per-token KL of a one-conversation document as a value per analysed token. No vscode import.
 */
import type { KlReport } from '../engine/analysis/patching/kl-job';

const SUBSETS = ['all', 'k_first', 'post_k_first'] as const;

function cell(s: { mean: number; ci95: number; n: number }): string {
  return s.n === 0 ? '–' : `${s.mean.toFixed(4)} ± ${s.ci95.toFixed(4)} (n=${s.n})`;
}

export function interventionLabel(iv: KlReport['interventions'][number]): string {
  if (iv.latents.length === 0) return iv.name;
  const shown = iv.latents.slice(0, 8).map((j) => `#${j}`).join(', ');
  return `${iv.name} (${iv.latents.length} latents: ${shown}${iv.latents.length > 8 ? ', …' : ''})`;
}

export function klTableMarkdown(report: KlReport, title: string): string {
  const lines = [
    `# Patching experiment: ${title}`,
    '',
    'KL(P_chat ‖ P_patched) in nats at the positions that predict the model\'s answer tokens (method.md section 9): the base model\'s residual after the crosscoder\'s layer is patched, then the chat model\'s second half continues. Lower is closer to the chat model. Mean ± 95% interval.',
    '',
    `${report.documents} conversation(s), ${report.tokens} scored positions, provider ${report.provider}.${report.skipped.length ? ` Skipped (no model turn): ${report.skipped.join(', ')}.` : ''}`,
    '',
    '| intervention | all | k_first | post_k_first |',
    '|---|---:|---:|---:|',
    ...report.interventions.map((iv) => `| ${interventionLabel(iv).replace(/\|/g, '\\|')} | ${SUBSETS.map((s) => cell(iv.kl[s])).join(' | ')} |`),
    '',
    'none: the base activation as is; all: base error + chat reconstruction; chat-error: the chat model\'s crosscoder error only; latent sets: the base activation plus those latents\' chat-minus-base decoder contributions.',
    '',
  ];
  return lines.join('\n');
}

/**
 * One value per analysed token: the KL of the prediction of that token (position t predicts token t + 1),
 * 0 where nothing was scored. Undefined unless the experiment scored exactly one conversation that fits.
 */
export function perTokenKl(report: KlReport, intervention: number, tokenCount: number): Float32Array | undefined {
  const iv = report.interventions[intervention];
  if (!iv || report.documents !== 1) return undefined;
  const acts = new Float32Array(tokenCount);
  for (const p of iv.perToken) {
    if (p.document !== 0 || p.position + 1 >= tokenCount) return undefined;
    acts[p.position + 1] = p.kl;
  }
  return acts;
}

/** Divergence per analysed token: KL(P_chat || P_base) of the prediction of that token. */
export function divergenceByToken(kl: Float32Array): Float32Array {
  const acts = new Float32Array(kl.length);
  acts.set(kl.subarray(0, Math.max(0, kl.length - 1)), 1);
  return acts;
}
