/** Status bar item: bundle · provider · what is highlighted (and the worker's current stage while busy). */
import * as vscode from 'vscode';
import type { Session } from './session';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('latentDiff.status', vscode.StatusBarAlignment.Right, 100);
  private readonly subs: vscode.Disposable[];

  constructor(private readonly session: Session, private readonly isLive: () => boolean) {
    this.item.name = 'Latent Diff';
    this.item.command = 'latentDiff.showTokenPanel';
    this.subs = [
      session.onDidChangeBundle(() => this.update()),
      session.onDidChangeAnalysis(() => this.update()),
      session.onDidChangeHighlight(() => this.update()),
      session.onDidChangeBusy(() => this.update()),
    ];
    this.update();
    this.item.show();
  }

  update(): void {
    const s = this.session;
    const b = s.bundle;
    const bundle = b ? (b.isDemo ? vscode.l10n.t('demo') : b.info.name) : s.settings.bundlePath ? vscode.l10n.t('bundle not loaded') : vscode.l10n.t('demo (not loaded)');
    const parts = [bundle];
    if (b) parts.push(b.provider);
    const h = s.request;
    if (h.mode === 'latents') parts.push(h.latents.map((j) => `#${j}`).join(' + '));
    else if (h.mode === 'chat-specificity') parts.push(vscode.l10n.t('chat-specificity'));
    else if (h.mode === 'kl') parts.push(h.name);
    const icon = s.busy ? '$(sync~spin)' : '$(symbol-color)';
    this.item.text = `${icon} ${parts.join(' · ')}${this.isLive() ? ' $(eye)' : ''}`;
    const tip = new vscode.MarkdownString();
    tip.appendMarkdown('**Latent Diff**\n\n');
    tip.appendText(`${vscode.l10n.t('Bundle: {0}', b ? `${b.info.name} (${b.dir})` : vscode.l10n.t('opens on first analysis'))}\n`);
    if (b) tip.appendText(`\n${vscode.l10n.t('Provider: {0}', `${b.provider}${b.adapter ? ` on ${b.adapter}` : ''}`)}${b.providerNote ? ` (${b.providerNote})` : ''}\n`);
    tip.appendText(`\n${vscode.l10n.t('Highlight: {0}', parts.slice(b ? 2 : 1).join('') || vscode.l10n.t('none'))}\n`);
    if (s.busy) tip.appendText(`\n${s.busy}\n`);
    tip.appendText(`\n${this.isLive() ? vscode.l10n.t('Live analysis: on. Click to show the token panel.') : vscode.l10n.t('Live analysis: off. Click to show the token panel.')}`);
    this.item.tooltip = tip;
  }

  dispose(): void {
    this.item.dispose();
    for (const s of this.subs) s.dispose();
  }
}
