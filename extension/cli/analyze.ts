/** `latent-diff analyze FILE [--bundle DIR] [--latent N] [--top K] [--json | --html OUT] [--provider P] [--threads N]` */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { LatentDiffError } from '../engine/errors';
import { basename, join, resolve } from 'node:path';
import { Analyzer } from '../engine/analysis/analyzer';
import { rankedLatents } from '../engine/analysis/latent-ranking';
import { bundleStatsFile, loadLatentStats, type LatentStats } from '../engine/analysis/latent-stats';
import { latentVerdict } from '../engine/latents/verdict';
import { checkRegularFile } from '../engine/input-files';
import { checkOutputFile } from '../engine/output-paths';
import { defaultCacheDir, demoBundleDir } from '../engine/paths';
import { TAG_CODES, type AnalysisResult, type LatentMetrics } from '../engine/types';
import { standaloneTokenHtml } from '../presentation/export-html';
import { latentSeries } from '../presentation/highlight-series';
import { exportData } from '../presentation/webview-payloads';
import { intFlag, parseArgs, UsageError } from './args';
import { ENGINE_FLAGS, engineOptions, engineUsage } from './engine-flags';
import { reportProvider } from './provider-note';

export const ANALYZE_USAGE = `latent-diff analyze FILE [--bundle DIR] [--latent N] [--top K] [--json | --html OUT] [--provider P] [--threads N]
  Analyse FILE (plain text, a chat as JSON/JSONL with "messages", or <start_of_turn> turns).
  --bundle DIR      bundle folder (default: the embedded demo bundle)
  --latent N        latent to colour / report per token (repeat for two)
  --top K           top latents per token (default 10)
  --contributions   with --latent: each model's contribution norm f_j * ||d_j^m|| per token
  --json            print one JSON object
  --html OUT        write a standalone coloured-token page to OUT
${engineUsage(18)}
  --mode M          auto | plain | chat (default auto)
  --context N       context window in tokens (default: the bundle's)`;

export function readDocument(file: string): string {
  checkRegularFile(file);
  return readFileSync(file, 'utf8');
}

function jsonReport(r: AnalysisResult, m: LatentMetrics): unknown {
  return {
    bundle: r.bundle,
    provider: r.provider,
    providerNote: r.providerNote ?? null,
    ...(r.adapter ? { adapter: r.adapter } : {}),
    kind: r.kind,
    tokens: r.tokens.map((t, i) => ({ id: t.id, text: t.text, start: t.start, end: t.end, template: t.template, top: r.top[i] })),
    latents: rankedLatents(r.latents).map((l) => ({ ...l, deltaNorm: m.deltaNorm[l.latent], tag: TAG_CODES[m.tag[l.latent]] })),
    ...(r.selected.length ? { selected: r.selected } : {}),
  };
}

/** The latent an HTML page colours when none is named: the strongest chat-only one, else the strongest. */
function defaultLatent(r: AnalysisResult, m: LatentMetrics): number | undefined {
  const ids = r.latents.latent;
  return ids.find((j) => TAG_CODES[m.tag[j]] === 'chat-only') ?? ids[0];
}

export async function runAnalyze(argv: string[], root: string, out: (s: string) => void): Promise<void> {
  const args = parseArgs(argv, { bundle: 'string', latent: 'list', top: 'string', contributions: 'bool', json: 'bool', html: 'string', mode: 'string', context: 'string', ...ENGINE_FLAGS });
  if (args.positional.length !== 1) throw new UsageError('analyze needs exactly one FILE');
  if (args.flags.has('json') && args.flags.has('html')) throw new UsageError('--json and --html cannot be used together');
  const mode = (args.flags.get('mode')?.[0] ?? 'auto') as 'auto' | 'plain' | 'chat';
  if (!['auto', 'plain', 'chat'].includes(mode)) throw new UsageError(`--mode must be auto, plain or chat, got "${mode}"`);
  const latents = (args.flags.get('latent') ?? []).map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--latent must be a latent id (integer >= 0), got "${v}"`);
    return n;
  });
  const topK = intFlag(args, 'top', 1) ?? 10;
  const file = resolve(args.positional[0]);
  const text = readDocument(file);
  const htmlOut = args.flags.get('html')?.[0];
  if (htmlOut) checkOutputFile(resolve(htmlOut));
  const analyzer = Analyzer.open(args.flags.get('bundle')?.[0] ?? demoBundleDir(root), { ...engineOptions(args), cacheDir: defaultCacheDir(), contextWindow: intFlag(args, 'context', 2) });
  try {
    let result = await analyzer.analyze(text, { topK, latents, mode, docName: file, contributions: args.flags.has('contributions') });
    const metrics = await analyzer.metrics();
    if (htmlOut) {
      const chosen = latents.length ? latents : [defaultLatent(result, metrics)].filter((j): j is number => j !== undefined);
      if (!latents.length && chosen.length) result = await analyzer.analyze(text, { topK, latents: chosen, mode, docName: file });
      const tmp = `${htmlOut}.tmp-${process.pid}`;
      const page = tokenPage(result, chosen, metrics, `${basename(file)} — Latent Diff`, root);
      try {
        writeFileSync(tmp, page);
        renameSync(tmp, htmlOut);
      } catch (e) {
        rmSync(tmp, { force: true });
        throw new LatentDiffError(htmlOut, `cannot write the page (${(e as NodeJS.ErrnoException).code ?? e})`, 'write-failed');
      }
      out(`wrote ${htmlOut} (${result.tokens.length} tokens, latent${chosen.length === 1 ? '' : 's'} ${chosen.join(', ') || 'none active'})\n`);
    } else if (args.flags.has('json')) {
      out(JSON.stringify(jsonReport(result, metrics)) + '\n');
    } else {
      const statsFile = bundleStatsFile(analyzer.bundle.dir, analyzer.bundle.stats);
      out(textReport(result, metrics, statsFile ? loadLatentStats(statsFile, analyzer.info.dictSize) : undefined));
    }
    // With --json the note is in the object; otherwise it goes to stderr, out of the report's way.
    if (!args.flags.has('json')) reportProvider(result);
  } finally {
    await analyzer.dispose();
  }
}

/** The same standalone page as the extension's "Export Token View as HTML" (the token panel's renderer). */
function tokenPage(result: AnalysisResult, latents: number[], metrics: LatentMetrics, title: string, root: string): string {
  const series = latents.slice(0, 2).map((j) => {
    const s = latentSeries(result, j, { mode: 'text-max', value: 0 }, undefined);
    return { ...s, name: `latent ${j} (${TAG_CODES[metrics.tag[j]]}, Δnorm ${metrics.deltaNorm[j].toFixed(3)}, paper convention)` };
  });
  const script = readFileSync(join(root, 'dist', 'webview', 'token-export.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
  const css = readFileSync(join(root, 'media', 'webview.css'), 'utf8');
  return standaloneTokenHtml(exportData(result, title, { mode: series.length ? 'latents' : 'none', series, note: '' }), script, css);
}

/** The human-readable report; with statistics, each latent's nu_eps, nu_r and Latent Scaling verdict too. */
function textReport(r: AnalysisResult, m: LatentMetrics, stats: LatentStats | undefined): string {
  const scaled = stats?.nuError !== undefined && stats.nuReconstruction !== undefined;
  const header = `latent    max     count  Δnorm  ${scaled ? 'nu_eps  nu_r    tag         verdict' : 'tag'}`;
  const lines = [`${r.bundle.name}: ${r.tokens.length} tokens (${r.kind}), provider ${r.provider}`, '', header];
  const ratio = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(3)).padEnd(7);
  for (const l of rankedLatents(r.latents, 20)) {
    const j = l.latent;
    const tag = TAG_CODES[m.tag[j]];
    const head = `${String(j).padEnd(9)} ${l.max.toFixed(3).padStart(7)} ${String(l.count).padStart(6)}  ${m.deltaNorm[j].toFixed(3)}  `;
    if (!scaled) {
      lines.push(`${head}${tag}`);
      continue;
    }
    const nuE = stats.nuError![j];
    const nuR = stats.nuReconstruction![j];
    lines.push(`${head}${ratio(nuE)} ${ratio(nuR)} ${tag.padEnd(11)} ${latentVerdict(tag, nuE, nuR).verdict}`);
  }
  const active = r.latents.latent.length;
  if (active > 20) lines.push(`... ${active - 20} more (use --json for all)`);
  lines.push('', 'Δnorm in the paper convention: 1 = chat-only, 0 = base-only.');
  if (scaled) lines.push('nu_eps, nu_r: Latent Scaling ratios from the bundle\'s statistics; "-": the latent never fired there.');
  return lines.join('\n') + '\n';
}
