/**
 * Latent pages: one WebviewPanel per latent, with its numbers, verdict, document activations, examples
 * and annotation editor. Restored after a reload from the latent id the page keeps in its state.
 */
import * as vscode from 'vscode';
import type { Channel } from '../engine/channel/channel';
import { SaveAnnotation, type HostToLatent, type LatentPageState, type LatentToHost, type LogitEffectsView } from '../protocol/messages';
import { parseLatentMessage } from '../protocol/validate';
import type { Annotations } from './annotations';
import { openEvidence, revealToken } from './editor-actions';
import { ExamplesSource } from './examples';
import { latentDetail } from './latent-detail';
import type { Session } from './session';
import { isLatentAction, runLatentAction } from './latent-actions';
import { connectWebview, setWebviewHtml } from './webview-host';

export const LATENT_PAGE_VIEW_TYPE = 'latentDiff.latent';

export class LatentPages implements vscode.Disposable {
  private readonly panels = new Map<number, vscode.WebviewPanel>();
  private readonly channels = new Map<number, Channel<HostToLatent, LatentToHost>>();
  private readonly subs: vscode.Disposable[] = [];
  private examples: ExamplesSource | undefined;
  /** Logit effects per latent of the open bundle (they depend on the weights only). */
  private readonly logitEffects = new Map<number, Promise<LogitEffectsView>>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly annotations: Annotations,
  ) {
    this.subs.push(
      vscode.window.registerWebviewPanelSerializer(LATENT_PAGE_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: unknown) => {
          const latent = (state as Partial<LatentPageState> | undefined)?.latent;
          if (typeof latent === 'number' && Number.isInteger(latent) && latent >= 0) this.attach(panel, latent);
          else panel.dispose();
        },
      }),
      // New statistics may come with a new examples database (the statistics command).
      session.onDidChangeBundle(() => this.reopenExamples()),
      session.onDidChangeAnalysis(() => this.refreshAll()),
      session.onDidChangeStats(() => this.reopenExamples()),
      annotations.onDidChange((latents) => {
        for (const [j] of this.panels) if (latents.length === 0 || latents.includes(j)) void this.refresh(j);
      }),
    );
  }

  show(latent: number): void {
    const existing = this.panels.get(latent);
    if (existing) {
      existing.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(LATENT_PAGE_VIEW_TYPE, vscode.l10n.t('Latent #{0}', latent), vscode.ViewColumn.Beside, {});
    this.attach(panel, latent);
  }

  openLatents(): number[] {
    return [...this.panels.keys()];
  }

  private attach(panel: vscode.WebviewPanel, latent: number): void {
    this.panels.set(latent, panel);
    panel.title = vscode.l10n.t('Latent #{0}', latent);
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'latent-diff.svg');
    setWebviewHtml(panel.webview, this.extensionUri, 'latent', vscode.l10n.t('Latent #{0}', latent));
    const { channel } = connectWebview<HostToLatent, LatentToHost>(panel.webview, 'latent', {
      parse: parseLatentMessage,
      limits: () => ({
        dictSize: this.session.bundle?.info.dictSize ?? 0,
        tokens: this.session.analysis?.result.tokens.length ?? 0,
        evidence: this.annotations.get(latent)?.evidence.length ?? 0,
      }),
    }, {
      event: (m) => this.handle(latent, m),
      handlers: (c) => [
        c.handle(SaveAnnotation, async (m) => {
          // A patch of the fields the page changed; those it leaves out stay as they are on disk.
          await this.annotations.upsert(m.latent, { label: m.label, notes: m.notes, status: m.status });
          return { saved: true as const };
        }),
      ],
      disposed: panel.onDidDispose,
      gone: () => {
        if (this.panels.get(latent) === panel) this.panels.delete(latent);
        if (this.channels.get(latent) === channel) this.channels.delete(latent);
      },
    });
    this.channels.set(latent, channel);
  }

  private async handle(latent: number, m: LatentToHost): Promise<unknown> {
    if (isLatentAction(m)) return runLatentAction(m, { highlightLatent: (l, slot) => this.session.highlightLatent(l, slot), openLatent: (l) => this.show(l) });
    switch (m.type) {
      case 'ready':
        return this.refresh(latent);
      case 'revealToken':
        return revealToken(this.session.analysis, m.index);
      case 'openEvidence': {
        const e = this.annotations.get(latent)?.evidence[m.index];
        return e && openEvidence(e);
      }
    }
  }

  private reopenExamples(): void {
    this.examples = undefined;
    this.logitEffects.clear();
    this.refreshAll();
  }

  private refreshAll(): void {
    for (const j of this.panels.keys()) void this.refresh(j);
  }

  private async refresh(latent: number): Promise<void> {
    const channel = this.channels.get(latent);
    if (!channel) return;
    const post = (m: HostToLatent) => channel.post(m);
    try {
      const bundle = await this.session.ensureBundle();
      if (latent >= bundle.info.dictSize) {
        post({ type: 'latent', detail: null, message: vscode.l10n.t('Latent {0} does not exist: {1} has latents 0–{2}.', latent, bundle.info.name, bundle.info.dictSize - 1) });
        return;
      }
      const [metrics, stats] = await Promise.all([this.session.ensureMetrics(), this.session.ensureStats()]);
      this.examples ??= new ExamplesSource(this.session, bundle.examplesFile);
      const examples = await this.examples.get(latent);
      post({
        type: 'latent',
        message: '',
        detail: latentDetail({
          latent, bundle: bundle.info, metrics, stats, analysis: this.session.analysis,
          annotation: this.annotations.get(latent), annotationProblem: this.annotations.problem,
          examples, thresholds: this.session.settings.thresholds,
        }),
      });
    } catch (e) {
      post({ type: 'latent', detail: null, message: vscode.l10n.t('Cannot show latent {0}: {1}', latent, (e as Error).message) });
      return;
    }
    let effects = this.logitEffects.get(latent);
    if (!effects) {
      effects = this.session.logitEffects(latent);
      this.logitEffects.set(latent, effects);
      effects.catch(() => this.logitEffects.delete(latent));
    }
    try {
      post({ type: 'logitEffects', latent, effects: await effects, message: '' });
    } catch (e) {
      post({ type: 'logitEffects', latent, effects: null, message: vscode.l10n.t('No logit effects: {0}', (e as Error).message) });
    }
  }

  dispose(): void {
    for (const p of this.panels.values()) p.dispose();
    for (const s of this.subs) s.dispose();
  }
}
