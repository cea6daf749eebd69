/**
 * Histogram of Delta-norm (paper convention; the paper's trimodal figure) with the tag bands shaded, the
 * currently listed latents overlaid, and a d3 brush whose selection becomes the Delta-norm filter.
 */
import { axisBottom, axisLeft } from 'd3-axis';
import { brushX, type D3BrushEvent } from 'd3-brush';
import { scaleLinear } from 'd3-scale';
import { select, type Selection } from 'd3-selection';
import type { ClassifyThresholds } from '../../extension/protocol/messages';
import { t } from '../common/l10n';

const BINS = 50;
const W = 300;
const H = 120;
const M = { top: 6, right: 8, bottom: 20, left: 34 };

export function binDeltaNorm(deltaNorm: Float32Array, ids?: Uint32Array): Uint32Array {
  const counts = new Uint32Array(BINS);
  const n = ids ? ids.length : deltaNorm.length;
  for (let i = 0; i < n; i++) {
    const v = deltaNorm[ids ? ids[i] : i];
    if (!(v >= 0 && v <= 1)) continue;
    counts[Math.min(BINS - 1, Math.floor(v * BINS))]++;
  }
  return counts;
}

export class DeltaNormHistogram {
  readonly element: SVGSVGElement;
  private readonly x = scaleLinear().domain([0, 1]).range([M.left, W - M.right]);
  private readonly y = scaleLinear().range([H - M.bottom, M.top]);
  private readonly root: Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly brush;
  private silent = false;

  constructor(all: Uint32Array, thresholds: ClassifyThresholds, onBrush: (range: [number, number] | null) => void) {
    this.element = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.root = select(this.element).attr('viewBox', `0 0 ${W} ${H}`).attr('class', 'histogram').attr('role', 'img')
      .attr('aria-label', t('Histogram of Δnorm (paper convention: 1 = chat-only); drag to filter'));
    let max = 0;
    for (const c of all) max = Math.max(max, c);
    this.y.domain([0, Math.max(1, max)]);
    const bands: [number, number, string][] = [
      [0, thresholds.baseOnlyBelow, 'band-base'],
      [0.5 - thresholds.sharedHalfWidth, 0.5 + thresholds.sharedHalfWidth, 'band-shared'],
      [thresholds.chatOnlyAbove, 1, 'band-chat'],
    ];
    this.root.append('g').selectAll('rect').data(bands).join('rect')
      .attr('class', (d) => d[2]).attr('x', (d) => this.x(d[0])).attr('width', (d) => this.x(d[1]) - this.x(d[0]))
      .attr('y', M.top).attr('height', H - M.bottom - M.top);
    this.bars('bars-all', all);
    this.root.append('g').attr('class', 'bars-shown');
    this.root.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - M.bottom})`).call(axisBottom(this.x).ticks(5));
    this.root.append('g').attr('class', 'axis').attr('transform', `translate(${M.left},0)`).call(axisLeft(this.y).ticks(3, '~s'));
    this.brush = brushX<unknown>().extent([[M.left, M.top], [W - M.right, H - M.bottom]])
      .on('end', (event: D3BrushEvent<unknown>) => {
        if (this.silent) return;
        const s = event.selection as [number, number] | null;
        onBrush(s ? [round(this.x.invert(s[0])), round(this.x.invert(s[1]))] : null);
      });
    this.root.append('g').attr('class', 'brush').call(this.brush);
  }

  /** Overlays the distribution of the latents currently listed. */
  showSubset(counts: Uint32Array | null): void {
    this.bars('bars-shown', counts ?? new Uint32Array(BINS));
  }

  /** Moves the brush to a range set elsewhere (text fields), without firing onBrush. */
  setRange(range: [number, number] | null): void {
    this.silent = true;
    const g = this.root.select<SVGGElement>('g.brush');
    if (range && (range[0] > 0 || range[1] < 1)) this.brush.move(g, [this.x(range[0]), this.x(range[1])]);
    else this.brush.move(g, null);
    this.silent = false;
  }

  private bars(cls: string, counts: Uint32Array): void {
    let g = this.root.select<SVGGElement>(`g.${cls}`);
    if (g.empty()) g = this.root.append('g').attr('class', cls);
    const step = (this.x(1) - this.x(0)) / BINS;
    g.selectAll('rect').data(Array.from(counts)).join('rect')
      .attr('x', (_, i) => this.x(0) + i * step + 0.5).attr('width', Math.max(0.5, step - 1))
      .attr('y', (d) => this.y(d)).attr('height', (d) => this.y(0) - this.y(d))
      .selectAll('title').data((d, i) => [[d, i]]).join('title')
      .text(([d, i]) => t('Δnorm {0}–{1}: {2} latents', (i / BINS).toFixed(2), ((i + 1) / BINS).toFixed(2), d));
  }
}

function round(v: number): number {
  return Math.round(Math.max(0, Math.min(1, v)) * 1000) / 1000;
}
