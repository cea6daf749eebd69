/**
 * The token renderer shared by the token panel, the latent page and the exported standalone HTML: one span
 * per token (text via textContent only: token strings are untrusted), coloured by up to two activation
 * series, with one delegated tooltip.
 */
import { alphaOf, rgba, type Hue } from './colors';
import { el } from './dom';
import { t } from './l10n';
import { TOKEN_OUTSIDE, TOKEN_SPECIAL, TOKEN_TEMPLATE } from '../../extension/protocol/messages';

export interface TokenModel {
  texts: string[];
  ids?: Int32Array;
  flags?: Uint8Array;
}

export interface SeriesModel {
  name: string;
  acts: Float32Array;
  max: number;
  hue: Hue;
}

const tokenIndexes = new WeakMap<Element, number>();
/** The background last set on each token span. */
const backgrounds = new WeakMap<Element, string>();

/** The token index of a span made by renderTokens (kept off the DOM: an attribute per token costs layout time). */
export function tokenIndexOf(span: Element): number {
  return tokenIndexes.get(span) ?? -1;
}

/** The token span an event happened in (inside `container`), or undefined. */
export function tokenTarget(container: HTMLElement, e: Event): HTMLElement | undefined {
  const target = (e.target as HTMLElement).closest<HTMLElement>('.tok');
  return target && container.contains(target) ? target : undefined;
}

/**
 * Builds the token spans into `container` (replacing its content) and returns them, index = token index.
 * Spans are grouped into one block per text line (a line ends after a token ending in a newline), and
 * lines off screen skip layout (content-visibility), so long documents render fast.
 */
export function renderTokens(container: HTMLElement, model: TokenModel): HTMLSpanElement[] {
  const spans: HTMLSpanElement[] = new Array(model.texts.length);
  const frag = document.createDocumentFragment();
  let line = document.createElement('div');
  line.className = 'line';
  for (let i = 0; i < model.texts.length; i++) {
    const text = model.texts[i];
    const span = document.createElement('span');
    let cls = 'tok';
    const f = model.flags ? model.flags[i] : 0;
    if (f & TOKEN_TEMPLATE) cls += ' template';
    if (f & TOKEN_SPECIAL) cls += ' special';
    if (f & TOKEN_OUTSIDE) cls += ' outside';
    if (text.includes('\n')) cls += ' nl';
    if (text.length === 0) cls += ' empty';
    span.className = cls;
    span.textContent = text;
    tokenIndexes.set(span, i);
    spans[i] = span;
    line.append(span);
    if (text.endsWith('\n')) {
      frag.append(line);
      line = document.createElement('div');
      line.className = 'line';
    }
  }
  if (line.firstChild) frag.append(line);
  container.replaceChildren(frag);
  return spans;
}

/** The CSS background of token i: one hue, or the top/bottom halves for two series (two-latent mode). */
export function tokenBackground(series: readonly SeriesModel[], i: number): string {
  if (series.length === 0) return '';
  const alphas = series.map((s) => alphaOf(s.acts[i], s.max));
  if (alphas.every((a) => a === 0)) return '';
  const colours = series.map((s, k) => rgba(s.hue, alphas[k]));
  if (colours.length === 1) return colours[0];
  return `linear-gradient(to bottom, ${colours[0]} 50%, ${colours[1]} 50%)`;
}

/** Sets each token's background; spans whose colour does not change are not touched (no style invalidation). */
export function colourTokens(spans: readonly HTMLSpanElement[], series: readonly SeriesModel[]): void {
  for (let i = 0; i < spans.length; i++) {
    const bg = tokenBackground(series, i);
    const span = spans[i];
    if ((backgrounds.get(span) ?? '') !== bg) {
      span.style.background = bg;
      backgrounds.set(span, bg);
    }
  }
}

/** The tooltip lines for token i, as in the dashboards: `Token <id>: '<text>'` then one line per series. */
export function tooltipLines(model: TokenModel, series: readonly SeriesModel[], i: number): string[] {
  const id = model.ids ? model.ids[i] : NaN;
  const head = Number.isFinite(id) ? t('Token {0}: {1}', id, JSON.stringify(model.texts[i])) : JSON.stringify(model.texts[i]);
  const lines = [head];
  const f = model.flags ? model.flags[i] : 0;
  if (f & TOKEN_TEMPLATE) lines.push(t('chat-template token'));
  if (f & TOKEN_OUTSIDE) lines.push(t('not in the document'));
  for (const s of series) lines.push(`${s.name}: ${Number.isFinite(s.acts[i]) ? s.acts[i].toFixed(3) : 'NaN'}`);
  return lines;
}

/**
 * One floating tooltip for a token container, driven by event delegation (no per-token listeners).
 * `lines` is called with the hovered token index.
 */
export function attachTooltip(container: HTMLElement, lines: (i: number) => string[]): void {
  const tip = el('div', { class: 'tooltip', attrs: { role: 'tooltip' } });
  tip.hidden = true;
  document.body.append(tip);
  container.addEventListener('mouseover', (e) => {
    const target = tokenTarget(container, e);
    if (!target) return;
    tip.replaceChildren(...lines(tokenIndexOf(target)).map((line) => el('div', { text: line })));
    tip.hidden = false;
    const r = target.getBoundingClientRect();
    tip.style.left = `${Math.max(4, Math.min(window.innerWidth - tip.offsetWidth - 4, r.left))}px`;
    tip.style.top = `${r.bottom + 4 + window.scrollY}px`;
  });
  container.addEventListener('mouseleave', () => { tip.hidden = true; });
}
