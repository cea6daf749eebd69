/**
 * Generation panel: each answer (chat, base, default or steered) as coloured tokens that grow while the
 * model generates, side by side, with tokens/s, a cancel button and "Insert as model turn" once an answer
 * is finished. Colours, tooltips and token spans come from the shared token renderer, so a generated token
 * looks exactly like an analysed one. Clicking a token lists its top latents (highlight, open, steer).
 */
import '../common/elements';
import type { GenerationColumn, GenerationToHost, GenerationView, HostToGeneration, LatentBrief } from '../../extension/protocol/messages';
import { TOKEN_SPECIAL } from '../../extension/protocol/messages';
import { verdictOf } from '../../extension/protocol/latent-verdict';
import { connectToHost } from '../common/host';
import { t } from '../common/l10n';
import { el, formatNumber } from '../common/dom';
import { hueForSlot } from '../common/colors';
import { legend } from '../common/charts';
import { attachTooltip, colourTokens, renderTokens, tokenIndexOf, tokenTarget, tooltipLines, type SeriesModel, type TokenModel } from '../common/token-render';

interface ColumnModel {
  column: GenerationColumn;
  model: TokenModel;
  series: SeriesModel[];
  logProbs: Float32Array;
  topLatents: Int32Array;
  topActs: Float32Array;
}

const STOP_TOKENS = new Set(['<end_of_turn>', '<eos>']);
const STATUS: Record<GenerationColumn['status'], string> = {
  running: t('generating…'),
  'end-of-turn': t('ended its turn'),
  eos: t('ended the text'),
  'max-new': t('reached the token limit'),
  cancelled: t('cancelled'),
  failed: t('failed'),
};

const host = connectToHost<GenerationToHost, HostToGeneration, Record<string, never>>();
let view: GenerationView | null = null;
let columns: ColumnModel[] = [];
const briefs = new Map<number, LatentBrief>();
let selected: { column: number; index: number } | null = null;

const app = document.getElementById('app')!;
const title = el('h2', { class: 'title', text: t('Latent Diff: Generation') });
const status = el('span', { class: 'muted generation-status', attrs: { 'aria-live': 'polite' } });
const cancelButton = el('vscode-button', { text: t('Cancel'), attrs: { secondary: '', title: t('Stop generating (nothing is inserted)') } });
const header = el('div', { class: 'toolbar' }, title, status, cancelButton);
const settings = el('p', { class: 'muted' });
const problem = el('p', { class: 'problem', attrs: { role: 'alert' } });
const grid = el('div', { class: 'answers' });
const detail = el('section', { class: 'detail', attrs: { 'aria-live': 'polite' } });
const empty = el('p', { class: 'empty-state', text: t('Nothing generated yet. Run "Latent Diff: Generate Response" on a chat that ends with a user turn.') });
app.append(header, settings, problem, empty, grid, detail);

/** The answer column an event happened in (the token spans are delegated to the grid). */
function columnOf(e: Event): number {
  return Number((e.target as HTMLElement).closest<HTMLElement>('.answer')?.dataset.column ?? -1);
}
let hovered = -1;
grid.addEventListener('mouseover', (e) => { hovered = columnOf(e); });
attachTooltip(grid, (i) => {
  const m = columns[hovered];
  if (!m) return [];
  return [
    ...tooltipLines(m.model, m.series, i),
    t('log p = {0} ({1})', formatNumber(m.logProbs[i]), columnTitle(m.column)),
    ...topOf(m, i).slice(0, 5).map((r) => `#${r.latent}: ${r.act.toFixed(3)}`),
  ];
});
grid.addEventListener('click', (e) => {
  const target = tokenTarget(grid, e);
  if (!target || !columns[columnOf(e)]) return;
  selected = { column: columnOf(e), index: tokenIndexOf(target) };
  render();
});

cancelButton.addEventListener('click', () => { if (view) host.post({ type: 'cancel', run: view.run }); });

function columnTitle(c: GenerationColumn): string {
  return `${c.model === 'chat' ? t('chat model') : t('base model')}${c.steer ? ` · ${c.steer}` : ''}`;
}

function finished(c: GenerationColumn): boolean {
  return c.status === 'end-of-turn' || c.status === 'eos' || c.status === 'max-new';
}

function toModel(c: GenerationColumn): ColumnModel {
  const flags = new Uint8Array(c.texts.length);
  c.texts.forEach((t, i) => { if (STOP_TOKENS.has(t)) flags[i] = TOKEN_SPECIAL; });
  const series = c.highlight.series.map((s, slot) => ({ name: s.name, acts: new Float32Array(s.acts), max: s.max, hue: hueForSlot(slot, c.highlight.mode === 'chat-specificity') }));
  return {
    column: c, series,
    model: { texts: c.texts, ids: new Int32Array(c.ids), flags },
    logProbs: new Float32Array(c.logProbs),
    topLatents: new Int32Array(c.topLatents),
    topActs: new Float32Array(c.topActs),
  };
}

function topOf(m: ColumnModel, i: number): { latent: number; act: number }[] {
  const k = m.column.topK;
  const out: { latent: number; act: number }[] = [];
  for (let r = 0; r < k; r++) {
    const latent = m.topLatents[i * k + r];
    if (latent < 0) break;
    out.push({ latent, act: m.topActs[i * k + r] });
  }
  return out;
}

function renderColumn(m: ColumnModel, c: number): HTMLElement {
  const col = m.column;
  const tokens = el('div', { class: 'tokens', attrs: { tabindex: '0', role: 'listbox', 'aria-label': t('Answer {0}: {1}', c + 1, columnTitle(col)) } });
  const spans = renderTokens(tokens, m.model);
  colourTokens(spans, m.series);
  if (selected?.column === c) spans[selected.index]?.classList.add('selected');
  const legends = el('div', { class: 'legends' }, ...col.highlight.series.map((s, slot) => el('div', { class: 'series' },
    s.latent === null ? el('span', { class: 'series-name', text: s.name }) : latentButton(s.latent, s.name),
    legend(m.series[slot].hue, s.max, 160),
    el('span', { class: 'muted', text: `${t('max {0} ({1})', formatNumber(s.max), s.maxSource)}${s.approximate ? ` · ${t('top-k values only')}` : ''}` }))));
  const speed = col.tokensPerSecond > 0 ? ` · ${t('{0} tokens/s', col.tokensPerSecond.toFixed(1))}` : '';
  const insert = el('vscode-button', { text: view!.insertLabel, attrs: { class: 'insert', title: t('Insert this answer into the document it answers') } });
  if (!(view!.state === 'done' && finished(col))) insert.setAttribute('disabled', '');
  insert.addEventListener('click', () => {
    if (!insert.hasAttribute('disabled')) host.post({ type: 'insert', run: view!.run, column: c });
  });
  return el('section', { class: `answer status-${col.status}`, attrs: { 'data-column': String(c), 'data-model': col.model, 'data-steered': col.steer ? 'true' : 'false' } },
    el('h3', { text: columnTitle(col) }),
    el('p', { class: 'muted answer-status', text: `${t('{0} tokens', col.texts.length)} · ${STATUS[col.status]}${speed}` }),
    legends,
    tokens,
    el('div', { class: 'toolbar' }, insert));
}

function render(): void {
  empty.hidden = view !== null;
  cancelButton.hidden = view?.state !== 'running';
  if (!view) {
    grid.replaceChildren();
    detail.replaceChildren();
    status.textContent = '';
    settings.textContent = '';
    problem.hidden = true;
    return;
  }
  title.textContent = t('Generation · {0}', view.title);
  status.textContent = view.state === 'running' ? t('generating…') : view.state === 'done' ? t('done') : STATUS[view.state];
  settings.textContent = `${view.settings}${view.promptTokens ? ` · ${t('prompt {0} tokens', view.promptTokens)}` : ''}`;
  problem.textContent = view.error;
  problem.hidden = view.error === '';
  grid.style.gridTemplateColumns = `repeat(${Math.max(1, columns.length)}, minmax(0, 1fr))`;
  grid.replaceChildren(...columns.map(renderColumn));
  showDetail();
}

function showDetail(): void {
  const m = selected && columns[selected.column];
  if (!m || !selected || selected.index >= m.model.texts.length) {
    detail.replaceChildren(el('p', { class: 'muted', text: t('Click a generated token to list its top latents; highlight one, or steer with it.') }));
    return;
  }
  const i = selected.index;
  const rows = topOf(m, i).map(({ latent, act }) => {
    const b = briefs.get(latent);
    const v = verdictOf(b?.deltaNorm ?? NaN, b?.nuError ?? NaN, b?.nuReconstruction ?? NaN, view!.thresholds);
    return el('tr', {},
      el('td', {}, latentButton(latent, `#${latent}`)),
      el('td', { class: 'num', text: act.toFixed(3) }),
      el('td', {}, el('span', { class: `badge verdict-${v.kind}`, text: v.badge, title: v.sentence })),
      el('td', { class: 'num', text: formatNumber(b?.deltaNorm ?? NaN, 2), title: t('Δnorm, paper convention: 1 = chat-only, 0 = base-only') }),
      el('td', { class: 'label', text: b?.label ?? '' }),
      el('td', {}, actionButton(t('open'), t('Open the page of latent {0}', latent), () => host.post({ type: 'openLatent', latent }))),
      el('td', {}, actionButton(t('steer'), t('Generate again steered by latent {0}', latent), () => host.post({ type: 'steerLatent', latent }))));
  });
  detail.replaceChildren(
    el('h3', { text: t('{0}, token {1}: id {2} {3}', columnTitle(m.column), i, m.model.ids![i], JSON.stringify(m.model.texts[i])) }),
    rows.length === 0 ? el('p', { class: 'muted', text: t('No latent is active on this token.') })
      : el('table', { class: 'latent-table' },
        el('thead', {}, el('tr', {}, ...[t('latent'), t('act'), t('verdict'), 'Δnorm', t('label'), '', ''].map((h) => el('th', { text: h })))),
        el('tbody', {}, ...rows)));
}

function latentButton(latent: number, text: string): HTMLButtonElement {
  const b = el('button', { class: 'link latent', text, title: t('Highlight latent {0} (shift-click: as second latent)', latent) });
  b.addEventListener('click', (e) => host.post({ type: 'highlightLatent', latent, slot: e.shiftKey ? 1 : 0 }));
  return b;
}

function actionButton(text: string, tip: string, act: () => void): HTMLButtonElement {
  const b = el('button', { class: 'link', text, title: tip });
  b.addEventListener('click', act);
  return b;
}

host.onEvent((m) => {
  switch (m.type) {
    case 'generation':
      if (m.view?.run !== view?.run) selected = null;
      view = m.view;
      columns = view ? view.columns.map(toModel) : [];
      if (view) for (const b of view.latents) briefs.set(b.latent, b);
      render();
      break;
    case 'labels':
      for (const b of m.latents) briefs.set(b.latent, b);
      showDetail();
      break;
  }
});
host.post({ type: 'ready' });
