/**
 * "Generate Response" and "Generate Steered Response": the chat model answers the open chat (or the
 * selection), optionally next to the base model or to a steered answer from the same seed. From the palette
 * the options come from the settings and a quick pick; commands, webviews and tests pass them as an object.
 */
import * as vscode from 'vscode';
import type { GenerateRequest } from '../engine/analysis/generate/generate-request';
import type { SteerSpec } from '../engine/analysis/generate/steering';
import { isLatentDiffError } from '../engine/errors';
import type { GenerationPanel, GenerationSource } from './generation-panel';
import type { Session } from './session';
import { describeSampling, parseSampling, parseSteering } from '../presentation/generation-input';

export const GENERATE_STEERED_COMMAND = 'latentDiff.generateSteered';

/** A webview's "steer" button: the steered generation with this latent prefilled. */
export function steerLatent(latent: number): void {
  void vscode.commands.executeCommand(GENERATE_STEERED_COMMAND, { latent });
}

/** The latents sidebar's steer action: the steered generation with these latents and strengths, at once. */
export function steerLatents(steer: SteerSpec[]): void {
  void vscode.commands.executeCommand(GENERATE_STEERED_COMMAND, { steer });
}

/** The graph computes this many top latents per generated token. */
const MAX_TOP_K = 32;

/** What the Generate commands accept as arguments (keybindings, other commands): the request's sampling and steering. */
export type GenerateArgs = Pick<GenerateRequest, 'model' | 'maxNew' | 'temperature' | 'topP' | 'seed' | 'steer' | 'steerOn' | 'continuation'>;

function sourceOf(editor: vscode.TextEditor): GenerationSource {
  const doc = editor.document;
  const range = editor.selection.isEmpty ? undefined : new vscode.Range(editor.selection.start, editor.selection.end);
  const name = doc.uri.path.split('/').pop() || doc.uri.toString();
  return { document: doc, range, text: doc.getText(range), title: range ? `${name} (lines ${range.start.line + 1}–${range.end.line + 1})` : name };
}

export class GenerateCommands {
  constructor(private readonly session: Session, private readonly panel: GenerationPanel) {}

  /** The palette's choices: which model(s) answer, and the sampling settings (editable once). */
  private async askOptions(): Promise<GenerateArgs | undefined> {
    let g = this.session.settings.generation;
    for (;;) {
      const sampling = describeSampling({ temperature: g.temperature, topP: g.topP, seed: g.seed, maxNew: g.maxNewTokens });
      const items: (vscode.QuickPickItem & { pick: 'chat' | 'both' | 'sampling' })[] = [
        { label: `$(comment) ${vscode.l10n.t('Chat model answers')}`, description: sampling, pick: 'chat' },
        { label: `$(split-horizontal) ${vscode.l10n.t('Chat and base models side by side')}`, description: sampling, pick: 'both' },
        { label: `$(settings) ${vscode.l10n.t('Change sampling…')}`, description: vscode.l10n.t('temperature, top-p, seed, max new tokens'), pick: 'sampling' },
      ];
      if (g.compareBase) items.unshift(items.splice(1, 1)[0]);
      const picked = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Latent Diff: Generate Response'), ignoreFocusOut: true });
      if (!picked) return undefined;
      if (picked.pick !== 'sampling') return { model: picked.pick, temperature: g.temperature, topP: g.topP, seed: g.seed, maxNew: g.maxNewTokens };
      const current = g;
      const typed = await vscode.window.showInputBox({
        title: vscode.l10n.t('Sampling for this generation'), ignoreFocusOut: true,
        prompt: vscode.l10n.t('temperature=T (0: greedy) top-p=P seed=S max=N'),
        value: `temperature=${g.temperature} top-p=${g.topP} seed=${g.seed} max=${g.maxNewTokens}`,
        validateInput: (v) => { const r = parseSampling(v, current); return typeof r === 'string' ? r : undefined; },
      });
      if (typed === undefined) return undefined;
      const parsed = parseSampling(typed, g);
      if (typeof parsed !== 'string') g = parsed;
    }
  }

  /** Asks for the latents to steer and their strengths (the highlighted or given latent prefilled). */
  private async askSteering(latent: number | undefined): Promise<{ steer: SteerSpec[]; steerOn: 'all' | 'prompt' } | undefined> {
    const b = await this.session.ensureBundle();
    const first = latent ?? this.session.highlightedLatents()[0];
    const typed = await vscode.window.showInputBox({
      title: vscode.l10n.t('Latent Diff: Steer'), ignoreFocusOut: true,
      prompt: vscode.l10n.t('LATENT:STRENGTH, comma-separated. Adds strength × max activation × the chat decoder direction to the residual after the crosscoder\'s layer.'),
      value: first !== undefined ? `${first}:1` : '',
      validateInput: (v) => { const r = parseSteering(v, b.info.dictSize); return typeof r === 'string' ? r : undefined; },
    });
    if (typed === undefined) return undefined;
    const steer = parseSteering(typed, b.info.dictSize);
    if (typeof steer === 'string') return undefined;
    const on = await vscode.window.showQuickPick([
      { label: vscode.l10n.t('All tokens'), description: vscode.l10n.t('the prompt and every generated token'), value: 'all' as const },
      { label: vscode.l10n.t('Prompt only'), description: vscode.l10n.t('the generated tokens run unsteered'), value: 'prompt' as const },
    ], { title: vscode.l10n.t('Steer on'), ignoreFocusOut: true });
    return on && { steer, steerOn: on.value };
  }

  /** The active editor; from a webview (no active editor), the one the last generation answered. */
  private editor(): vscode.TextEditor {
    const last = this.panel.lastDocument;
    const editor = vscode.window.activeTextEditor ?? vscode.window.visibleTextEditors.find((e) => e.document === last);
    if (!editor) throw new Error(vscode.l10n.t('open a chat in a text editor first: the model answers the active editor (or its selection)'));
    return editor;
  }

  async generate(arg: unknown): Promise<unknown> {
    const source = sourceOf(this.editor());
    const given = typeof arg === 'object' && arg !== null ? arg as GenerateArgs : undefined;
    const args = given ?? await this.askOptions();
    if (!args) return undefined;
    return this.run(source, args);
  }

  async generateSteered(arg: unknown): Promise<unknown> {
    const source = sourceOf(this.editor());
    const given = typeof arg === 'object' && arg !== null ? arg as GenerateArgs & { latent?: number } : {};
    let args: GenerateArgs = given;
    if (!given.steer) {
      const s = await this.askSteering(typeof given.latent === 'number' ? given.latent : undefined);
      if (!s) return undefined;
      const g = this.session.settings.generation;
      args = { temperature: g.temperature, topP: g.topP, seed: g.seed, maxNew: g.maxNewTokens, ...given, ...s };
    }
    return this.run(source, args);
  }

  private async run(source: GenerationSource, args: GenerateArgs): Promise<unknown> {
    const g = this.session.settings.generation;
    const request: GenerateRequest = {
      model: args.model ?? (g.compareBase ? 'both' : 'chat'),
      maxNew: args.maxNew ?? g.maxNewTokens,
      temperature: args.temperature ?? g.temperature,
      topP: args.topP ?? g.topP,
      seed: args.seed ?? g.seed,
      steer: args.steer ?? [],
      steerOn: args.steerOn ?? g.steerOn,
      latents: this.session.exactLatentsWanted(),
      topK: Math.min(MAX_TOP_K, this.session.settings.topK),
      continuation: args.continuation === true,
      docName: source.document.uri.fsPath || source.title,
    };
    try {
      const state = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Latent Diff: generating'), cancellable: true },
        (_progress, token) => this.panel.generate(source, request, describeSampling(request), token));
      return { state: state.state, answers: state.answers.map((a) => ({ model: a.model, steer: a.steer, status: a.status, text: a.text })) };
    } catch (e) {
      if (isLatentDiffError(e) && e.code === 'not-a-user-turn' && !request.continuation) {
        const pick = await vscode.window.showWarningMessage(vscode.l10n.t('Latent Diff: {0}', e.message), vscode.l10n.t('Continue the Text'));
        if (pick) return this.run(source, { ...args, continuation: true });
        return undefined;
      }
      throw e;
    }
  }
}
