/**
 * Latent page: every number known about one latent with a plain-language verdict, decoder-norm bars per
 * model, its activations in the analysed document, max-activating examples by quantile (when the bundle
 * has an examples database) and the annotation editor.
 */
import '../common/elements';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import { ANNOTATION_STATUSES, SaveAnnotation, type AnnotationStatus, type HostToLatent, type LatentDetail, type LatentPageState, type LatentToHost, type LogitEffectsView, type TokenStrip } from '../../extension/protocol/messages';
import { verdictOf } from '../../extension/protocol/latent-verdict';
import { connectToHost } from '../common/host';
import { t } from '../common/l10n';
import { byId, el, formatNumber } from '../common/dom';
import { setValue, valueOf } from '../common/elements';
import { sparkline } from '../common/charts';
import { attachTooltip, colourTokens, renderTokens, tokenIndexOf, tokenTarget } from '../common/token-render';

const host = connectToHost<LatentToHost, HostToLatent, LatentPageState>();
const app = byId('app');
/** Filled when the host's logit effects arrive (they take a model load); kept across re-renders of the page. */
const logitBox = el('div', { class: 'logit-effects', attrs: { id: 'logit-effects' } }, el('p', { class: 'muted', text: t('Computing…') }));
let logitLatent = -1;

function render(detail: LatentDetail | null, message: string): void {
  if (!detail) {
    app.replaceChildren(el('p', { class: 'empty-state', text: message }));
    return;
  }
  host.setState({ latent: detail.latent });
  if (logitLatent !== detail.latent) {
    logitLatent = detail.latent;
    logitBox.replaceChildren(el('p', { class: 'muted', text: t('Computing…') }));
  }
  const n = detail.numbers;
  const verdict = verdictOf(n.deltaNorm, n.nuError, n.nuReconstruction, detail.thresholds);
  const label = detail.annotation?.label ?? '';
  app.replaceChildren(
    el('div', { class: 'toolbar' },
      el('h2', { class: 'title', text: `${t('Latent #{0}', detail.latent)}${label ? ` — ${label}` : ''}` }),
      el('span', { class: `badge verdict-${verdict.kind}`, text: verdict.badge }),
      button(t('Highlight in editor'), () => host.post({ type: 'highlightLatent', latent: detail.latent, slot: 0 })),
      button(t('As second colour'), () => host.post({ type: 'highlightLatent', latent: detail.latent, slot: 1 })),
      button(t('Steer generation…'), () => host.post({ type: 'steerLatent', latent: detail.latent }))),
    el('p', { class: 'verdict', text: verdict.sentence }),
    ...signNote(n.deltaNorm, n.nuError, n.nuReconstruction, detail.thresholds, verdict.kind),
    el('p', { class: 'muted', text: t('{0} · latent {1} of {2}', detail.bundle, detail.latent, detail.dictSize.toLocaleString('en-US')) }),
    section(t('Decoder norms per model'), normBars(n.decNormBase, n.decNormChat)),
    section(t('Numbers'), numbersTable(detail)),
    section(t('Logit effects (direct path)'), logitBox),
    section(t('In the current document'), documentView(detail)),
    section(t('Max-activating examples'), examplesView(detail)),
    section(t('Annotation'), annotationEditor(detail)),
  );
}

/** Says so when the other nu sign convention (setting latentDiff.nuSignConvention) would give another verdict. */
function signNote(deltaNorm: number, nuError: number, nuReconstruction: number, thresholds: LatentDetail['thresholds'], kind: string): HTMLElement[] {
  const current = thresholds.nuSign ?? 'signed';
  const other = current === 'signed' ? 'absolute' : 'signed';
  const alt = verdictOf(deltaNorm, nuError, nuReconstruction, { ...thresholds, nuSign: other });
  if (alt.kind === kind) return [];
  return [el('p', { class: 'muted sign-note', text: t('The ν thresholds compare {0} (setting latentDiff.nuSignConvention: {1}). With {2} this latent would be "{3}".', current === 'signed' ? t('signed ν') : '|ν|', current, other === 'signed' ? t('signed ν') : '|ν|', alt.badge) })];
}

function section(title: string, ...content: Node[]): HTMLElement {
  return el('section', {}, el('h3', { text: title }), ...content);
}

function button(text: string, onClick: () => void, secondary = true): HTMLElement {
  const b = el('vscode-button', { text, attrs: secondary ? { secondary: '' } : {} });
  b.addEventListener('click', onClick);
  return b;
}

function normBars(base: number, chat: number): SVGSVGElement {
  const W = 300, row = 22;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const root = select(svg).attr('viewBox', `0 0 ${W} ${row * 2 + 4}`).attr('class', 'norm-bars').attr('role', 'img')
    .attr('aria-label', t('decoder norm base {0}, chat {1}', formatNumber(base), formatNumber(chat)));
  const x = scaleLinear().domain([0, Math.max(base, chat, 1e-9)]).range([0, W - 130]);
  const data: [string, number, string][] = [['base', base, 'bar-base'], ['chat', chat, 'bar-chat']];
  const g = root.selectAll('g').data(data).join('g').attr('transform', (_, i) => `translate(0,${i * row + 2})`);
  g.append('text').attr('x', 0).attr('y', 14).text((d) => `‖d^${d[0]}‖`);
  g.append('rect').attr('class', (d) => d[2]).attr('x', 50).attr('y', 3).attr('height', 14).attr('width', (d) => (Number.isFinite(d[1]) ? x(d[1]) : 0));
  g.append('text').attr('x', (d) => 56 + (Number.isFinite(d[1]) ? x(d[1]) : 0)).attr('y', 14).text((d) => formatNumber(d[1]));
  return svg;
}

function numbersTable(d: LatentDetail): HTMLElement {
  const n = d.numbers;
  const rows: [string, number, string][] = [
    [t('Δnorm (paper convention: 1 = chat-only, 0 = base-only)'), n.deltaNorm, ''],
    [t('dec_norm_diff (code convention) = 1 − Δnorm'), 1 - n.deltaNorm, ''],
    [t('decoder cosine (base, chat)'), n.decCos, ''],
    [t('encoder norm base / chat'), n.encNormBase, formatNumber(n.encNormChat)],
    [t('encoder cosine (base, chat)'), n.encCos, ''],
    [t('activation scale s_j (shown activations are f·s_j)'), n.scale, ''],
    [t('β error base / chat'), n.betaErrorBase, formatNumber(n.betaErrorChat)],
    ['ν^ε = β_error,base / β_error,chat', n.nuError, t('threshold {0}', d.thresholds.nuError)],
    [t('β reconstruction base / chat'), n.betaReconstructionBase, formatNumber(n.betaReconstructionChat)],
    ['ν^r = β_recon,base / β_recon,chat', n.nuReconstruction, t('threshold {0}', d.thresholds.nuReconstruction)],
    [t('activation frequency'), n.freq, ''],
    [t('max activation (dataset)'), n.maxAct, ''],
  ];
  return el('table', { class: 'numbers' }, el('tbody', {}, ...rows.map(([name, v, extra]) =>
    el('tr', {}, el('th', { text: name }), el('td', { class: 'num', text: formatNumber(v, 4) }), el('td', { class: 'muted', text: extra })))));
}

function strip(s: TokenStrip, max: number, onToken?: (i: number) => void): HTMLElement {
  const acts = new Float32Array(s.acts);
  const box = el('div', { class: 'tokens strip' });
  const spans = renderTokens(box, { texts: s.texts });
  colourTokens(spans, [{ name: 'act', acts, max, hue: 'first' }]);
  if (s.focus >= 0) spans[s.focus]?.classList.add('selected');
  attachTooltip(box, (i) => [JSON.stringify(s.texts[i]), t('activation: {0}', formatNumber(acts[i]))]);
  if (onToken) box.addEventListener('click', (e) => {
    const t = tokenTarget(box, e);
    if (t) onToken(tokenIndexOf(t));
  });
  return box;
}

function documentView(d: LatentDetail): HTMLElement {
  if (!d.document) return el('p', { class: 'muted', text: t('Nothing analysed yet: run "Latent Diff: Analyze Document".') });
  const doc = d.document;
  const acts = new Float32Array(doc.strip.acts);
  const reveal = (i: number) => host.post({ type: 'revealToken', index: doc.strip.offset + i });
  return el('div', {},
    el('p', { class: 'muted', text: doc.approximate ? t('{0}: max {1} (from each token\'s top-k only). Click a token to show it in the editor.', doc.title, formatNumber(doc.max)) : t('{0}: max {1}. Click a token to show it in the editor.', doc.title, formatNumber(doc.max)) }),
    sparkline(acts, doc.max, 'first', reveal, 300, 30),
    doc.max > 0 ? strip(doc.strip, doc.max, reveal) : el('p', { class: 'muted', text: t('The latent does not fire in this text.') }));
}

function examplesView(d: LatentDetail): HTMLElement {
  const ex = d.examples;
  if (ex.status === 'none') return el('p', { class: 'empty-state', text: ex.message });
  return el('div', {}, el('p', { class: 'muted', text: t('From {0}. Each example is coloured relative to its own max.', ex.source) }),
    ...ex.sections.map((s) => el('details', { attrs: s === ex.sections[0] ? { open: '' } : {} },
      el('summary', { text: `${s.name} (${s.examples.length})` }),
      ...s.examples.map((e) => el('div', { class: 'example' },
        el('div', { class: 'muted', text: t('Max Activation: {0}', e.maxAct.toFixed(2)) }), strip(e.strip, e.maxAct))))));
}

function annotationEditor(d: LatentDetail): HTMLElement {
  const a = d.annotation;
  const labelField = el('vscode-textfield', { attrs: { id: 'annotation-label', placeholder: t('short label'), 'aria-label': t('Label') } });
  const status = el('vscode-single-select', { attrs: { id: 'annotation-status', 'aria-label': t('Status') } },
    ...ANNOTATION_STATUSES.map((s) => el('vscode-option', { text: s, attrs: { value: s } })));
  const notes = el('vscode-textarea', { attrs: { id: 'annotation-notes', rows: '4', placeholder: t('notes'), 'aria-label': t('Notes') } });
  const result = el('span', { class: 'muted', attrs: { id: 'annotation-result', 'aria-live': 'polite' } });
  /** What the host last had: a save sends only the fields that differ, so another window's edits of the others are kept. */
  const saved = { label: a?.label ?? '', notes: a?.notes ?? '', status: a?.status ?? 'hypothesis' };
  queueMicrotask(() => {
    setValue(labelField, saved.label);
    setValue(status, saved.status);
    setValue(notes, saved.notes);
  });
  const save = button(t('Save annotation'), async () => {
    const shown = { label: valueOf(labelField), notes: valueOf(notes), status: valueOf(status) as AnnotationStatus };
    const patch = Object.fromEntries(Object.entries(shown).filter(([k, v]) => saved[k as keyof typeof saved] !== v)) as Partial<typeof shown>;
    if (Object.keys(patch).length === 0) {
      result.textContent = t('no changes to save');
      return;
    }
    result.textContent = t('saving…');
    try {
      await host.request(SaveAnnotation, { latent: d.latent, ...patch });
      Object.assign(saved, patch);
      result.textContent = t('saved');
    } catch (e) {
      result.textContent = t('not saved: {0}', (e as Error).message);
    }
  }, false);
  save.id = 'annotation-save';
  const evidence = a?.evidence ?? [];
  return el('div', { class: 'annotation' },
    d.annotationProblem ? el('p', { class: 'problem', text: d.annotationProblem }) : null,
    el('div', { class: 'control-row' }, labelField, status),
    notes,
    el('div', { class: 'control-row' }, save, result),
    el('h4', { text: t('Evidence ({0})', evidence.length) }),
    evidence.length === 0
      ? el('p', { class: 'muted', text: t('Select text in an editor and run "Latent Diff: Add Evidence from Selection".') })
      : el('ul', { class: 'evidence' }, ...evidence.map((e, i) => {
        const link = el('button', { class: 'link', text: `${e.file}:${e.line + 1}:${e.character + 1}` });
        link.addEventListener('click', () => host.post({ type: 'openEvidence', index: i }));
        return el('li', {}, link, el('span', { class: 'muted', text: ` ${t('act {0}', formatNumber(e.activation))}${e.text ? ` · ${JSON.stringify(e.text)}` : ''}` }));
      })));
}

/** Base and chat side by side: the tokens each decoder vector promotes most and suppresses most. */
function renderLogitEffects(e: LogitEffectsView | null, message: string): void {
  if (!e) {
    logitBox.replaceChildren(el('p', { class: 'muted', text: message }));
    return;
  }
  const list = (title: string, rows: { text: string; logit: number }[]) => el('table', { class: 'latent-table' },
    el('thead', {}, el('tr', {}, el('th', { text: title }), el('th', { class: 'num', text: t('logit') }))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, el('td', {}, el('code', { text: JSON.stringify(r.text) })), el('td', { class: 'num', text: r.logit.toFixed(3) })))));
  const model = (name: 'base' | 'chat') => el('div', { class: `logit-model logit-${name}` },
    el('h4', { text: t('{0} decoder d_j^{1}', name === 'base' ? t('base') : t('chat'), name) }),
    el('div', { class: 'logit-lists' }, list(t('promoted'), e[name].promoted), list(t('suppressed'), e[name].suppressed)));
  logitBox.replaceChildren(el('p', { class: 'muted', text: t('Direct path only: {0}.', e.convention) }), el('div', { class: 'logit-sides' }, model('base'), model('chat')));
}

host.onEvent((m) => {
  if (m.type === 'latent') render(m.detail, m.message);
  else if (m.type === 'logitEffects' && m.latent === logitLatent) renderLogitEffects(m.effects, m.message);
});
app.replaceChildren(el('p', { class: 'empty-state', text: t('Loading…') }));
host.post({ type: 'ready' });
