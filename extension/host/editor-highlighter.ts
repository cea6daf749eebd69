/** Keeps every visible editor of the analysed document coloured for the session's highlight. */
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { EditorDecorations } from './decorations';
import { analysedEditors } from './editor-actions';
import type { Session } from './session';

export class EditorHighlighter implements vscode.Disposable {
  private decorated = new Set<vscode.TextEditor>();
  private readonly subs: vscode.Disposable[];
  /** Milliseconds the last decoration update took (all editors), for the test hook and the log. */
  lastUpdateMs = 0;

  constructor(private readonly session: Session, private readonly decorations: EditorDecorations) {
    this.subs = [
      session.onDidChangeHighlight(() => this.update()),
      session.onDidChangeAnalysis(() => this.update()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.update()),
    ];
  }

  update(): void {
    const t0 = performance.now();
    const a = this.session.analysis;
    const targets = new Set(analysedEditors(a));
    for (const e of this.decorated) if (!targets.has(e)) this.decorations.clear(e);
    for (const e of targets) {
      if (a && e.document.version === a.version) this.decorations.apply(e, a.result.tokens, this.session.highlight, a.base);
    }
    this.decorated = targets;
    this.lastUpdateMs = performance.now() - t0;
  }

  dispose(): void {
    for (const s of this.subs) s.dispose();
  }
}
