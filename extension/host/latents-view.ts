/**
 * The latents sidebar (a WebviewView in the Latent Diff activity-bar container): the whole latent table,
 * the current document's activity, labels and the highlighted latents. The view's description shows the
 * number of rows the filter leaves.
 */
import * as vscode from 'vscode';
import type { HostToLatents, LatentsToHost, SteerEntry } from '../protocol/messages';
import { parseLatentsMessage } from '../protocol/validate';
import type { Annotations } from './annotations';
import type { Session } from './session';
import { isLatentAction, runLatentAction } from './latent-actions';
import { connectWebview, setWebviewHtml, type WebviewConnection } from './webview-host';
import { documentActivity, latentTable } from '../presentation/webview-payloads';

export const LATENTS_VIEW_ID = 'latentDiff.latents';

export interface LatentsViewActions {
  openLatent(latent: number): void;
  steerLatents(steer: SteerEntry[]): void;
}

export class LatentsView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private connection: WebviewConnection<HostToLatents, LatentsToHost> | undefined;
  private readonly subs: vscode.Disposable[] = [];
  /** The last row count the view reported (shown, total). */
  rowCount: { shown: number; total: number } | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly annotations: Annotations,
    private readonly actions: LatentsViewActions,
  ) {
    this.subs.push(
      vscode.window.registerWebviewViewProvider(LATENTS_VIEW_ID, this),
      session.onDidChangeBundle((b) => { if (!b) void this.postTable(); }),
      session.onDidChangeStats(() => void this.postTable()),
      session.onDidChangeAnalysis(() => this.postActivity()),
      session.onDidChangeHighlight(() => this.post({ type: 'highlighted', latents: session.highlightedLatents() })),
      annotations.onDidChange(() => this.postLabels()),
    );
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    setWebviewHtml(view.webview, this.extensionUri, 'latents', vscode.l10n.t('Latents'), 'sidebar');
    this.connection = connectWebview<HostToLatents, LatentsToHost>(view.webview, 'latents', {
      parse: parseLatentsMessage,
      limits: () => ({ dictSize: this.session.bundle?.info.dictSize ?? 0, tokens: 0, evidence: 0 }),
    }, {
      event: (m) => this.handle(m),
      disposed: view.onDidDispose,
      gone: () => {
        this.view = undefined;
        this.connection = undefined;
      },
    });
  }

  private handle(m: LatentsToHost): unknown {
    if (isLatentAction(m)) return runLatentAction(m, { highlightLatent: (l, slot) => this.session.highlightLatent(l, slot), openLatent: this.actions.openLatent });
    switch (m.type) {
      case 'ready':
        void this.postTable();
        return undefined;
      case 'steerLatents':
        this.actions.steerLatents(m.steer);
        return undefined;
      case 'rowCount':
        this.rowCount = { shown: m.shown, total: m.total };
        if (this.view) this.view.description = vscode.l10n.t('{0} of {1}', m.shown.toLocaleString('en-US'), m.total.toLocaleString('en-US'));
        return undefined;
    }
  }

  private post(message: HostToLatents): void {
    this.connection?.channel.post(message);
  }

  private async postTable(): Promise<void> {
    if (!this.view) return;
    this.post({ type: 'table', table: null, message: vscode.l10n.t('Loading the crosscoder\'s latents…') });
    try {
      const bundle = await this.session.ensureBundle();
      const [metrics, stats] = await Promise.all([this.session.ensureMetrics(), this.session.ensureStats()]);
      const note = this.session.statsProblem ? vscode.l10n.t('Statistics not loaded: {0}', this.session.statsProblem) : '';
      if (note) void vscode.window.showWarningMessage(vscode.l10n.t('Latent Diff: {0}', note));
      this.post({ type: 'table', table: latentTable(bundle.info.name, metrics, stats, this.session.settings.thresholds), message: note });
      this.postLabels();
      this.postActivity();
      this.post({ type: 'highlighted', latents: this.session.highlightedLatents() });
    } catch (e) {
      this.post({ type: 'table', table: null, message: vscode.l10n.t('Cannot list latents: {0}', (e as Error).message) });
    }
  }

  private postActivity(): void {
    const a = this.session.analysis;
    this.post({ type: 'activity', activity: a ? documentActivity(a.result, a.title) : null });
  }

  private postLabels(): void {
    this.post({ type: 'labels', labels: this.annotations.all().filter((a) => a.label).map((a) => [a.latent, a.label]) });
  }

  dispose(): void {
    this.connection?.dispose();
    for (const s of this.subs) s.dispose();
  }
}
