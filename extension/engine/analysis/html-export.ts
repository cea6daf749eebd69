/**
 * A standalone HTML page of coloured tokens (the paper's dashboard look: background rgba(255,0,0,a) with
 * a = act / max, a grey hover overlay and a tooltip with the token id, its string and its top latents).
 * Used by the CLI's --html and the extension's "Export Token View as HTML". Token strings are untrusted:
 * everything is escaped and the page carries no script besides its own.
 */
import type { AnalysisResult, LatentMetrics } from '../types';
import { TAG_CODES } from '../types';

export interface HtmlExportOptions {
  /** Up to two latents to colour (red, then blue, half/half like the paper's two-feature mode). */
  latents: number[];
  /** Normalisation max per coloured latent; default: the latent's max in this text. */
  max?: number[];
  metrics?: LatentMetrics;
  title?: string;
}

const COLOURS = ['255, 0, 0', '0, 90, 255'];

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function describeLatent(j: number, metrics?: LatentMetrics): string {
  if (!metrics) return `latent ${j}`;
  return `latent ${j} (${TAG_CODES[metrics.tag[j]]}, Δnorm ${metrics.deltaNorm[j].toFixed(3)})`;
}

export function renderTokenHtml(result: AnalysisResult, opts: HtmlExportOptions): string {
  const coloured = opts.latents.slice(0, 2);
  const vectors = coloured.map((j) => result.selected.find((s) => s.latent === j)?.acts ?? result.top.map((row) => row.find((r) => r.latent === j)?.act ?? 0));
  const maxima = coloured.map((j, i) => opts.max?.[i] ?? result.latents.find((l) => l.latent === j)?.max ?? 0);
  const spans = result.tokens.map((tok, t) => {
    const alphas = vectors.map((v, i) => (maxima[i] > 0 ? Math.min(1, Math.max(0, v[t] / maxima[i])) : 0));
    const fills = alphas.map((a, i) => `rgba(${COLOURS[i]}, ${a.toFixed(3)})`);
    const background = fills.length === 2 ? `linear-gradient(${fills[0]} 50%, ${fills[1]} 50%)` : fills[0] ?? 'transparent';
    const tip = [`Token ${tok.id}: '${tok.text}'${tok.template ? ' (chat template)' : ''}`]
      .concat(coloured.map((j, i) => `latent ${j}: ${vectors[i][t].toFixed(3)}`))
      .concat(result.top[t].slice(0, 5).map((r) => `top ${r.latent}: ${r.act.toFixed(3)}`))
      .join('\n');
    const shown = tok.text.replace(/\r?\n/g, '↵\n');
    const cls = ['tok', tok.template ? 'tmpl' : '', tok.start === null ? 'virtual' : ''].filter(Boolean).join(' ');
    return `<span class="${cls}" style="background:${background}" data-tip="${escapeHtml(tip)}">${escapeHtml(shown)}</span>`;
  });
  const title = opts.title ?? 'Latent Diff token view';
  const header = coloured.map((j, i) => `<li><span class="swatch" style="background:rgb(${COLOURS[i]})"></span>${escapeHtml(describeLatent(j, opts.metrics))}: max ${maxima[i].toFixed(3)}</li>`).join('');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
.text { font-family: ui-monospace, monospace; white-space: pre-wrap; line-height: 1.7; }
.tok { position: relative; border-radius: 2px; }
.tok:hover { box-shadow: inset 0 0 0 100px rgba(128, 128, 128, 0.3); }
.tmpl { border-bottom: 2px dotted #888; }
.virtual { opacity: 0.6; font-style: italic; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: middle; }
#tip { position: fixed; display: none; background: #000; color: #fff; font: 12px ui-monospace, monospace; padding: 4px 6px; white-space: pre; pointer-events: none; border-radius: 3px; }
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(result.bundle.name)} · ${escapeHtml(result.bundle.baseModel)} vs ${escapeHtml(result.bundle.chatModel)} · layer ${result.bundle.layer} · ${result.tokens.length} tokens (${result.kind}). Δnorm in the paper's convention: 1 = chat-only, 0 = base-only. Dotted underline: chat-template token.</p>
<ul>${header}</ul>
<div class="text">${spans.join('')}</div>
<div id="tip"></div>
<script>
const tip = document.getElementById('tip');
document.addEventListener('mouseover', (e) => { const t = e.target.closest('.tok'); if (!t) { tip.style.display = 'none'; return; } tip.textContent = t.dataset.tip; tip.style.display = 'block'; });
document.addEventListener('mousemove', (e) => { tip.style.left = (e.clientX + 12) + 'px'; tip.style.top = (e.clientY + 12) + 'px'; });
</script>
</body></html>
`;
}
