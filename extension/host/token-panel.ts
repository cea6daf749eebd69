/**
 * The token panel (one WebviewPanel): the latest analysis as coloured tokens. It mirrors the session's
 * highlight, so clicking a latent here or in the sidebar updates the panel and the editor together.
 * Restored after a window reload by its serializer.
 */
import * as vscode from 'vscode';
import type { Channel } from '../engine/channel/channel';
import type { HostToTokens, TokensToHost } from '../protocol/messages';
import { parseTokensMessage } from '../protocol/validate';
import type { Annotations } from './annotations';
import { revealToken } from './editor-actions';
import type { Session } from './session';
import { isLatentAction, runLatentAction } from './latent-actions';
import { connectWebview, setWebviewHtml, webviewOptions } from './webview-host';
import { highlightState, latentBrief, latentsInTop, tokenDocument, type LatentFacts } from '../presentation/webview-payloads';

export const TOKEN_PANEL_VIEW_TYPE = 'latentDiff.tokens';

export interface TokenPanelActions {
  openLatent(latent: number): void;
  exportHtml(): void;
}

export class TokenPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private channel: Channel<HostToTokens, TokensToHost> | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly annotations: Annotations,
    private readonly actions: TokenPanelActions,
  ) {
    this.subs.push(
      session.onDidChangeAnalysis(() => this.postDocument()),
      session.onDidChangeHighlight((h) => this.post({ type: 'highlight', highlight: highlightState(h) })),
      session.onDidChangeStats(() => this.postLabels()),
      annotations.onDidChange(() => this.postLabels()),
      vscode.window.registerWebviewPanelSerializer(TOKEN_PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel) => this.attach(panel),
      }),
    );
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  show(preserveFocus = false): void {
    if (this.panel) {
      this.panel.reveal(undefined, preserveFocus);
      return;
    }
    const panel = vscode.window.createWebviewPanel(TOKEN_PANEL_VIEW_TYPE, vscode.l10n.t('Latent Diff: Tokens'),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus }, { ...webviewOptions(this.extensionUri), retainContextWhenHidden: false });
    this.attach(panel);
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'latent-diff.svg');
    setWebviewHtml(panel.webview, this.extensionUri, 'tokens', vscode.l10n.t('Latent Diff: Tokens'));
    this.channel = connectWebview<HostToTokens, TokensToHost>(panel.webview, 'tokens', {
      parse: parseTokensMessage,
      limits: () => ({ dictSize: this.session.bundle?.info.dictSize ?? 0, tokens: this.session.analysis?.result.tokens.length ?? 0, evidence: 0 }),
    }, {
      event: (m) => this.handle(m),
      disposed: panel.onDidDispose,
      gone: () => {
        this.panel = undefined;
        this.channel = undefined;
      },
    }).channel;
  }

  private handle(m: TokensToHost): unknown {
    if (isLatentAction(m)) return runLatentAction(m, { highlightLatent: (l, slot) => this.session.highlightLatent(l, slot), openLatent: this.actions.openLatent });
    switch (m.type) {
      case 'ready':
        this.postDocument();
        return undefined;
      case 'clearHighlight':
        this.session.setHighlight({ mode: 'none' });
        return undefined;
      case 'revealToken':
        return revealToken(this.session.analysis, m.index);
      case 'exportHtml':
        this.actions.exportHtml();
        return undefined;
    }
  }

  private facts(): LatentFacts {
    return { metrics: this.session.metrics, stats: this.session.stats, label: (j) => this.annotations.label(j) };
  }

  private post(message: HostToTokens): void {
    this.channel?.post(message);
  }

  private postDocument(): void {
    if (!this.panel) return;
    const a = this.session.analysis;
    const doc = a ? tokenDocument(a.result, a.title, this.session.settings.topK, this.facts(), this.session.settings.thresholds) : null;
    this.post({ type: 'document', doc, highlight: highlightState(this.session.highlight) });
    if (a && (!this.session.metrics || !this.session.stats)) {
      Promise.all([this.session.ensureMetrics(), this.session.ensureStats()]).then(() => this.postLabels(), () => undefined);
    }
  }

  private postLabels(): void {
    const a = this.session.analysis;
    if (!this.panel || !a) return;
    const facts = this.facts();
    this.post({ type: 'labels', latents: latentsInTop(a.result).map((j) => latentBrief(j, facts)) });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const s of this.subs) s.dispose();
  }
}
