/** Small d3 charts shared by the webviews: a colour legend for one series and an activation sparkline. */
import { axisBottom } from 'd3-axis';
import { scaleLinear } from 'd3-scale';
import { select } from 'd3-selection';
import { area } from 'd3-shape';
import { hueRgb, type Hue } from './colors';

const SVG = 'http://www.w3.org/2000/svg';
let gradientCounter = 0;

/** A horizontal gradient bar 0..max in the series' hue, with a d3 axis. */
export function legend(hue: Hue, max: number, width = 220): SVGSVGElement {
  const height = 34;
  const svg = document.createElementNS(SVG, 'svg');
  const root = select(svg).attr('width', width).attr('height', height).attr('class', 'legend');
  const id = `legend-gradient-${++gradientCounter}`;
  const [r, g, b] = hueRgb(hue);
  const gradient = root.append('defs').append('linearGradient').attr('id', id);
  gradient.append('stop').attr('offset', '0%').attr('stop-color', `rgb(${r},${g},${b})`).attr('stop-opacity', 0);
  gradient.append('stop').attr('offset', '100%').attr('stop-color', `rgb(${r},${g},${b})`).attr('stop-opacity', 0.85);
  const x = scaleLinear().domain([0, max > 0 ? max : 1]).range([8, width - 12]);
  root.append('rect').attr('x', 8).attr('y', 2).attr('width', width - 20).attr('height', 12).attr('fill', `url(#${id})`);
  root.append('g').attr('class', 'axis').attr('transform', 'translate(0,14)').call(axisBottom(x).ticks(4).tickSizeOuter(0));
  return svg;
}

/** Activation across the text as a filled sparkline; `onPick` gets the token index clicked. */
export function sparkline(acts: Float32Array, max: number, hue: Hue, onPick?: (index: number) => void, width = 220, height = 28): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  const root = select(svg).attr('width', width).attr('height', height).attr('class', 'sparkline');
  const n = acts.length;
  const x = scaleLinear().domain([0, Math.max(1, n - 1)]).range([0, width]);
  const y = scaleLinear().domain([0, max > 0 ? max : 1]).range([height - 1, 1]).clamp(true);
  const points = Array.from(acts, (a, i) => [i, a > 0 ? a : 0] as [number, number]);
  const [r, g, b] = hueRgb(hue);
  root.append('path')
    .attr('d', area<[number, number]>().x((d) => x(d[0])).y0(height - 1).y1((d) => y(d[1]))(points) ?? '')
    .attr('fill', `rgba(${r},${g},${b},0.5)`).attr('stroke', `rgb(${r},${g},${b})`).attr('stroke-width', 1);
  if (onPick) {
    root.style('cursor', 'pointer').on('click', (event: MouseEvent) => {
      const box = svg.getBoundingClientRect();
      onPick(Math.max(0, Math.min(n - 1, Math.round(x.invert(event.clientX - box.left)))));
    });
  }
  return svg;
}
