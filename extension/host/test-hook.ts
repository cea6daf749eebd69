/**
 * For end-to-end tests only (registered when LATENT_DIFF_TEST_HOOK=1): `latentDiff._test.state` returns the
 * extension's internal state as JSON, so a test driving the real UI can assert on what the editor shows.
 */
import * as vscode from 'vscode';
import type { Annotations } from './annotations';
import type { ContextKeys } from './context-keys';
import type { EditorDecorations } from './decorations';
import type { EditorHighlighter } from './editor-highlighter';
import type { GenerationPanel } from './generation-panel';
import type { LatentPages } from './latent-pages';
import type { LatentsView } from './latents-view';
import type { LiveAnalysis } from './live-analysis';
import type { Session } from './session';
import type { TokenPanel } from './token-panel';

export const TEST_HOOK_COMMAND = 'latentDiff._test.state';

export interface TestHookDeps {
  session: Session;
  decorations: EditorDecorations;
  highlighter: EditorHighlighter;
  annotations: Annotations;
  latentsView: LatentsView;
  tokenPanel: TokenPanel;
  latentPages: LatentPages;
  live: LiveAnalysis;
  generationPanel: GenerationPanel;
  contextKeys: ContextKeys;
}

export function registerTestHook(d: TestHookDeps): vscode.Disposable {
  return vscode.commands.registerCommand(TEST_HOOK_COMMAND, () => {
    const a = d.session.analysis;
    const h = d.session.highlight;
    return JSON.stringify({
      bundle: d.session.bundle ? { name: d.session.bundle.info.name, dir: d.session.bundle.dir, provider: d.session.bundle.provider, dictSize: d.session.bundle.info.dictSize, isDemo: d.session.bundle.isDemo } : null,
      analysis: a ? { uri: a.uri.toString(), version: a.version, base: a.base, kind: a.result.kind, tokenCount: a.result.tokens.length } : null,
      highlight: {
        mode: h.mode,
        latents: d.session.highlightedLatents(),
        series: h.series.map((s) => ({ latent: s.latent, max: s.max, approximate: s.approximate })),
        note: h.note,
      },
      decorations: d.decorations.appliedRanges(),
      lastDecorationMs: d.highlighter.lastUpdateMs,
      sidebarRows: d.latentsView.rowCount ?? null,
      tokenPanelOpen: d.tokenPanel.isOpen,
      latentPages: d.latentPages.openLatents(),
      liveAnalysis: d.live.isEnabled,
      annotationsFile: d.annotations.filePath ?? null,
      annotationsProblem: d.annotations.problem,
      stats: { source: d.session.stats?.source ?? null, problem: d.session.statsProblem },
      generation: d.generationPanel.snapshot(),
      contextKeys: d.contextKeys.snapshot(),
    });
  });
}
