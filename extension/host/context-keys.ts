/**
 * Context keys for `when` clauses, so the palette, menus and keybindings only offer what can run:
 * latentDiff.bundleLoaded, latentDiff.analysed, latentDiff.activeEditorAnalysed (the active editor shows
 * the analysed document), latentDiff.highlighting (anything coloured), latentDiff.latentHighlighted (a
 * latent, not chat-specificity), latentDiff.hasStatistics.
 */
import * as vscode from 'vscode';
import type { Session } from './session';

export class ContextKeys implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[];
  private readonly values = new Map<string, boolean>();

  constructor(private readonly session: Session) {
    const update = () => this.update();
    this.subscriptions = [
      session.onDidChangeBundle(update),
      session.onDidChangeAnalysis(update),
      session.onDidChangeHighlight(update),
      session.onDidChangeStats(update),
      vscode.window.onDidChangeActiveTextEditor(update),
    ];
    this.update();
  }

  update(): void {
    const s = this.session;
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    this.set('bundleLoaded', s.bundle !== undefined);
    this.set('analysed', s.analysis !== undefined);
    this.set('activeEditorAnalysed', s.analysis !== undefined && s.analysis.uri.toString() === active);
    this.set('highlighting', s.highlight.mode !== 'none');
    this.set('latentHighlighted', s.highlight.mode === 'latents' && s.highlight.series.length > 0);
    this.set('hasStatistics', s.stats !== undefined);
  }

  /** The current values (for the test hook). */
  snapshot(): Record<string, boolean> {
    return Object.fromEntries(this.values);
  }

  private set(key: string, value: boolean): void {
    if (this.values.get(key) === value) return;
    this.values.set(key, value);
    void vscode.commands.executeCommand('setContext', `latentDiff.${key}`, value);
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}
