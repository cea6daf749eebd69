/**
 * Latents sidebar: every latent of the crosscoder in a virtualised, sortable, filterable list, with the
 * Delta-norm histogram (brush to filter) and the nu_eps vs nu_r scatter once Latent Scaling results exist.
 */
import '../common/elements';
import type { HostToLatents, LatentTable, LatentsToHost } from '../../extension/protocol/messages';
import { VERDICT_CODE_KINDS, verdictCodeBadge } from '../../extension/protocol/latent-verdict';
import { connectToHost } from '../common/host';
import { t } from '../common/l10n';
import { byId, el, formatNumber } from '../common/dom';
import { isChecked, setValue, valueOf } from '../common/elements';
import { DeltaNormHistogram, binDeltaNorm } from './histogram';
import { NuScatter } from './scatter';
import { DEFAULT_FILTER, LatentTableModel, type FlagFilter, type LatentFilter, type LatentSort, type SortKey } from './table-model';
import { VirtualList } from './virtual-list';

interface SidebarState {
  filter: Record<string, unknown>;
  sort: LatentSort;
}

const ROW_HEIGHT = 22;

const host = connectToHost<LatentsToHost, HostToLatents, SidebarState>();
const saved = host.getState();
let filter: LatentFilter = { ...DEFAULT_FILTER, ...revive(saved?.filter) };
let sort: LatentSort = saved?.sort ?? { key: 'deltaNorm', descending: true };
let model: LatentTableModel | null = null;
const labels = new Map<number, string>();
let histogram: DeltaNormHistogram | null = null;
let scatter: NuScatter | null = null;
/** The scatter's <details>: it is redrawn only while open (and when opened). */
let scatterBox: HTMLDetailsElement | null = null;
let shown: Uint32Array = new Uint32Array(0);
let highlighted: number[] = [];
let activity: { latents: Uint32Array; maxes: Float32Array } | null = null;

const app = byId('app');
const message = el('p', { class: 'empty-state', text: t('Loading latents…') });
const charts = el('div', { class: 'charts' });
const controls = buildControls();
const count = el('div', { class: 'count', attrs: { 'aria-live': 'polite' } });
const header = el('div', { class: 'vrow vheader' },
  el('span', { class: 'c-id', text: t('latent') }), el('span', { class: 'c-badge', text: t('verdict') }),
  el('span', { class: 'c-num', text: 'Δnorm', title: t('Δnorm, paper convention: 1 = chat-only, 0 = base-only') }),
  el('span', { class: 'c-num', text: 'ν^ε' }), el('span', { class: 'c-num', text: 'ν^r' }),
  el('span', { class: 'c-num', text: t('doc'), title: t('max activation in the analysed document') }), el('span', { class: 'c-label', text: t('label') }),
  el('span', { class: 'c-steer' }));
const list = new VirtualList({
  rowHeight: ROW_HEIGHT,
  renderRow,
  onActivate: (latent, e) => host.post({ type: 'highlightLatent', latent, slot: e.shiftKey ? 1 : 0 }),
  onOpen: (latent) => host.post({ type: 'openLatent', latent }),
});
app.append(message, charts, controls.element, count, header, list.element);
showTable(null, t('Loading latents…'));

function renderRow(row: HTMLElement, id: number): void {
  const m = model!;
  const c = m.columns;
  const code = m.verdictCode(id);
  const cells = row.children.length ? Array.from(row.children) as HTMLElement[] : createCells(row);
  cells[0].textContent = `#${id}`;
  cells[1].textContent = verdictCodeBadge(code);
  cells[1].className = `c-badge badge verdict-${VERDICT_CODE_KINDS[code]}`;
  cells[2].textContent = formatNumber(c.deltaNorm[id], 3);
  cells[3].textContent = c.nuError ? formatNumber(c.nuError[id], 2) : '';
  cells[4].textContent = c.nuReconstruction ? formatNumber(c.nuReconstruction[id], 2) : '';
  const docMax = m.documentMax(id);
  cells[5].textContent = docMax > 0 ? docMax.toFixed(2) : '';
  cells[6].textContent = labels.get(id) ?? '';
  row.classList.toggle('highlighted', highlighted.includes(id));
  row.setAttribute('aria-label', t('latent {0}, {1}', id, verdictCodeBadge(code)));
}

function createCells(row: HTMLElement): HTMLElement[] {
  const cells = ['c-id', 'c-badge', 'c-num', 'c-num', 'c-num', 'c-num', 'c-label'].map((cls) => el('span', { class: cls }));
  const steerButton = el('button', { class: 'link c-steer row-steer', text: t('steer'), title: t('Steer with this latent (the strength above)') });
  steerButton.addEventListener('click', (e) => {
    e.stopPropagation();
    steer([Number(row.dataset.id)]);
  });
  row.append(...cells, steerButton);
  return cells;
}

/** Asks the host for a steered generation with these latents at the strength field's value (1 when empty). */
function steer(latents: number[]): void {
  const typed = valueOf(controls.steerStrength).trim();
  const strength = typed === '' ? 1 : Number(typed);
  const problem = !Number.isFinite(strength) ? t('The steering strength must be a finite number, got "{0}"', typed) : latents.length ? '' : t('Highlight a latent first (click a row)');
  controls.steerProblem.textContent = problem;
  if (!problem) host.post({ type: 'steerLatents', steer: latents.map((latent) => ({ latent, strength })) });
}

function showTable(table: LatentTable | null, text: string): void {
  message.textContent = text;
  message.hidden = table !== null;
  charts.hidden = controls.element.hidden = count.hidden = header.hidden = list.element.hidden = table === null;
  if (!table) { model = null; return; }
  model = new LatentTableModel({
    dictSize: table.dictSize,
    deltaNorm: new Float32Array(table.deltaNorm),
    decCos: new Float32Array(table.decCos),
    nuError: table.nuError && new Float32Array(table.nuError),
    nuReconstruction: table.nuReconstruction && new Float32Array(table.nuReconstruction),
    freq: table.freq && new Float32Array(table.freq),
    maxAct: table.maxAct && new Float32Array(table.maxAct),
  }, table.thresholds);
  model.setLabels(labels);
  model.setDocumentActivity(activity?.latents ?? null, activity?.maxes ?? null);
  const c = model.columns;
  histogram = new DeltaNormHistogram(binDeltaNorm(c.deltaNorm), table.thresholds, (range) => {
    filter = { ...filter, deltaMin: range ? range[0] : 0, deltaMax: range ? range[1] : 1 };
    setValue(controls.deltaMin, String(filter.deltaMin));
    setValue(controls.deltaMax, String(filter.deltaMax));
    update(true);
  });
  const chart = (title: string, node: Node, open: boolean) => el('details', { attrs: open ? { open: '' } : {} }, el('summary', { text: title }), node);
  const parts: Node[] = [
    el('h3', { text: t('{0}: {1} latents', table.bundle, table.dictSize.toLocaleString('en-US')) }),
    chart(t('Δnorm histogram (paper convention, 1 = chat-only): drag to filter'), histogram.element, true),
  ];
  if (c.nuError && c.nuReconstruction) {
    scatter = new NuScatter(c.nuError, c.nuReconstruction, (j) => model!.tagOf(j) === 'chat-only', table.thresholds, (j) => host.post({ type: 'openLatent', latent: j }));
    scatterBox = chart(t('ν^ε vs ν^r ({0} latents with Latent Scaling results)', scatter.pointCount.toLocaleString('en-US')), scatter.element, false);
    scatterBox.addEventListener('toggle', drawScatter);
    parts.push(scatterBox);
  } else {
    scatter = null;
    scatterBox = null;
    parts.push(el('p', { class: 'muted', text: t('No Latent Scaling results for this crosscoder yet: ν ratios, artifact flags and the ν scatter appear once statistics are computed or imported.') }));
  }
  charts.replaceChildren(...parts);
  controls.setAvailability(model);
  controls.sync();
  histogram.setRange([filter.deltaMin, filter.deltaMax]);
  update(true);
  warmSortOrders(model);
}

/** Builds the other columns' sort orders while the webview is idle, one per idle slot. */
function warmSortOrders(m: LatentTableModel): void {
  const keys: Exclude<SortKey, 'id'>[] = ['deltaNorm', 'nuError', 'nuReconstruction', 'maxAct', 'freq', 'decCos'];
  const next = () => {
    const key = keys.shift();
    if (!key || m !== model) return;
    m.prepareSort(key);
    requestIdleCallback(next);
  };
  requestIdleCallback(next);
}

function update(resetScroll: boolean): void {
  if (!model) return;
  shown = model.query(filter, sort);
  list.setItems(shown);
  if (resetScroll) list.scrollToTop();
  count.textContent = t('{0} of {1} latents', shown.length.toLocaleString('en-US'), model.dictSize.toLocaleString('en-US'));
  const subset = shown.length === model.dictSize ? null : shown;
  histogram?.showSubset(subset && binDeltaNorm(model.columns.deltaNorm, subset));
  drawScatter();
  host.setState({ filter: persistable(filter), sort });
  host.post({ type: 'rowCount', shown: shown.length, total: model.dictSize });
}

function drawScatter(): void {
  if (!scatter || !model || !scatterBox?.open) return;
  let mask: Uint8Array | null = null;
  if (shown.length < model.dictSize) {
    mask = new Uint8Array(model.dictSize);
    for (const j of shown) mask[j] = 1;
  }
  scatter.draw(mask);
}

function buildControls() {
  const text = el('vscode-textfield', { attrs: { placeholder: t('label or #id'), 'aria-label': t('Filter by label or id'), id: 'filter-text' } });
  const tag = select('filter-tag', t('Tag'), [['any', t('any tag')], ['chat-only', t('chat-only')], ['base-only', t('base-only')], ['shared', t('shared')], ['other', t('other')]]);
  const flag = select('filter-flag', t('Latent Scaling verdict'), [['any', t('any verdict')], ['robust', t('robust chat-specific')], ['shrinkage', t('Complete Shrinkage')], ['decoupling', t('Latent Decoupling')], ['artifact', t('any artifact')], ['unverified', t('chat-only, not verified')]]);
  const num = (id: string, placeholder: string, label: string) => el('vscode-textfield', { class: 'num-field', attrs: { id, placeholder, 'aria-label': label } });
  const deltaMin = num('filter-delta-min', '0', t('Δnorm at least'));
  const deltaMax = num('filter-delta-max', '1', t('Δnorm at most'));
  const nuErrorMax = num('filter-nu-error-max', 'ν^ε ≤', t('ν^ε at most'));
  const nuReconMax = num('filter-nu-recon-max', 'ν^r ≤', t('ν^r at most'));
  const freqMin = num('filter-freq-min', t('freq ≥'), t('frequency at least'));
  const maxActMin = num('filter-max-act-min', t('max act ≥'), t('max activation at least'));
  const active = el('vscode-checkbox', { attrs: { id: 'filter-active', label: t('active in current document') } });
  const sortKey = select('sort-key', t('Sort by'), [['deltaNorm', 'Δnorm'], ['id', t('latent id')], ['decCos', t('decoder cosine')], ['nuError', 'ν^ε'], ['nuReconstruction', 'ν^r'], ['freq', t('frequency')], ['maxAct', t('max activation')], ['docAct', t('activation in document')]]);
  const descending = el('vscode-checkbox', { attrs: { id: 'sort-descending', label: t('descending') } });
  const reset = el('vscode-button', { text: t('Reset'), attrs: { secondary: '', id: 'filter-reset' } });
  const steerStrength = el('vscode-textfield', { class: 'num-field', attrs: { id: 'steer-strength', placeholder: '1', 'aria-label': t('Steering strength') } });
  const steerHighlighted = el('vscode-button', { text: t('Steer with highlighted'), attrs: { secondary: '', id: 'steer-highlighted' } });
  const steerProblem = el('span', { class: 'problem', attrs: { id: 'steer-problem', 'aria-live': 'polite' } });
  const element = el('div', { class: 'controls' },
    el('div', { class: 'control-row' }, text),
    el('div', { class: 'control-row' }, tag, flag),
    el('div', { class: 'control-row' }, el('span', { class: 'muted', text: 'Δnorm' }), deltaMin, el('span', { text: '–' }), deltaMax),
    el('div', { class: 'control-row' }, nuErrorMax, nuReconMax, freqMin, maxActMin),
    el('div', { class: 'control-row' }, active),
    el('div', { class: 'control-row' }, el('span', { class: 'muted', text: t('sort') }), sortKey, descending, reset),
    el('div', { class: 'control-row' }, el('span', { class: 'muted', text: t('steer strength') }), steerStrength, steerHighlighted, steerProblem));
  steerHighlighted.addEventListener('click', () => steer(highlighted));

  const parse = (node: Element, fallback: number) => {
    const v = valueOf(node).trim();
    if (v === '') return fallback;
    const n = Number(v);
    return Number.isFinite(n) ? n : fallback;
  };
  const read = () => {
    filter = {
      tag: valueOf(tag) as LatentFilter['tag'], flag: valueOf(flag) as FlagFilter,
      deltaMin: parse(deltaMin, 0), deltaMax: parse(deltaMax, 1),
      nuErrorMax: parse(nuErrorMax, NaN), nuReconstructionMax: parse(nuReconMax, NaN),
      freqMin: parse(freqMin, NaN), maxActMin: parse(maxActMin, NaN),
      activeInDocument: isChecked(active), text: valueOf(text),
    };
    sort = { key: valueOf(sortKey) as SortKey, descending: isChecked(descending) };
    histogram?.setRange([filter.deltaMin, filter.deltaMax]);
    update(true);
  };
  for (const node of [text, deltaMin, deltaMax, nuErrorMax, nuReconMax, freqMin, maxActMin]) node.addEventListener('input', read);
  for (const node of [tag, flag, sortKey, active, descending]) node.addEventListener('change', read);
  reset.addEventListener('click', () => {
    filter = { ...DEFAULT_FILTER };
    controlsApi.sync();
    histogram?.setRange(null);
    update(true);
  });
  const show = (v: number) => (Number.isNaN(v) ? '' : String(v));
  const controlsApi = {
    element, deltaMin, deltaMax, steerStrength, steerProblem,
    sync() {
      setValue(text, filter.text);
      setValue(tag, filter.tag);
      setValue(flag, filter.flag);
      setValue(deltaMin, filter.deltaMin === 0 ? '' : String(filter.deltaMin));
      setValue(deltaMax, filter.deltaMax === 1 ? '' : String(filter.deltaMax));
      setValue(nuErrorMax, show(filter.nuErrorMax));
      setValue(nuReconMax, show(filter.nuReconstructionMax));
      setValue(freqMin, show(filter.freqMin));
      setValue(maxActMin, show(filter.maxActMin));
      (active as unknown as { checked: boolean }).checked = filter.activeInDocument;
      setValue(sortKey, sort.key);
      (descending as unknown as { checked: boolean }).checked = sort.descending;
    },
    setAvailability(m: LatentTableModel) {
      const c = m.columns;
      const toggle = (node: HTMLElement, on: boolean, why: string) => {
        node.toggleAttribute('disabled', !on);
        node.title = on ? '' : why;
      };
      const noScaling = t('needs Latent Scaling results');
      toggle(flag, Boolean(c.nuError && c.nuReconstruction), noScaling);
      toggle(nuErrorMax, Boolean(c.nuError), noScaling);
      toggle(nuReconMax, Boolean(c.nuReconstruction), noScaling);
      toggle(freqMin, Boolean(c.freq), t('needs dataset statistics'));
      toggle(maxActMin, Boolean(c.maxAct), t('needs dataset statistics'));
      toggle(active, activity !== null, t('analyse a document first'));
    },
  };
  return controlsApi;
}

function select(id: string, label: string, options: [string, string][]): HTMLElement {
  return el('vscode-single-select', { attrs: { id, 'aria-label': label } },
    ...options.map(([value, text]) => el('vscode-option', { text, attrs: { value } })));
}

/** Filter values survive getState/setState as JSON, where NaN does not: store null instead. */
function persistable(f: LatentFilter): Record<string, unknown> {
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, typeof v === 'number' && Number.isNaN(v) ? null : v]));
}

function revive(f: Record<string, unknown> | undefined): Partial<LatentFilter> {
  if (!f) return {};
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v === null ? NaN : v])) as Partial<LatentFilter>;
}

host.onEvent((m) => {
  switch (m.type) {
    case 'table':
      showTable(m.table, m.message);
      break;
    case 'activity':
      activity = m.activity && { latents: new Uint32Array(m.activity.latents), maxes: new Float32Array(m.activity.maxes) };
      if (model) {
        model.setDocumentActivity(activity?.latents ?? null, activity?.maxes ?? null);
        controls.setAvailability(model);
        update(false);
      }
      break;
    case 'labels':
      labels.clear();
      for (const [k, v] of m.labels) labels.set(k, v);
      model?.setLabels(labels);
      if (filter.text) update(false); else list.render();
      break;
    case 'highlighted':
      highlighted = m.latents;
      list.render();
      break;
  }
});
host.post({ type: 'ready' });
