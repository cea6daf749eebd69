/**
 * "Run Patching Experiment" and "Highlight Divergence": the causal measurements on the open chat. The
 * experiment shows its comparison table (a Markdown document beside the chat) and colours each answer token
 * by KL(P_chat || P_patched) for the intervention picked; divergence colours each token by
 * KL(P_chat || P_base). Both colour the editor and the token panel through the session's highlight.
 */
import * as vscode from 'vscode';
import type { KlRequest } from '../engine/analysis/patching/kl-job';
import type { LatentSetName } from '../engine/analysis/patching/latent-sets';
import { divergenceByToken, interventionLabel, klTableMarkdown, perTokenKl } from '../presentation/kl-table';
import type { CurrentAnalysis, Session } from './session';

const PAPER_SETS: LatentSetName[] = ['robust', 'pareto-delta-norm', 'antipareto-delta-norm', 'pareto-nu', 'antipareto-nu'];

export interface PatchingArgs {
  interventions?: KlRequest['interventions'];
  sets?: LatentSetName[];
  latents?: number[][];
  /** Name of the intervention whose per-token KL is highlighted (default: ask; "none" without a prompt). */
  highlight?: string;
  /** Do not open the comparison table. */
  noTable?: boolean;
}

export class CausalCommands {
  constructor(private readonly session: Session) {}

  private editor(): vscode.TextEditor {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new Error(vscode.l10n.t('open a chat in a text editor first: the experiment runs on the active editor'));
    return editor;
  }

  /** The analysis of the editor's current text (analysed first when it is not). */
  private async analysed(editor: vscode.TextEditor): Promise<CurrentAnalysis> {
    const a = this.session.analysis;
    const doc = editor.document;
    if (a && a.uri.toString() === doc.uri.toString() && a.version === doc.version && a.base === 0 && a.length === doc.getText().length) return a;
    const fresh = await this.session.analyze(doc, undefined);
    if (!fresh) throw new Error(vscode.l10n.t('the analysis was cancelled or the document changed meanwhile'));
    return fresh;
  }

  private progress<T>(title: string, work: (signal: AbortSignal) => Promise<T>): Thenable<T> {
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_p, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      return work(controller.signal);
    });
  }

  async patchingExperiment(arg: unknown): Promise<unknown> {
    const args = (typeof arg === 'object' && arg !== null ? arg : {}) as PatchingArgs;
    const editor = this.editor();
    const a = await this.analysed(editor);
    const stats = await this.session.ensureStats();
    const highlighted = this.session.highlightedLatents();
    const request: KlRequest = {
      interventions: args.interventions ?? ['none', 'all', 'chat-error'],
      sets: args.sets ?? (stats?.nuError && stats.nuReconstruction ? PAPER_SETS : []),
      latentLists: args.latents ?? (highlighted.length ? [highlighted] : []),
    };
    const text = editor.document.getText();
    const report = await this.progress('Latent Diff: patching experiment', (signal) => this.session.kl(text, a.title, request, signal));
    if (!args.noTable) {
      const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: klTableMarkdown(report, a.title) });
      await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, preview: true });
    }
    let index = args.highlight !== undefined ? report.interventions.findIndex((iv) => iv.name === args.highlight) : -1;
    if (args.highlight === undefined) {
      const picked = await vscode.window.showQuickPick(report.interventions.map((iv, i) => ({
        label: interventionLabel(iv), description: vscode.l10n.t('mean KL {0} ± {1}', iv.kl.all.mean.toFixed(4), iv.kl.all.ci95.toFixed(4)), index: i,
      })), { title: vscode.l10n.t('Highlight the per-token KL of'), ignoreFocusOut: true });
      index = picked?.index ?? -1;
    }
    if (index >= 0) {
      const acts = perTokenKl(report, index, a.result.tokens.length);
      if (!acts) throw new Error(vscode.l10n.t('the per-token KL highlight needs a document with one conversation (this one has {0}); the table has every result', report.documents));
      const name = `KL(chat ‖ ${report.interventions[index].name})`;
      this.session.setHighlight({
        mode: 'kl', name, acts, uri: a.uri.toString(), version: a.version,
        note: vscode.l10n.t('{0} per answer token: how far the patched model\'s prediction of the token is from the chat model\'s (nats).', name),
      });
    }
    return {
      documents: report.documents, tokens: report.tokens,
      interventions: report.interventions.map((iv) => ({ name: iv.name, latents: iv.latents, kl: iv.kl })),
    };
  }

  async divergence(): Promise<unknown> {
    const editor = this.editor();
    const a = await this.analysed(editor);
    const text = editor.document.getText();
    const d = await this.progress('Latent Diff: divergence', (signal) => this.session.divergence(text, { docName: a.title, mode: a.result.kind }, signal));
    if (d.tokens.length !== a.result.tokens.length || d.tokens.some((t, i) => t.id !== a.result.tokens[i].id)) {
      throw new Error(vscode.l10n.t('the divergence was measured on a different tokenisation than the analysis: analyse the document again'));
    }
    const k = d.topK;
    const texts = await this.session.tokenTexts([...d.chatTopIds, ...d.baseTopIds]);
    const offset = d.chatTopIds.length;
    const top = (base: number, probs: Float32Array) => d.tokens.map((_, t) => Array.from({ length: k }, (_, r) => ({ text: texts[base + t * k + r], prob: probs[t * k + r] })));
    this.session.predictions = { uri: a.uri.toString(), version: a.version, kl: d.kl, chat: top(0, d.chatTopProbs), base: top(offset, d.baseTopProbs) };
    this.session.setHighlight({
      mode: 'kl', name: 'KL(chat ‖ base)', acts: divergenceByToken(d.kl), uri: a.uri.toString(), version: a.version,
      note: vscode.l10n.t('KL(P_chat ‖ P_base) of each token\'s prediction (nats): where the two models disagree about this token.'),
    });
    let max = 0;
    for (const v of d.kl) if (v > max) max = v;
    return { tokens: d.tokens.length, maxKl: max };
  }
}
