/**
 * Typed access to the `latentDiff.*` settings. In a restricted (untrusted) workspace, the settings that
 * name files to load or write (bundle path, annotations file) are taken from the user's own settings only,
 * never from the workspace: a repository must not make the extension load a model or write elsewhere.
 */
import * as vscode from 'vscode';
import { providerSettings } from '../engine/runtime/provider-settings';
import type { ProviderSetting } from '../engine/types';
import type { ClassifyThresholds } from '../protocol/messages';

import type { NormalizationMode } from '../presentation/highlight-series';

export interface Settings {
  bundlePath: string;
  provider: ProviderSetting;
  /** 0 = the bundle's own context window. */
  contextWindow: number;
  topK: number;
  normalization: NormalizationMode;
  normalizationValue: number;
  liveAnalysis: boolean;
  liveDebounceMs: number;
  thresholds: ClassifyThresholds;
  disablePrepacking: boolean;
  /** 0: one per physical core. */
  cpuThreads: number;
  annotationsFile: string;
  generation: GenerationSettings;
}

export interface GenerationSettings {
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topP: number;
  seed: number;
  /** The base model continues the same prompt next to the chat model's answer. */
  compareBase: boolean;
  steerOn: 'all' | 'prompt';
}

export const SECTION = 'latentDiff';
/** Settings a workspace may not set while it is untrusted (also declared in package.json). */
export const RESTRICTED_SETTINGS = ['bundlePath', 'annotationsFile'] as const;

function userValue<T>(c: vscode.WorkspaceConfiguration, key: string, fallback: T): T {
  const i = c.inspect<T>(key);
  return i?.globalValue ?? i?.defaultValue ?? fallback;
}

function clampNumber(v: unknown, lo: number, hi: number, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : fallback;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const trusted = vscode.workspace.isTrusted;
  const restricted = <T>(key: string, fallback: T): T => (trusted ? c.get<T>(key, fallback) : userValue(c, key, fallback));
  const provider = c.get<string>('provider', 'auto');
  const normalization = c.get<string>('normalization', 'text-max');
  return {
    bundlePath: restricted('bundlePath', '').trim(),
    // Every provider is accepted: one this platform lacks (dml off Windows) falls back with a note saying why.
    provider: (providerSettings('win32').includes(provider as ProviderSetting) ? provider : 'auto') as ProviderSetting,
    contextWindow: Math.round(clampNumber(c.get('contextWindow'), 0, 1 << 20, 0)),
    topK: Math.round(clampNumber(c.get('topK'), 1, 256, 10)),
    normalization: (['text-max', 'stats-max', 'number'].includes(normalization) ? normalization : 'text-max') as NormalizationMode,
    normalizationValue: clampNumber(c.get('normalizationValue'), 1e-6, 1e9, 1),
    liveAnalysis: c.get<boolean>('liveAnalysis', false),
    liveDebounceMs: Math.round(clampNumber(c.get('liveDebounceMs'), 50, 60_000, 600)),
    thresholds: {
      chatOnlyAbove: clampNumber(c.get('tags.chatOnlyAbove'), 0, 1, 0.9),
      baseOnlyBelow: clampNumber(c.get('tags.baseOnlyBelow'), 0, 1, 0.1),
      sharedHalfWidth: clampNumber(c.get('tags.sharedHalfWidth'), 0, 0.5, 0.1),
      nuError: clampNumber(c.get('nuErrorThreshold'), -1e9, 1e9, 0.2),
      nuReconstruction: clampNumber(c.get('nuReconstructionThreshold'), -1e9, 1e9, 0.5),
      nuSign: c.get<string>('nuSignConvention') === 'absolute' ? 'absolute' : 'signed',
    },
    disablePrepacking: c.get<boolean>('disablePrepacking', true),
    cpuThreads: Math.round(clampNumber(c.get('cpuThreads'), 0, 1024, 0)),
    annotationsFile: restricted('annotationsFile', '').trim(),
    generation: {
      maxNewTokens: Math.round(clampNumber(c.get('generation.maxNewTokens'), 1, 4096, 64)),
      temperature: clampNumber(c.get('generation.temperature'), 0, 100, 0),
      topP: clampNumber(c.get('generation.topP'), 1e-6, 1, 1),
      seed: Math.round(clampNumber(c.get('generation.seed'), 0, Number.MAX_SAFE_INTEGER, 0)),
      compareBase: c.get<boolean>('generation.compareBase', false),
      steerOn: c.get<string>('generation.steerOn', 'all') === 'prompt' ? 'prompt' : 'all',
    },
  };
}

export function affectsSettings(e: vscode.ConfigurationChangeEvent, ...keys: string[]): boolean {
  return keys.length === 0 ? e.affectsConfiguration(SECTION) : keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`));
}
