/**
 * nu_eps vs nu_r scatter (Latent Scaling ratios, base/chat) with the threshold lines: points on a canvas
 * (thousands of them), axes and lines in SVG. Values are clipped to the paper's plotting range [-0.1, 2].
 */
import { axisBottom, axisLeft } from 'd3-axis';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import type { ClassifyThresholds } from '../../extension/protocol/messages';
import { el } from '../common/dom';
import { t } from '../common/l10n';

const W = 300;
const H = 220;
const M = { top: 8, right: 8, bottom: 30, left: 38 };
const LO = -0.1;
const HI = 2;

export class NuScatter {
  readonly element: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly x = scaleLinear().domain([LO, HI]).range([M.left, W - M.right]).clamp(true);
  private readonly y = scaleLinear().domain([LO, HI]).range([H - M.bottom, M.top]).clamp(true);
  private points: Uint32Array;
  /** Pixel position and colour group of each point, computed once. */
  private px: Float32Array;
  private py: Float32Array;
  private chat: Uint8Array;

  constructor(
    nuError: Float32Array,
    nuReconstruction: Float32Array,
    isChatOnly: (latent: number) => boolean,
    thresholds: ClassifyThresholds,
    onPick: (latent: number) => void,
  ) {
    const ids: number[] = [];
    for (let j = 0; j < nuError.length; j++) if (Number.isFinite(nuError[j]) && Number.isFinite(nuReconstruction[j])) ids.push(j);
    this.points = Uint32Array.from(ids);
    this.px = Float32Array.from(ids, (j) => this.x(nuError[j]));
    this.py = Float32Array.from(ids, (j) => this.y(nuReconstruction[j]));
    this.chat = Uint8Array.from(ids, (j) => (isChatOnly(j) ? 1 : 0));
    this.canvas = el('canvas', { class: 'scatter-points' });
    this.canvas.width = W * 2;
    this.canvas.height = H * 2;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    const root = select(svg).attr('viewBox', `0 0 ${W} ${H}`).attr('class', 'scatter-axes');
    root.append('g').attr('class', 'axis').attr('transform', `translate(0,${H - M.bottom})`).call(axisBottom(this.x).ticks(5));
    root.append('g').attr('class', 'axis').attr('transform', `translate(${M.left},0)`).call(axisLeft(this.y).ticks(5));
    root.append('text').attr('class', 'axis-label').attr('x', W / 2).attr('y', H - 2).attr('text-anchor', 'middle').text(t('ν^ε (error ratio, base/chat)'));
    root.append('text').attr('class', 'axis-label').attr('transform', `translate(10,${H / 2}) rotate(-90)`).attr('text-anchor', 'middle').text(t('ν^r (reconstruction ratio)'));
    root.append('line').attr('class', 'threshold').attr('x1', this.x(thresholds.nuError)).attr('x2', this.x(thresholds.nuError)).attr('y1', M.top).attr('y2', H - M.bottom);
    root.append('line').attr('class', 'threshold').attr('y1', this.y(thresholds.nuReconstruction)).attr('y2', this.y(thresholds.nuReconstruction)).attr('x1', M.left).attr('x2', W - M.right);
    this.element = el('div', { class: 'scatter', attrs: { role: 'img', 'aria-label': t('ν^ε vs ν^r for {0} latents; click a point to open it', this.points.length) } }, this.canvas, svg);
    this.element.addEventListener('click', (e) => {
      const box = this.element.getBoundingClientRect();
      const px = ((e.clientX - box.left) / box.width) * W;
      const py = ((e.clientY - box.top) / box.height) * H;
      const hit = this.nearest(px, py);
      if (hit >= 0) onPick(hit);
    });
  }

  get pointCount(): number {
    return this.points.length;
  }

  /**
   * Redraws, emphasising the latents in `shown` (the current filter result), or all when null. One path
   * per colour: a fill call per group, not per point.
   */
  draw(shown: Uint8Array | null): void {
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(2, 0, 0, 2, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const groups: [string, (k: number, on: boolean) => boolean][] = [
      ['rgba(128,128,128,0.25)', (_, on) => !on],
      ['rgba(60,140,220,0.7)', (k, on) => on && this.chat[k] === 0],
      ['rgba(235,140,0,0.85)', (k, on) => on && this.chat[k] === 1],
    ];
    for (const [colour, member] of groups) {
      ctx.beginPath();
      for (let k = 0; k < this.points.length; k++) {
        if (member(k, !shown || shown[this.points[k]] === 1)) ctx.rect(this.px[k] - 1.5, this.py[k] - 1.5, 3, 3);
      }
      ctx.fillStyle = colour;
      ctx.fill();
    }
  }

  private nearest(px: number, py: number): number {
    let best = -1;
    let bestD = 36;
    for (let k = 0; k < this.points.length; k++) {
      const dx = this.px[k] - px;
      const dy = this.py[k] - py;
      const d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = this.points[k]; }
    }
    return best;
  }
}
