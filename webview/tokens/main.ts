/**
 * Token panel: the analysed text as coloured tokens, a legend and sparkline per highlighted latent, and
 * the selected token's top latents with specificity badges. Clicking a latent asks the host to highlight
 * it; the host answers with a 'highlight' message that updates both this panel and the editor.
 */
import '../common/elements';
import type { HighlightState, HostToTokens, LatentBrief, TokenDocument, TokensToHost } from '../../extension/protocol/messages';
import { verdictOf } from '../../extension/protocol/latent-verdict';
import { connectToHost } from '../common/host';
import { t } from '../common/l10n';
import { el, formatNumber } from '../common/dom';
import { hueForSlot } from '../common/colors';
import { legend, sparkline } from '../common/charts';
import { attachTooltip, colourTokens, renderTokens, tokenIndexOf, tokenTarget, tooltipLines, type SeriesModel, type TokenModel } from '../common/token-render';

interface PanelState {
  selected: number;
}

interface LoadedDocument {
  doc: TokenDocument;
  model: TokenModel;
  topLatents: Int32Array;
  topActs: Float32Array;
  briefs: Map<number, LatentBrief>;
}

const host = connectToHost<TokensToHost, HostToTokens, PanelState>();
let loaded: LoadedDocument | null = null;
let spans: HTMLSpanElement[] = [];
let series: SeriesModel[] = [];
let selected = host.getState()?.selected ?? -1;

const app = document.getElementById('app')!;
const header = el('div', { class: 'toolbar' });
const title = el('h2', { class: 'title', text: 'Latent Diff' });
const exportButton = el('vscode-button', { text: t('Export HTML'), attrs: { secondary: '', title: t('Export this token view as a standalone HTML file') } });
const clearButton = el('vscode-button', { text: t('Clear highlight'), attrs: { secondary: '' } });
header.append(title, exportButton, clearButton);
const note = el('p', { class: 'note' });
const legends = el('div', { class: 'legends' });
const tokens = el('div', { class: 'tokens', attrs: { tabindex: '0', role: 'listbox', 'aria-label': t('Tokens') } });
const detail = el('section', { class: 'detail', attrs: { 'aria-live': 'polite' } });
const empty = el('p', { class: 'empty-state', text: t('Nothing analysed yet. Run "Latent Diff: Analyze Document" on an editor.') });
app.append(header, note, legends, empty, tokens, detail);

exportButton.addEventListener('click', () => host.post({ type: 'exportHtml' }));
clearButton.addEventListener('click', () => host.post({ type: 'clearHighlight' }));
attachTooltip(tokens, (i) => (loaded ? tooltipLines(loaded.model, series, i) : []));

tokens.addEventListener('click', (e) => {
  const target = tokenTarget(tokens, e);
  if (target) select(tokenIndexOf(target));
});
tokens.addEventListener('dblclick', (e) => {
  const target = tokenTarget(tokens, e);
  if (target) reveal(tokenIndexOf(target));
});
tokens.addEventListener('keydown', (e) => {
  if (!loaded) return;
  const n = loaded.model.texts.length;
  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
    e.preventDefault();
    select(Math.max(0, Math.min(n - 1, (selected < 0 ? 0 : selected) + (e.key === 'ArrowRight' ? 1 : -1))));
  } else if (e.key === 'Enter' && selected >= 0) {
    reveal(selected);
  }
});

function reveal(i: number): void {
  if (loaded && i >= 0 && i < loaded.model.texts.length) host.post({ type: 'revealToken', index: i });
}

function load(doc: TokenDocument | null): void {
  if (!doc) {
    loaded = null;
    spans = [];
    tokens.replaceChildren();
    detail.replaceChildren();
    empty.hidden = false;
    title.textContent = 'Latent Diff';
    return;
  }
  empty.hidden = true;
  const model: TokenModel = { texts: doc.texts, ids: new Int32Array(doc.ids), flags: new Uint8Array(doc.flags) };
  loaded = {
    doc, model,
    topLatents: new Int32Array(doc.topLatents),
    topActs: new Float32Array(doc.topActs),
    briefs: new Map(doc.latents.map((b) => [b.latent, b])),
  };
  title.textContent = t('{0} · {1} · {2} tokens · {3} ({4})', doc.title, doc.kind, doc.texts.length, doc.bundle, doc.provider);
  spans = renderTokens(tokens, model);
  if (selected >= doc.texts.length) selected = -1;
  showDetail();
}

function applyHighlight(h: HighlightState): void {
  series = h.series.map((s, slot) => ({
    name: s.name, acts: new Float32Array(s.acts), max: s.max, hue: hueForSlot(slot, h.mode === 'chat-specificity'),
  }));
  if (loaded) colourTokens(spans, series);
  note.textContent = h.note;
  note.hidden = h.note === '';
  legends.replaceChildren(...h.series.map((s, slot) => {
    const model = series[slot];
    const name = s.latent === null
      ? el('span', { class: 'series-name', text: s.name })
      : latentButton(s.latent, s.name);
    return el('div', { class: 'series' },
      name,
      legend(model.hue, s.max),
      sparkline(model.acts, s.max, model.hue, (i) => { select(i); reveal(i); }),
      el('span', { class: 'muted', text: `${t('max {0} ({1})', formatNumber(s.max), s.maxSource)}${s.approximate ? ` · ${t('top-k values only, exact values on the way')}` : ''}` }));
  }));
  if (loaded) showDetail();
}

function select(i: number): void {
  selected = i;
  host.setState({ selected });
  for (const s of tokens.querySelectorAll('.tok.selected')) s.classList.remove('selected');
  spans[i]?.classList.add('selected');
  spans[i]?.setAttribute('aria-selected', 'true');
  showDetail();
}

/** A token's top latents from the top-k table; with the approximate sparkline of each across the text. */
function showDetail(): void {
  if (!loaded || selected < 0) {
    detail.replaceChildren(el('p', { class: 'muted', text: t('Click a token to list its top latents; click a latent to highlight it (shift-click: second colour).') }));
    return;
  }
  const { doc, model, topLatents, topActs, briefs } = loaded;
  const k = doc.topK;
  const rows: HTMLElement[] = [];
  for (let r = 0; r < k; r++) {
    const latent = topLatents[selected * k + r];
    if (latent < 0) break;
    const act = topActs[selected * k + r];
    const brief = briefs.get(latent);
    const verdict = verdictOf(brief?.deltaNorm ?? NaN, brief?.nuError ?? NaN, brief?.nuReconstruction ?? NaN, doc.thresholds);
    const acts = topKSeries(latent);
    let max = 0;
    for (const a of acts) if (a > max) max = a;
    rows.push(el('tr', {},
      el('td', {}, latentButton(latent, `#${latent}`)),
      el('td', { class: 'num', text: act.toFixed(3) }),
      el('td', {}, el('span', { class: `badge verdict-${verdict.kind}`, text: verdict.badge, title: verdict.sentence })),
      el('td', { class: 'num', text: formatNumber(brief?.deltaNorm ?? NaN, 2), title: t('Δnorm, paper convention: 1 = chat-only, 0 = base-only') }),
      el('td', { class: 'label', text: brief?.label ?? '' }),
      el('td', {}, sparkline(acts, max, 'first', (i) => select(i), 120, 18)),
      el('td', {}, openButton(latent)),
      el('td', {}, steerButton(latent))));
  }
  const id = model.ids ? model.ids[selected] : 0;
  detail.replaceChildren(
    el('h3', { text: t('Token {0}: id {1} {2}', selected, id, JSON.stringify(model.texts[selected])) }),
    rows.length === 0
      ? el('p', { class: 'muted', text: t('No latent is active on this token.') })
      : el('table', { class: 'latent-table' },
        el('thead', {}, el('tr', {}, ...[t('latent'), t('act'), t('verdict'), 'Δnorm', t('label'), t('in text (top-k)'), '', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...rows)));
}

function topKSeries(latent: number): Float32Array {
  const { doc, topLatents, topActs } = loaded!;
  const n = doc.texts.length;
  const k = doc.topK;
  const out = new Float32Array(n);
  for (let t = 0; t < n; t++) {
    for (let r = 0; r < k; r++) {
      const l = topLatents[t * k + r];
      if (l < 0) break;
      if (l === latent) { out[t] = topActs[t * k + r]; break; }
    }
  }
  return out;
}

function latentButton(latent: number, text: string): HTMLButtonElement {
  const b = el('button', { class: 'link latent', text, title: t('Highlight latent {0} (shift-click: as second latent)', latent) });
  b.addEventListener('click', (e) => host.post({ type: 'highlightLatent', latent, slot: e.shiftKey ? 1 : 0 }));
  return b;
}

function openButton(latent: number): HTMLButtonElement {
  const b = el('button', { class: 'link', text: t('open'), title: t('Open the page of latent {0}', latent) });
  b.addEventListener('click', () => host.post({ type: 'openLatent', latent }));
  return b;
}

function steerButton(latent: number): HTMLButtonElement {
  const b = el('button', { class: 'link', text: t('steer'), title: t('Generate a response steered by latent {0}', latent) });
  b.addEventListener('click', () => host.post({ type: 'steerLatent', latent }));
  return b;
}

host.onEvent((m) => {
  switch (m.type) {
    case 'document':
      load(m.doc);
      applyHighlight(m.highlight);
      if (selected >= 0) select(selected);
      break;
    case 'highlight':
      applyHighlight(m.highlight);
      break;
    case 'labels':
      if (loaded) {
        for (const b of m.latents) loaded.briefs.set(b.latent, b);
        showDetail();
      }
      break;
  }
});
host.post({ type: 'ready' });
