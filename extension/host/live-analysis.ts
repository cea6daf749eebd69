/**
 * Live mode: re-analyses the active editor's document after edits, debounced. A new edit aborts the
 * analysis in flight (AbortSignal to the worker) and a result for an older document version is dropped by
 * the session, so typing never waits for the model.
 */
import * as vscode from 'vscode';
import { log } from './log';
import type { Session } from './session';

/** Live mode skips documents larger than this (characters); Analyze Document still works on them. */
export const LIVE_MAX_CHARS = 200_000;

export class LiveAnalysis implements vscode.Disposable {
  private enabled = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  private readonly subs: vscode.Disposable[];
  private readonly emitter = new vscode.EventEmitter<boolean>();
  readonly onDidToggle = this.emitter.event;

  constructor(private readonly session: Session) {
    this.subs = [
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.enabled && e.contentChanges.length && e.document === vscode.window.activeTextEditor?.document) this.schedule(e.document);
      }),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.enabled && editor && editor.document.uri.toString() !== session.analysis?.uri.toString()) this.schedule(editor.document);
      }),
    ];
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  setEnabled(on: boolean): void {
    if (on === this.enabled) return;
    this.enabled = on;
    if (!on) this.cancel();
    else if (vscode.window.activeTextEditor) this.schedule(vscode.window.activeTextEditor.document);
    this.emitter.fire(on);
  }

  private cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight?.abort();
    this.inFlight = undefined;
  }

  private schedule(document: vscode.TextDocument): void {
    // The length without copying the text (this runs on every keystroke).
    const length = document.offsetAt(new vscode.Position(document.lineCount, 0));
    if (document.uri.scheme === 'output' || length === 0 || length > LIVE_MAX_CHARS) return;
    this.cancel();
    this.timer = setTimeout(() => void this.run(document), this.session.settings.liveDebounceMs);
  }

  private async run(document: vscode.TextDocument): Promise<void> {
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      await this.session.analyze(document, undefined, { silent: true, signal: controller.signal });
    } catch (e) {
      log().warn(`live analysis of ${document.uri.toString()}: ${(e as Error).message}`);
    } finally {
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }

  dispose(): void {
    this.cancel();
    this.emitter.dispose();
    for (const s of this.subs) s.dispose();
  }
}
