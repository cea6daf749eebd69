/**
 * The script inlined into an exported token view (a standalone HTML file): the same renderer, legend and
 * tooltip as the token panel, fed from the JSON embedded in the file instead of the host.
 */
import type { TokenExportData } from '../../extension/protocol/messages';
import { legend, sparkline } from '../common/charts';
import { el, formatNumber } from '../common/dom';
import { t } from '../common/l10n';
import { attachTooltip, colourTokens, renderTokens, tooltipLines, type SeriesModel } from '../common/token-render';

const data = JSON.parse(document.getElementById('latent-diff-data')!.textContent!) as TokenExportData;
const model = { texts: data.texts, ids: Int32Array.from(data.ids), flags: Uint8Array.from(data.flags) };
const series: SeriesModel[] = data.series.map((s) => ({ name: s.name, acts: Float32Array.from(s.acts), max: s.max, hue: s.hue }));
const tokens = el('div', { class: 'tokens' });
const app = document.getElementById('app')!;
app.append(
  el('h2', { class: 'title', text: data.title }),
  el('p', { class: 'note', text: data.note }),
  el('div', { class: 'legends' }, ...data.series.map((s, i) => el('div', { class: 'series' },
    el('span', { class: 'series-name', text: s.name }),
    legend(series[i].hue, s.max),
    sparkline(series[i].acts, s.max, series[i].hue),
    el('span', { class: 'muted', text: t('max {0} ({1})', formatNumber(s.max), s.maxSource) })))),
  tokens);
const spans = renderTokens(tokens, model);
colourTokens(spans, series);
attachTooltip(tokens, (i) => tooltipLines(model, series, i));
