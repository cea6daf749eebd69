/**
 * Hover on an analysed token: its id and string, then its top latents with activation, tag, Delta-norm
 * (paper convention, said in the hover), nu ratios when known, and the user's label; after "Highlight
 * Divergence", each model's top next tokens with probabilities.
 */
import * as vscode from 'vscode';
import type { TokenInfo } from '../engine/types';
import { spanIndex, tokenAt } from './token-lookup';
import { verdictOf } from '../protocol/latent-verdict';
import type { Annotations } from './annotations';
import type { Session } from './session';

const spanIndexes = new WeakMap<readonly TokenInfo[], Int32Array>();

const code = (s: string) => '`' + s.replace(/`/g, 'ˋ').replace(/\n/g, '↵') + '`';
const num = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '–');

export class TokenHover implements vscode.HoverProvider {
  constructor(private readonly session: Session, private readonly annotations: Annotations) {}

  provideHover(document: vscode.TextDocument, position: vscode.Position): vscode.Hover | undefined {
    const a = this.session.analysis;
    if (!a || a.uri.toString() !== document.uri.toString() || a.version !== document.version) return undefined;
    const offset = document.offsetAt(position) - a.base;
    if (offset < 0 || offset >= a.length) return undefined;
    let index = spanIndexes.get(a.result.tokens);
    if (!index) spanIndexes.set(a.result.tokens, (index = spanIndex(a.result.tokens)));
    const i = tokenAt(a.result.tokens, index, offset);
    if (i < 0) return undefined;
    const tok = a.result.tokens[i];
    const md = new vscode.MarkdownString();
    md.supportHtml = false;
    md.isTrusted = false;
    md.appendMarkdown(`**Latent Diff** · ${vscode.l10n.t('token {0}: id {1}', i, tok.id)} ${code(tok.text)}${tok.template ? ` · ${vscode.l10n.t('chat-template token')}` : ''}\n\n`);
    const m = this.session.metrics;
    const s = this.session.stats;
    const t = this.session.settings.thresholds;
    const rows = a.result.top[i];
    if (rows.length === 0) {
      md.appendMarkdown(vscode.l10n.t('No latent is active on this token.'));
    } else {
      md.appendMarkdown(`| ${vscode.l10n.t('latent')} | ${vscode.l10n.t('act')} | ${vscode.l10n.t('tag')} | Δnorm | ν^ε | ν^r | ${vscode.l10n.t('label')} |\n|---:|---:|---|---:|---:|---:|---|\n`);
      for (const r of rows.slice(0, this.session.settings.topK)) {
        const dn = m?.deltaNorm[r.latent] ?? NaN;
        const ne = s?.nuError?.[r.latent] ?? NaN;
        const nr = s?.nuReconstruction?.[r.latent] ?? NaN;
        const v = m ? verdictOf(dn, ne, nr, t).badge : '';
        const label = this.annotations.label(r.latent);
        md.appendMarkdown(`| ${r.latent} | ${num(r.act)} | ${v} | ${num(dn)} | ${num(ne, 2)} | ${num(nr, 2)} | ${label ? code(label) : ''} |\n`);
      }
      md.appendMarkdown(`\n${vscode.l10n.t('Δnorm in the paper\'s convention: 1 = chat-only, 0 = base-only. Activations are scaled (f·s_j). ν ratios appear once Latent Scaling results exist.')}`);
    }
    const p = this.session.predictions;
    if (p && p.uri === a.uri.toString() && p.version === a.version && i < p.kl.length) {
      const list = (rows: { text: string; prob: number }[]) => rows.map((r) => `${code(r.text)} ${num(r.prob, 3)}`).join(' · ');
      md.appendMarkdown(`\n\n**Next token after this one** · KL(P_chat ‖ P_base) = ${num(p.kl[i], 4)} nats\n\n`);
      md.appendMarkdown(`chat: ${list(p.chat[i])}\n\nbase: ${list(p.base[i])}`);
    }
    if (!m) void this.session.ensureMetrics().catch(() => undefined);
    const range = tok.start !== null && tok.end !== null ? new vscode.Range(document.positionAt(a.base + tok.start), document.positionAt(a.base + tok.end)) : undefined;
    return new vscode.Hover(md, range);
  }
}
