/**
 * GPU providers in the extension: the CUDA setup in global storage (the inference and statistics workers
 * share this process's ONNX Runtime, so its core library must be chosen before the first worker loads it),
 * the "Set Up CUDA..." command, and telling the user which provider runs: the Output channel always, and a
 * notification once per window when a GPU provider they asked for was not used.
 */
import * as vscode from 'vscode';
import { cudaSetupDir, cudaSetupSummary, PACKAGE_ID, setupCuda, useCudaSetup } from '../engine/runtime/cuda-setup';
import { ortVersion } from '../engine/runtime/onnxruntime-core';
import { GPU_PROVIDERS } from '../engine/runtime/provider-settings';
import type { ProviderInUse, ProviderSetting } from '../engine/types';
import { log } from './log';

/** Call before starting a worker: makes ONNX Runtime come from the CUDA setup when there is one. */
export function useCudaSetupBeforeWorker(context: vscode.ExtensionContext): void {
  const problem = useCudaSetup(context.globalStorageUri.fsPath);
  if (problem) log().warn(`CUDA setup not used: ${problem}`);
}

export interface ProviderOutcome {
  provider: ProviderInUse;
  providerNote?: string;
  adapter?: string;
}

const notified = new Set<ProviderSetting>();
let lastLogged = '';

/** Logs the provider when it changes, and tells the user once when an asked-for GPU provider fell back. */
export function reportProvider(requested: ProviderSetting, r: ProviderOutcome): void {
  const line = `provider ${r.provider} (setting ${requested})${r.adapter ? ` on ${r.adapter}` : ''}${r.providerNote ? `: ${r.providerNote}` : ''}`;
  if (line !== lastLogged) {
    lastLogged = line;
    if (r.providerNote) log().warn(line);
    else log().info(line);
  }
  if (!GPU_PROVIDERS.includes(requested) || r.provider === requested || notified.has(requested)) return;
  notified.add(requested);
  const setUp = vscode.l10n.t('Set Up CUDA...');
  const showLog = vscode.l10n.t('Show Log');
  const actions = requested === 'cuda' ? [setUp, showLog] : [showLog];
  void vscode.window.showWarningMessage(vscode.l10n.t('Latent Diff: {0} is not used; running on {1}. {2}', requested, r.provider, r.providerNote ?? ''), ...actions).then((a) => {
    if (a === setUp) void vscode.commands.executeCommand('latentDiff.setupCuda');
    if (a === showLog) log().show(true);
  });
}

type Source = { kind: 'from'; path: string } | { kind: 'download' };

async function askSource(into: string): Promise<Source | undefined> {
  const version = ortVersion();
  const pick = await vscode.window.showQuickPick([
    { label: vscode.l10n.t('Use a package file or folder...'), detail: vscode.l10n.t('The {0} {1} package (.nupkg), or a folder with libonnxruntime_providers_shared.so and libonnxruntime_providers_cuda.so', PACKAGE_ID, version), source: 'from' as const },
    { label: vscode.l10n.t('Download with ONNX Runtime\'s installer'), detail: vscode.l10n.t('Runs onnxruntime-node\'s own CUDA installer, which downloads the {0} package (several hundred MB)', PACKAGE_ID), source: 'download' as const },
  ], { title: vscode.l10n.t('Latent Diff: Set Up CUDA'), placeHolder: vscode.l10n.t('CUDA provider libraries for ONNX Runtime {0}', version) });
  if (!pick) return undefined;
  if (pick.source === 'from') {
    const uris = await vscode.window.showOpenDialog({
      canSelectFiles: true, canSelectFolders: true, canSelectMany: false, openLabel: vscode.l10n.t('Use'),
      title: vscode.l10n.t('{0} {1} package or a folder of its libraries', PACKAGE_ID, version),
    });
    return uris?.length ? { kind: 'from', path: uris[0].fsPath } : undefined;
  }
  const download = vscode.l10n.t('Download');
  const ok = await vscode.window.showWarningMessage(vscode.l10n.t('Download the CUDA provider for ONNX Runtime?'), {
    modal: true,
    detail: vscode.l10n.t('onnxruntime-node\'s installer will download the {0} {1} package (several hundred MB) and Latent Diff will keep its CUDA libraries in {2}. Nothing else is downloaded.', PACKAGE_ID, version, into),
  }, download);
  return ok === download ? { kind: 'download' } : undefined;
}

/** "Latent Diff: Set Up CUDA...": from a file or folder the user has, or, with consent, ORT's installer. */
export async function setupCudaCommand(context: vscode.ExtensionContext, onInstalled: () => void): Promise<void> {
  const into = cudaSetupDir(context.globalStorageUri.fsPath);
  const source = await askSource(into);
  if (!source) return;
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Latent Diff: setting up CUDA') }, (progress) =>
    setupCuda({
      into,
      ...(source.kind === 'from' ? { from: source.path } : { consent: true }),
      onProgress: (m) => {
        log().info(`setup-cuda: ${m}`);
        progress.report({ message: m.slice(0, 140) });
      },
    }));
  for (const line of cudaSetupSummary(result)) log().info(`setup-cuda: ${line}`);
  const problem = useCudaSetup(context.globalStorageUri.fsPath);
  if (!problem) onInstalled();
  const missing = result.missingSystemLibraries.length ? ` ${vscode.l10n.t('These do not load here yet: {0} (CUDA 12 and cuDNN 9 must be on the library path).', result.missingSystemLibraries.join(', '))}` : '';
  const message = `${vscode.l10n.t('Latent Diff: CUDA provider installed for ONNX Runtime {0}.', result.version)}${missing}`;
  const reload = vscode.l10n.t('Reload Window');
  const showLog = vscode.l10n.t('Show Log');
  const actions = problem ? [reload, showLog] : [showLog];
  const show = missing || problem ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
  const a = await show(problem ? `${message} ${vscode.l10n.t('Reload the window to use it (ONNX Runtime is already loaded).')}` : message, ...actions);
  if (a === reload) void vscode.commands.executeCommand('workbench.action.reloadWindow');
  if (a === showLog) log().show(true);
}
