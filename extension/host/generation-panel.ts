/**
 * The generation panel (one WebviewPanel): a model's answer streamed token by token, default and steered
 * (or chat and base) side by side, each token coloured by the session's highlight like analysed text. It
 * owns the running generation (cancel from the panel or the progress notification) and inserts a finished
 * answer into the prompt's document in one edit.
 */
import * as vscode from 'vscode';
import type { GenerateRequest, GenerationEvent } from '../engine/analysis/generate/generate-request';
import { CancelledError } from '../engine/worker/client';
import type { Channel } from '../engine/channel/channel';
import type { GenerationToHost, HostToGeneration } from '../protocol/messages';
import { parseGenerationMessage } from '../protocol/validate';
import type { Annotations } from './annotations';
import { chatSpecificLatents } from '../presentation/highlight-series';
import { generationView, type AnswerState, type GenerationState } from '../presentation/generation-view';
import { answerInsertion } from '../presentation/model-turn';
import type { Session } from './session';
import { isLatentAction, runLatentAction } from './latent-actions';
import { connectWebview, setWebviewHtml, webviewOptions } from './webview-host';
import { latentBrief, type LatentFacts } from '../presentation/webview-payloads';

export const GENERATION_PANEL_VIEW_TYPE = 'latentDiff.generation';

/** What a generation answers: the document (or a range of it) as it was when the generation started. */
export interface GenerationSource {
  document: vscode.TextDocument;
  range: vscode.Range | undefined;
  text: string;
  title: string;
}

export interface GenerationPanelActions {
  openLatent(latent: number): void;
}

/** Streamed tokens reach the webview at most this often (a snapshot of every answer so far). */
const POST_INTERVAL_MS = 50;

export class GenerationPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private channel: Channel<HostToGeneration, GenerationToHost> | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private state: GenerationState | undefined;
  private source: (GenerationSource & { version: number; continuation: boolean }) | undefined;
  private controller: AbortController | undefined;
  private postTimer: ReturnType<typeof setTimeout> | undefined;
  private nextRun = 1;
  /** Tokens shown by each view posted while the current generation ran (the test hook reads the streaming). */
  private streamed: number[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly session: Session,
    private readonly annotations: Annotations,
    private readonly actions: GenerationPanelActions,
  ) {
    this.subs.push(
      session.onDidChangeHighlight(() => this.postView()),
      session.onDidChangeStats(() => this.postView()),
      session.onDidChangeBundle(() => this.cancel()),
      annotations.onDidChange(() => this.postLabels()),
    );
  }

  /** The document the last generation answered (steering from the panel answers it again). */
  get lastDocument(): vscode.TextDocument | undefined {
    return this.source?.document;
  }

  get isOpen(): boolean {
    return this.panel !== undefined;
  }

  /** For the test hook: the answers so far. */
  snapshot(): { run: number; state: string; error: string; streamed: number[]; answers: { model: string; steer: { latent: number; strength: number }[]; status: string; ids: number[]; text: string; tokensPerSecond: number }[] } | null {
    const s = this.state;
    if (!s) return null;
    return {
      run: s.run, state: s.state, error: s.error, streamed: this.streamed,
      answers: s.answers.map((a) => ({ model: a.model, steer: a.steer, status: a.status, ids: a.tokens.map((t) => t.id), text: a.text, tokensPerSecond: a.tokensPerSecond })),
    };
  }

  private show(): void {
    if (this.panel) {
      this.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(GENERATION_PANEL_VIEW_TYPE, vscode.l10n.t('Latent Diff: Generation'),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { ...webviewOptions(this.extensionUri), retainContextWhenHidden: true });
    this.panel = panel;
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'latent-diff.svg');
    setWebviewHtml(panel.webview, this.extensionUri, 'generate', vscode.l10n.t('Latent Diff: Generation'));
    this.channel = connectWebview<HostToGeneration, GenerationToHost>(panel.webview, 'generate', {
      parse: parseGenerationMessage,
      limits: () => ({ dictSize: this.session.bundle?.info.dictSize ?? 0, tokens: 0, evidence: 0, columns: this.state?.answers.length ?? 0 }),
    }, {
      event: (m) => this.handle(m),
      disposed: panel.onDidDispose,
      gone: () => {
        this.panel = undefined;
        this.channel = undefined;
        this.cancel();
      },
    }).channel;
  }

  private handle(m: GenerationToHost): unknown {
    if (isLatentAction(m)) return runLatentAction(m, { highlightLatent: (l, slot) => this.session.highlightLatent(l, slot), openLatent: this.actions.openLatent });
    switch (m.type) {
      case 'ready':
        this.postView();
        return undefined;
      case 'cancel':
        if (m.run === this.state?.run) this.cancel();
        return undefined;
      case 'insert':
        if (m.run !== this.state?.run) throw new Error(vscode.l10n.t('this answer belongs to an older generation'));
        return this.insert(m.column);
    }
  }

  cancel(): void {
    this.controller?.abort();
  }

  /**
   * Generates into the panel; resolves when the generation ends (done, cancelled or failed: the panel says
   * which). Errors before the first token (a chat not ending with a user turn, bad settings) are thrown.
   */
  async generate(source: GenerationSource, request: GenerateRequest, settingsText: string, token?: vscode.CancellationToken): Promise<GenerationState> {
    this.cancel();
    const bundle = await this.session.ensureBundle();
    const controller = new AbortController();
    this.controller = controller;
    token?.onCancellationRequested(() => controller.abort());
    const roles: ('chat' | 'base')[] = request.model === 'both' ? ['chat', 'base'] : [request.model ?? 'chat'];
    const steer = request.steer ?? [];
    const answers: AnswerState[] = roles.flatMap((model) => (steer.length ? [[], steer] : [[]]).map((s) => ({
      model, steer: s, steerOn: request.steerOn ?? 'all', tokens: [], exactLatents: request.latents ?? [], status: 'running' as const, tokensPerSecond: 0, text: '',
    })));
    const state: GenerationState = {
      run: this.nextRun++, title: source.title, settings: settingsText, promptTokens: 0, state: 'running', error: '',
      insertLabel: request.continuation ? vscode.l10n.t('Insert continuation') : vscode.l10n.t('Insert as model turn'),
      answers, bundle: bundle.info, provider: bundle.provider,
    };
    this.state = state;
    this.streamed = [];
    this.source = { ...source, version: source.document.version, continuation: request.continuation === true };
    const started = new Map<number, number>();
    const onToken = (e: GenerationEvent) => {
      const a = answers[e.output];
      if (!a) return;
      if (!started.has(e.output)) started.set(e.output, performance.now());
      a.tokens[e.index] = e.token;
      const seconds = (performance.now() - started.get(e.output)!) / 1000;
      if (seconds > 0) a.tokensPerSecond = a.tokens.length / seconds;
      this.schedulePost();
    };
    this.show();
    this.postView();
    try {
      const result = await this.session.generate(source.text, request, onToken, controller.signal);
      state.promptTokens = result.promptIds.length;
      result.outputs.forEach((o, i) => {
        const a = answers[i];
        if (!a) return;
        a.tokens = o.tokens;
        a.status = o.stop;
        a.tokensPerSecond = o.tokensPerSecond;
        a.text = o.text;
      });
      state.state = 'done';
    } catch (e) {
      const cancelled = e instanceof CancelledError;
      for (const a of answers) if (a.status === 'running') a.status = cancelled ? 'cancelled' : 'failed';
      state.state = cancelled ? 'cancelled' : 'failed';
      state.error = cancelled ? vscode.l10n.t('Cancelled: nothing is inserted from an unfinished answer.') : (e as Error).message;
      if (!cancelled && answers.every((a) => a.tokens.length === 0)) {
        this.postView();
        throw e;
      }
    } finally {
      if (this.controller === controller) this.controller = undefined;
    }
    this.postView();
    return state;
  }

  /** Inserts a finished answer into the document it answers, in one edit; refuses when the document changed. */
  private async insert(column: number): Promise<string> {
    const state = this.state;
    const source = this.source;
    const answer = state?.answers[column];
    if (!state || !source || !answer) throw new Error(vscode.l10n.t('there is no answer to insert'));
    if (state.state !== 'done' || answer.status === 'cancelled' || answer.status === 'failed') throw new Error(vscode.l10n.t('only a finished answer can be inserted: this one was cancelled or is still running'));
    if (source.document.isClosed) throw new Error(vscode.l10n.t('{0} is closed: the answer was not inserted', source.title));
    if (source.document.version !== source.version) throw new Error(vscode.l10n.t('{0} changed since the generation started: the answer was not inserted (generate again)', source.title));
    const text = answer.text;
    const base = source.range ? source.document.offsetAt(source.range.start) : 0;
    const r = answerInsertion(source.text, text, source.continuation, source.document.uri.fsPath || source.title);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(source.document.uri, new vscode.Range(source.document.positionAt(base + r.start), source.document.positionAt(base + r.end)), r.text);
    if (!(await vscode.workspace.applyEdit(edit))) throw new Error(vscode.l10n.t('{0} could not be edited', source.title));
    return text;
  }

  private facts(): LatentFacts {
    return { metrics: this.session.metrics, stats: this.session.stats, label: (j) => this.annotations.label(j) };
  }

  private schedulePost(): void {
    if (this.postTimer) return;
    this.postTimer = setTimeout(() => {
      this.postTimer = undefined;
      this.postView();
    }, POST_INTERVAL_MS);
  }

  private post(message: HostToGeneration): void {
    this.channel?.post(message);
  }

  private postView(): void {
    if (!this.panel) return;
    const s = this.session;
    if (!this.state) {
      this.post({ type: 'generation', view: null });
      return;
    }
    if (this.state.state === 'running') this.streamed.push(this.state.answers.reduce((n, a) => n + a.tokens.length, 0));
    const chatSet = s.request.mode === 'chat-specificity' && s.metrics ? chatSpecificLatents(s.metrics, s.stats, s.settings.thresholds) : undefined;
    if (s.request.mode === 'chat-specificity' && !s.metrics) s.ensureMetrics().then(() => this.postView(), () => undefined);
    this.post({
      type: 'generation',
      view: generationView(this.state, {
        request: s.request, chatSet, stats: s.stats, facts: this.facts(), thresholds: s.settings.thresholds,
        norm: { mode: s.settings.normalization, value: s.settings.normalizationValue },
      }),
    });
  }

  private postLabels(): void {
    if (!this.panel || !this.state) return;
    const seen = new Set<number>();
    for (const a of this.state.answers) for (const t of a.tokens) for (const r of t.top) seen.add(r.latent);
    const facts = this.facts();
    this.post({ type: 'labels', latents: [...seen].map((j) => latentBrief(j, facts)) });
  }

  dispose(): void {
    this.cancel();
    if (this.postTimer) clearTimeout(this.postTimer);
    this.panel?.dispose();
    for (const s of this.subs) s.dispose();
  }
}
