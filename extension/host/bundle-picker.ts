/**
 * What "Open Bundle..." asks when called without a folder: a recent bundle, a folder to browse for, or a
 * bundle built from the local Hugging Face cache (written into the extension's global storage).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { hfCacheBundles, hfHubDir, writeHfCacheBundle } from '../engine/bundle/hf-cache';
import { RECENT_BUNDLES_KEY, withRecent } from './recent-bundles';

type Choice = vscode.QuickPickItem & { dir?: string; action?: 'browse' | 'hf-cache' };

export function recentBundles(context: vscode.ExtensionContext): string[] {
  return context.globalState.get<string[]>(RECENT_BUNDLES_KEY, []).filter((d) => typeof d === 'string');
}

export function rememberBundle(context: vscode.ExtensionContext, dir: string): Thenable<void> {
  return context.globalState.update(RECENT_BUNDLES_KEY, withRecent(recentBundles(context), dir));
}

async function browse(): Promise<string | undefined> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true, canSelectFiles: true, canSelectMany: false, openLabel: vscode.l10n.t('Open Bundle'),
    filters: { [vscode.l10n.t('Bundle')]: ['json'] }, title: vscode.l10n.t('Open a Latent Diff bundle folder (or its bundle.json)'),
  });
  return picked?.[0]?.fsPath;
}

async function fromHfCache(context: vscode.ExtensionContext): Promise<string | undefined> {
  const hub = hfHubDir();
  const bundles = hfCacheBundles(hub);
  if (bundles.length === 0) {
    throw new Error(vscode.l10n.t('{0}: no Gemma 2 base/-it pair with a crosscoder that fits it is in the Hugging Face cache (see docs/real-models.md for what to put there)', hub));
  }
  const picked = await vscode.window.showQuickPick(
    bundles.map((b) => ({ label: b.name, detail: [b.json.crosscoder, b.json.stats ? vscode.l10n.t('with statistics') : vscode.l10n.t('no statistics cached')].join(' · '), bundle: b })),
    { title: vscode.l10n.t('Bundles from the Hugging Face cache in {0}', hub), ignoreFocusOut: true, matchOnDetail: true },
  );
  return picked && writeHfCacheBundle(picked.bundle, join(context.globalStorageUri.fsPath, 'bundles'));
}

/** The bundle folder the user chooses, or undefined when they cancel. */
export async function pickBundle(context: vscode.ExtensionContext): Promise<string | undefined> {
  const items: Choice[] = recentBundles(context).filter((d) => existsSync(d)).map((dir) => ({ label: `$(history) ${dir}`, description: vscode.l10n.t('recent'), dir }));
  items.push(
    { label: `$(folder-opened) ${vscode.l10n.t('Browse for a bundle folder...')}`, action: 'browse' },
    { label: `$(database) ${vscode.l10n.t('Build from the local Hugging Face cache...')}`, description: hfHubDir(), action: 'hf-cache' },
  );
  const choice = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('Open Bundle'), ignoreFocusOut: true });
  if (!choice) return undefined;
  if (choice.dir) return choice.dir;
  return choice.action === 'browse' ? browse() : fromHfCache(context);
}
