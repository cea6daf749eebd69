/**
 * "Latent Diff: Compute Statistics on Dataset...": runs the offline statistics job (Latent Scaling,
 * frequencies, max-activating examples) on its own worker thread with a cancellable progress
 * notification, then feeds the results to the sidebar, hovers and latent pages without a reload.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ProviderInUse } from '../engine/types';
import { reportProvider, useCudaSetupBeforeWorker } from './gpu-setup';
import { StatsCancelledError } from '../engine/analysis/stats/stats-cancelled';
import { runStatsInWorker } from '../engine/worker/stats-client';
import type { Session } from './session';

function outputFolder(context: vscode.ExtensionContext, identity: string): string {
  const ws = vscode.workspace.workspaceFolders?.[0];
  const base = ws && vscode.workspace.isTrusted ? join(ws.uri.fsPath, '.latent-diff', 'stats') : join(context.globalStorageUri.fsPath, 'stats');
  return join(base, identity);
}

/** An interrupted run in `out` can be resumed or replaced; undefined = the user backed out. */
async function resumeOrRestart(out: string): Promise<boolean | undefined> {
  if (!existsSync(join(out, 'state', 'manifest.json'))) return false;
  const resume = vscode.l10n.t('Resume the interrupted run');
  const restart = vscode.l10n.t('Start over');
  const pick = await vscode.window.showQuickPick([resume, restart], { title: vscode.l10n.t('Statistics already started in {0}', out), ignoreFocusOut: true });
  if (pick === restart) rmSync(out, { recursive: true, force: true });
  return pick === undefined ? undefined : pick === resume;
}

export async function computeStatistics(context: vscode.ExtensionContext, session: Session, files?: string[]): Promise<void> {
  const bundle = await session.ensureBundle();
  const data = files ?? (await vscode.window.showOpenDialog({
    canSelectMany: true,
    title: vscode.l10n.t('Datasets for Latent Diff statistics'),
    openLabel: vscode.l10n.t('Compute statistics'),
    filters: { [vscode.l10n.t('Datasets')]: ['txt', 'jsonl', 'json', 'parquet'], [vscode.l10n.t('All files')]: ['*'] },
  }))?.map((u) => u.fsPath);
  if (!data?.length) return;
  const out = outputFolder(context, bundle.info.crosscoderIdentity);
  const resume = await resumeOrRestart(out);
  if (resume === undefined) return;
  const { thresholds, provider, cpuThreads } = session.settings;
  let skipped = 0;
  useCudaSetupBeforeWorker(context);
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Latent Diff: statistics'), cancellable: true },
    async (progress, token) => {
      const controller = new AbortController();
      token.onCancellationRequested(() => controller.abort());
      let reported = 0;
      try {
        return await runStatsInWorker(context.asAbsolutePath(join('dist', 'stats-worker.js')), {
          data, out, bundle: bundle.dir, provider, resume,
          ...(cpuThreads > 0 ? { cpuThreads } : {}),
          cacheDir: join(context.globalStorageUri.fsPath, 'cache'),
          thresholds: { completeShrinkage: thresholds.nuError, latentDecoupling: thresholds.nuReconstruction, nuSign: thresholds.nuSign },
        }, {
          signal: controller.signal,
          onBadRecord: () => skipped++,
          onProgress: (p) => {
            // Each phase runs 0..1; the notification's bar covers both phases.
            const overall = ((p.phase === 'scan' ? 0 : 50) + 50 * (p.fraction ?? 0));
            const eta = p.etaSeconds !== undefined ? `, ${Math.ceil(p.etaSeconds)} s left` : '';
            progress.report({ message: `${p.phase}: ${Math.round(p.tokensPerSecond)} tokens/s${eta}`, increment: Math.max(0, overall - reported) });
            reported = Math.max(reported, overall);
          },
        });
      } catch (e) {
        if (e instanceof StatsCancelledError) return undefined;
        throw e;
      }
    },
  );
  if (!result) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: statistics cancelled. The checkpoint is saved; run the command again to resume.'));
    return;
  }
  reportProvider(provider, { provider: result.provider as ProviderInUse, providerNote: result.providerNote });
  if (!result.featureDf) throw new Error(vscode.l10n.t('the statistics run in {0} finished without a feature_df.csv', out));
  session.useComputedStatistics(await session.readStats(result.featureDf), result.examplesDb);
  const note = skipped ? ` ${skipped} unreadable record(s) were skipped.` : '';
  void vscode.window.showInformationMessage(vscode.l10n.t('Latent Diff: statistics written to {0} (feature_df.csv, examples.db).{1}', out, note));
}
