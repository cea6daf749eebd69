/**
 * Extension entry. Activation only wires things up: no tokenizer, no ONNX Runtime, no file reads. The
 * inference worker starts on the first analysis (or when the sidebar first needs the latent table).
 */
import * as vscode from 'vscode';
import { Annotations } from './annotations';
import { registerCommands } from './commands';
import { ContextKeys } from './context-keys';
import { EditorDecorations } from './decorations';
import { EditorHighlighter } from './editor-highlighter';
import { CausalCommands } from './causal-commands';
import { GenerateCommands, steerLatents } from './generate-command';
import { GenerationPanel } from './generation-panel';
import { TokenHover } from './hover';
import { LatentPages } from './latent-pages';
import { LatentsView } from './latents-view';
import { LiveAnalysis } from './live-analysis';
import { setupCudaCommand } from './gpu-setup';
import { disposeLog, log } from './log';
import { Session } from './session';
import { affectsSettings } from './settings';
import { StatusBar } from './status-bar';
import { registerTestHook } from './test-hook';
import { TokenPanel } from './token-panel';
import { configureL10n } from '../protocol/l10n';

export function activate(context: vscode.ExtensionContext): void {
  // The presentation code's strings (what the webviews and hovers show) in the UI's language.
  configureL10n(vscode.l10n.bundle);
  const session = new Session(context);
  const annotations = new Annotations(session);
  const decorations = new EditorDecorations();
  const highlighter = new EditorHighlighter(session, decorations);
  const live = new LiveAnalysis(session);
  const latentPages = new LatentPages(context.extensionUri, session, annotations);
  const openLatent = (latent: number) => latentPages.show(latent);
  const tokenPanel = new TokenPanel(context.extensionUri, session, annotations, {
    openLatent,
    exportHtml: () => void vscode.commands.executeCommand('latentDiff.exportTokenHtml'),
  });
  const generationPanel = new GenerationPanel(context.extensionUri, session, annotations, { openLatent });
  const latentsView = new LatentsView(context.extensionUri, session, annotations, { openLatent, steerLatents });
  const statusBar = new StatusBar(session, () => live.isEnabled);
  const contextKeys = new ContextKeys(session);

  context.subscriptions.push(
    session, annotations, decorations, highlighter, live, latentPages, tokenPanel, latentsView, statusBar, generationPanel, contextKeys,
    live.onDidToggle(() => statusBar.update()),
    vscode.languages.registerHoverProvider([{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'vscode-userdata' }], new TokenHover(session, annotations)),
    ...registerCommands({ context, session, annotations, tokenPanel, latentPages, live, generation: new GenerateCommands(session, generationPanel), causal: new CausalCommands(session) }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!affectsSettings(e)) return;
      session.reloadSettings();
      if (affectsSettings(e, 'annotationsFile')) annotations.reopen();
      if (affectsSettings(e, 'liveAnalysis')) live.setEnabled(session.settings.liveAnalysis);
      statusBar.update();
    }),
    // Trusting the workspace makes its own settings (a bundle path, an annotations file) count.
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      session.reloadSettings();
      annotations.reopen();
      statusBar.update();
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => annotations.reopen()),
    vscode.commands.registerCommand('latentDiff.setupCuda', () => setupCudaCommand(context, () => session.closeBundle()).catch((e: Error) => {
      log().error(`setup-cuda: ${e.message}`);
      void vscode.window.showErrorMessage(vscode.l10n.t('Latent Diff: CUDA setup failed: {0}', e.message));
    })),
  );
  if (session.settings.liveAnalysis) live.setEnabled(true);
  // `npm start` opens a sample and asks for it to be analysed as soon as the window is up.
  const autoAnalyze = process.env.LATENT_DIFF_AUTO_ANALYZE;
  if (autoAnalyze) {
    void vscode.window.showTextDocument(vscode.Uri.file(autoAnalyze)).then(() => vscode.commands.executeCommand('latentDiff.analyzeDocument'));
  }
  if (process.env.LATENT_DIFF_TEST_HOOK === '1') {
    context.subscriptions.push(registerTestHook({ session, decorations, highlighter, annotations, latentsView, tokenPanel, latentPages, live, generationPanel, contextKeys }));
  }
}

export function deactivate(): void {
  disposeLog();
}
