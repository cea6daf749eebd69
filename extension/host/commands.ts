/**
 * The "Latent Diff" commands. Each one works from the command palette with no argument (asking with
 * quick picks / input boxes when it needs something) and also accepts its inputs as arguments, so other
 * commands, keybindings and tests can drive it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as vscode from 'vscode';
import type { AnnotationPatch } from '../engine/annotations/types';
import { rankedLatents } from '../engine/analysis/latent-ranking';
import { checkRegularFile } from '../engine/input-files';
import { CancelledError } from '../engine/worker/client';
import { ANNOTATION_STATUSES, type AnnotationStatus } from '../protocol/messages';
import { verdictOf } from '../protocol/latent-verdict';
import type { Annotations } from './annotations';
import { pickBundle, rememberBundle } from './bundle-picker';
import { evidencePath, revealToken } from './editor-actions';
import { standaloneTokenHtml } from '../presentation/export-html';
import { exactVector, topKVector } from '../presentation/highlight-series';
import type { CausalCommands } from './causal-commands';
import { GENERATE_STEERED_COMMAND, type GenerateCommands } from './generate-command';
import type { LatentPages } from './latent-pages';
import type { LiveAnalysis } from './live-analysis';
import type { Session } from './session';
import { computeStatistics } from './statistics-command';
import { SECTION } from './settings';
import { stepStrongest, strongestOrder, topLatentOf } from './strongest-tokens';
import { spanIndex, tokenAt } from './token-lookup';
import type { TokenPanel } from './token-panel';
import { exportData } from '../presentation/webview-payloads';

export interface CommandDeps {
  context: vscode.ExtensionContext;
  session: Session;
  annotations: Annotations;
  tokenPanel: TokenPanel;
  latentPages: LatentPages;
  live: LiveAnalysis;
  generation: GenerateCommands;
  causal: CausalCommands;
}

type Handler = (...args: unknown[]) => unknown;

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const { session, annotations } = d;

  const wrap = (id: string, handler: Handler) => vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await handler(...args);
    } catch (e) {
      if (e instanceof CancelledError) return undefined;
      void vscode.window.showErrorMessage(vscode.l10n.t('Latent Diff: {0}', (e as Error).message));
      return undefined;
    }
  });

  const openWithProgress = () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Latent Diff: opening bundle…') },
    () => session.ensureBundle());

  const setBundlePath = async (value: string) => {
    const c = vscode.workspace.getConfiguration(SECTION);
    const i = c.inspect<string>('bundlePath');
    const targets: vscode.ConfigurationTarget[] = [];
    if (i?.workspaceFolderValue !== undefined) targets.push(vscode.ConfigurationTarget.WorkspaceFolder);
    if (i?.workspaceValue !== undefined && vscode.workspace.isTrusted) targets.push(vscode.ConfigurationTarget.Workspace);
    if (targets.length === 0 || value !== '') targets.push(vscode.ConfigurationTarget.Global);
    for (const t of targets) await c.update('bundlePath', value || undefined, t);
    session.reloadSettings();
  };

  const editorOrFail = () => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new Error(vscode.l10n.t('open a text editor first: the command analyses the active editor'));
    return editor;
  };

  /** After the first analysis with nothing highlighted, highlight its strongest chat-only latent (else its strongest). */
  const defaultHighlight = async () => {
    const a = session.analysis;
    const ids = a?.result.latents.latent;
    if (!ids?.length || session.request.mode !== 'none') return;
    const m = await session.ensureMetrics().catch(() => undefined);
    const t = session.settings.thresholds;
    const pick = (m && ids.find((j) => m.deltaNorm[j] > t.chatOnlyAbove)) ?? ids[0];
    if (session.request.mode === 'none') session.highlightLatent(pick, 0);
  };

  const analyze = async (range: vscode.Range | undefined, editor: vscode.TextEditor) => {
    const a = await session.analyze(editor.document, range);
    if (!a) return undefined;
    await defaultHighlight();
    return { tokens: a.result.tokens.length, latents: a.result.latents.latent.length };
  };

  const parseLatents = (text: string): number[] | undefined => {
    const parts = text.split(/[\s,+]+/).filter(Boolean).map((p) => Number(p.replace(/^#/, '')));
    const D = session.bundle?.info.dictSize ?? Infinity;
    if (parts.length < 1 || parts.length > 2 || !parts.every((j) => Number.isInteger(j) && j >= 0 && j < D)) return undefined;
    return parts;
  };

  const latentArgument = (arg: unknown): number[] | undefined => {
    if (typeof arg === 'number') return parseLatents(String(arg));
    if (typeof arg === 'string') return parseLatents(arg);
    if (Array.isArray(arg)) return parseLatents(arg.join(','));
    return undefined;
  };

  /** Asks for a latent: the analysed document's active latents first, any id can be typed. */
  const askLatents = async (title: string, allowTwo: boolean): Promise<number[] | undefined> => {
    await session.ensureBundle();
    const m = session.metrics;
    const t = session.settings.thresholds;
    const items: (vscode.QuickPickItem & { latent?: number })[] = (session.analysis ? rankedLatents(session.analysis.result.latents, 200) : []).map((l) => ({
      label: `#${l.latent}`,
      description: `max ${l.max.toFixed(2)} · ${l.count} tokens${m ? ` · ${verdictOf(m.deltaNorm[l.latent], session.stats?.nuError?.[l.latent] ?? NaN, session.stats?.nuReconstruction?.[l.latent] ?? NaN, t).badge} · Δnorm ${m.deltaNorm[l.latent].toFixed(2)}` : ''}`,
      detail: annotations.label(l.latent) || undefined,
      latent: l.latent,
    }));
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { latent?: number }>();
    qp.ignoreFocusOut = true;
    qp.title = title;
    qp.placeholder = allowTwo ? vscode.l10n.t('Pick a latent active in the analysed text, or type an id (two ids for two colours: "12, 345")') : vscode.l10n.t('Pick a latent active in the analysed text, or type its id');
    qp.items = items;
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    return new Promise((resolve) => {
      qp.onDidAccept(() => {
        const typed = parseLatents(qp.value);
        const picked = qp.selectedItems[0]?.latent;
        const result = typed && (allowTwo || typed.length === 1) ? typed : picked !== undefined ? [picked] : undefined;
        if (result) { resolve(result); qp.hide(); }
      });
      qp.onDidHide(() => { resolve(undefined); qp.dispose(); });
      qp.show();
    });
  };

  const oneLatent = async (arg: unknown, title: string): Promise<number | undefined> => {
    await session.ensureBundle();
    const given = latentArgument(typeof arg === 'object' && arg !== null && !Array.isArray(arg) ? (arg as { latent?: unknown }).latent : arg);
    if (given) return given[0];
    const highlighted = session.highlightedLatents()[0];
    const picked = await askLatents(highlighted !== undefined ? vscode.l10n.t('{0} (Enter on an empty box keeps #{1})', title, highlighted) : title, false);
    return picked?.[0] ?? highlighted;
  };

  /** The analysed token under the active editor's cursor (-1: none), with the analysis; fails off the analysed document. */
  const tokenAtCursor = () => {
    const editor = editorOrFail();
    const a = session.analysis;
    if (!a || a.uri.toString() !== editor.document.uri.toString()) throw new Error(vscode.l10n.t('analyse this document first ("Latent Diff: Analyze Document")'));
    const offset = editor.document.offsetAt(editor.selection.active) - a.base;
    return { a, index: tokenAt(a.result.tokens, spanIndex(a.result.tokens), offset) };
  };

  /** Moves the cursor to the next/previous strongest token of the first highlighted latent. */
  const stepToken = async (step: 1 | -1) => {
    const { a, index } = tokenAtCursor();
    const series = session.highlight.mode === 'latents' ? session.highlight.series[0] : undefined;
    if (!series) throw new Error(vscode.l10n.t('highlight a latent first ("Latent Diff: Highlight Latent...")'));
    const next = stepStrongest(strongestOrder(a.result.tokens, series.acts), index, step);
    if (next === undefined) throw new Error(vscode.l10n.t('the highlighted latent does not fire in {0}', a.title));
    await revealToken(a, next);
    return next;
  };

  const exportHtml = async (arg?: unknown) => {
    const a = session.analysis;
    if (!a) throw new Error(vscode.l10n.t('nothing to export yet: run "Latent Diff: Analyze Document" first'));
    let target = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(arg) : undefined;
    if (!target) {
      const base = a.uri.scheme === 'file' ? vscode.Uri.file(`${a.uri.fsPath}.latent-diff.html`) : undefined;
      target = await vscode.window.showSaveDialog({ defaultUri: base, filters: { HTML: ['html'] }, title: vscode.l10n.t('Export Token View as HTML') });
      if (!target) return undefined;
    }
    const script = readFileSync(d.context.asAbsolutePath('dist/webview/token-export.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    const css = readFileSync(d.context.asAbsolutePath('media/webview.css'), 'utf8');
    const html = standaloneTokenHtml(exportData(a.result, `${a.title} — Latent Diff`, session.highlight), script, css, vscode.l10n.bundle);
    await vscode.workspace.fs.writeFile(target, Buffer.from(html, 'utf8'));
    const saved = target;
    void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: exported {0} tokens to {1}', a.result.tokens.length, saved.fsPath), vscode.l10n.t('Open')).then((pick) => {
      if (pick) void vscode.env.openExternal(saved);
    });
    return saved.fsPath;
  };

  return [
    wrap('latentDiff.openBundle', async (arg?: unknown) => {
      const dir = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : await pickBundle(d.context);
      if (!dir) return undefined;
      await setBundlePath(dir);
      const b = await openWithProgress();
      await rememberBundle(d.context, b.dir);
      void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: opened {0} ({1} latents, {2} vs {3}).', b.info.name, b.info.dictSize.toLocaleString('en-US'), b.info.baseModel, b.info.chatModel));
      return b.info;
    }),
    wrap('latentDiff.useDemoBundle', async () => {
      await setBundlePath('');
      const b = await openWithProgress();
      return b.info;
    }),
    wrap('latentDiff.analyzeDocument', async () => analyze(undefined, editorOrFail())),
    wrap('latentDiff.openSampleChat', async () => {
      const editor = await vscode.window.showTextDocument(vscode.Uri.file(d.context.asAbsolutePath('models/samples/hello-chat.txt')));
      return analyze(undefined, editor);
    }),
    wrap('latentDiff.analyzeSelection', async () => {
      const editor = editorOrFail();
      if (editor.selection.isEmpty) throw new Error(vscode.l10n.t('select some text first (or use "Analyze Document")'));
      return analyze(new vscode.Range(editor.selection.start, editor.selection.end), editor);
    }),
    wrap('latentDiff.highlightLatent', async (arg?: unknown) => {
      const latents = latentArgument(arg) ?? await askLatents(vscode.l10n.t('Highlight Latent'), true);
      if (!latents) return undefined;
      session.setHighlight({ mode: 'latents', latents });
      return latents;
    }),
    wrap('latentDiff.highlightChatSpecificity', async () => {
      await session.ensureMetrics();
      await session.ensureStats();
      session.setHighlight({ mode: 'chat-specificity' });
      if (!session.stats?.nuError) void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: {0}', session.highlight.note));
    }),
    wrap('latentDiff.clearHighlights', () => session.setHighlight({ mode: 'none' })),
    wrap('latentDiff.toggleLiveAnalysis', () => {
      d.live.setEnabled(!d.live.isEnabled);
      void vscode.window.setStatusBarMessage(d.live.isEnabled ? vscode.l10n.t('Latent Diff: live analysis on') : vscode.l10n.t('Latent Diff: live analysis off'), 3000);
      return d.live.isEnabled;
    }),
    wrap('latentDiff.showTokenPanel', () => d.tokenPanel.show()),
    wrap('latentDiff.showLatent', async (arg?: unknown) => {
      const latent = await oneLatent(arg, vscode.l10n.t('Show Latent'));
      if (latent !== undefined) d.latentPages.show(latent);
      return latent;
    }),
    wrap('latentDiff.annotateLatent', async (arg?: unknown) => {
      const latent = await oneLatent(arg, vscode.l10n.t('Annotate Latent'));
      if (latent === undefined) return undefined;
      const given = (typeof arg === 'object' && arg !== null ? arg : {}) as { label?: unknown; notes?: unknown; status?: unknown };
      const current = annotations.get(latent);
      const label = typeof given.label === 'string' ? given.label
        : await vscode.window.showInputBox({ title: vscode.l10n.t('Annotate latent #{0}', latent), prompt: vscode.l10n.t('Label (what the latent stands for)'), value: current?.label ?? '', ignoreFocusOut: true });
      if (label === undefined) return undefined;
      const statusArg = ANNOTATION_STATUSES.find((s) => s === given.status);
      const status = statusArg ?? (await vscode.window.showQuickPick(ANNOTATION_STATUSES.map((s) => ({ label: s, picked: s === (current?.status ?? 'hypothesis') })), { title: vscode.l10n.t('Status of latent #{0}', latent), ignoreFocusOut: true }))?.label as AnnotationStatus | undefined;
      if (status === undefined) return undefined;
      // Only what was given or changed, so another window's edit of the other fields is kept.
      const patch: AnnotationPatch = {};
      if (typeof given.label === 'string' || label !== (current?.label ?? '')) patch.label = label;
      if (statusArg || status !== (current?.status ?? 'hypothesis')) patch.status = status;
      if (typeof given.notes === 'string') patch.notes = given.notes;
      if (current && Object.keys(patch).length === 0) return current;
      const a = await annotations.upsert(latent, patch);
      void vscode.window.setStatusBarMessage(vscode.l10n.t('Latent Diff: annotated #{0} in {1}', latent, annotations.filePath ?? ''), 4000);
      return a;
    }),
    wrap('latentDiff.addEvidence', async (arg?: unknown) => {
      const editor = editorOrFail();
      if (editor.selection.isEmpty) throw new Error(vscode.l10n.t('select the text where the latent fires first'));
      const latent = await oneLatent(arg, vscode.l10n.t('Add Evidence for Latent'));
      if (latent === undefined) return undefined;
      const sel = editor.selection;
      const a = session.analysis;
      let activation = NaN;
      if (a && a.uri.toString() === editor.document.uri.toString() && a.version === editor.document.version) {
        const acts = exactVector(a.result, latent) ?? topKVector(a.result, latent);
        const from = editor.document.offsetAt(sel.start) - a.base;
        const to = editor.document.offsetAt(sel.end) - a.base;
        activation = 0;
        a.result.tokens.forEach((t, i) => {
          if (t.start !== null && t.end !== null && t.end > from && t.start < to) activation = Math.max(activation, acts[i]);
        });
      }
      if (Number.isNaN(activation)) throw new Error(vscode.l10n.t('analyse this document first (the evidence records the latent\'s activation on the selection)'));
      const text = editor.document.getText(sel);
      const ann = await annotations.addEvidence(latent, {
        file: evidencePath(editor.document.uri),
        range: { start: { line: sel.start.line, character: sel.start.character }, end: { line: sel.end.line, character: sel.end.character } },
        activation,
        text: text.length > 200 ? `${text.slice(0, 199)}…` : text,
      });
      void vscode.window.setStatusBarMessage(vscode.l10n.t('Latent Diff: evidence added to #{0} (activation {1})', latent, activation.toFixed(3)), 4000);
      return ann;
    }),
    wrap('latentDiff.exportTokenHtml', exportHtml),
    wrap('latentDiff.nextStrongestToken', () => stepToken(1)),
    wrap('latentDiff.previousStrongestToken', () => stepToken(-1)),
    wrap('latentDiff.highlightTopLatentAtCursor', () => {
      const { a, index } = tokenAtCursor();
      const latent = index >= 0 ? topLatentOf(a.result.top[index]) : undefined;
      if (latent === undefined) throw new Error(vscode.l10n.t('no latent is active on the token under the cursor'));
      session.highlightLatent(latent, 0);
      return latent;
    }),
    wrap('latentDiff.computeStatistics', (arg?: unknown) => computeStatistics(d.context, session, Array.isArray(arg) && arg.every((f) => typeof f === 'string') ? arg : undefined)),
    wrap('latentDiff.exportAnnotations', async (arg?: unknown) => {
      let target = typeof arg === 'string' ? vscode.Uri.file(arg) : arg instanceof vscode.Uri ? arg : undefined;
      target ??= await vscode.window.showSaveDialog({ filters: { JSON: ['json'], CSV: ['csv'] }, title: vscode.l10n.t('Export Annotations') });
      if (!target) return undefined;
      await session.ensureBundle();
      const text = target.path.endsWith('.csv') ? annotations.exportCsv() : annotations.exportJson();
      writeFileSync(target.fsPath, text);
      return target.fsPath;
    }),
    wrap('latentDiff.importAnnotations', async (arg?: unknown) => {
      let source = typeof arg === 'string' ? vscode.Uri.file(arg) : arg instanceof vscode.Uri ? arg : undefined;
      source ??= (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { [vscode.l10n.t('JSON or CSV')]: ['json', 'csv'] }, title: vscode.l10n.t('Import Annotations (ours, or the paper\'s hand labels)') }))?.[0];
      if (!source) return undefined;
      await session.ensureBundle();
      checkRegularFile(source.fsPath, 'annotation file');
      const n = await annotations.importText(readFileSync(source.fsPath, 'utf8'), source.path.endsWith('.csv'), source.fsPath);
      void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: imported {0} annotations from {1}', n, source.fsPath));
      return n;
    }),
    wrap('latentDiff.generateResponse', (arg?: unknown) => d.generation.generate(arg)),
    wrap(GENERATE_STEERED_COMMAND, (arg?: unknown) => d.generation.generateSteered(arg)),
    wrap('latentDiff.runPatchingExperiment', (arg?: unknown) => d.causal.patchingExperiment(arg)),
    wrap('latentDiff.highlightDivergence', () => d.causal.divergence()),
  ];
}
