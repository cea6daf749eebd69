import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ProviderInUse, ProviderSetting } from '../types';

/**
 * Execution-provider choice. ORT does not fall back by itself: a session asked for ['cuda', 'cpu'] throws
 * when the CUDA libraries are missing. So each candidate is tried alone, in order, and the first session
 * that creates is kept; the provider that worked is reported to the user.
 */
export function providerCandidates(setting: ProviderSetting): ProviderInUse[] {
  switch (setting) {
    case 'auto':
      return ['cuda', 'cpu'];
    case 'cuda':
      return ['cuda', 'cpu'];
    case 'webgpu':
      return ['webgpu', 'cpu'];
    default:
      return ['cpu'];
  }
}

/**
 * The CUDA provider ships as separate shared libraries next to the binding, installed only on request.
 * When they are absent, trying CUDA would only make ORT print a loader error: skip it and say why.
 */
function missingProviderLibrary(provider: ProviderInUse): string | undefined {
  if (provider !== 'cuda') return undefined;
  try {
    const binDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(binDir, lib)) ? undefined : `cuda unavailable (${lib} is not installed with onnxruntime-node); using cpu`;
  } catch {
    return undefined;
  }
}

/** The provider a setting will end up with as far as can be told before any session exists. */
export function expectedProvider(setting: ProviderSetting): ProviderInUse {
  return providerCandidates(setting).find((p) => !missingProviderLibrary(p)) ?? 'cpu';
}

export interface ProviderChoice {
  /** The provider sessions are created with, once the first session succeeded. */
  current?: ProviderInUse;
  /** Why a preferred provider was skipped, for the status bar and the CLI. */
  fallbackReason?: string;
}

export type SessionSource = string | { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] };

/** Creates a session with the first provider that works; later sessions reuse the provider that worked. */
export async function createSession(
  source: SessionSource,
  setting: ProviderSetting,
  choice: ProviderChoice,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  // Once a provider works, later sessions try it first but may still fall back to the CPU (a GPU out of memory).
  const candidates = choice.current ? [...new Set<ProviderInUse>([choice.current, 'cpu'])] : providerCandidates(setting);
  let lastError: unknown;
  for (const provider of candidates) {
    const missing = choice.current ? undefined : missingProviderLibrary(provider);
    if (missing) {
      choice.fallbackReason = missing;
      continue;
    }
    try {
      // A missing CUDA library is an expected outcome here, not an error worth ORT's own log line.
      const quiet = provider === 'cpu' ? {} : { logSeverityLevel: 4 as const };
      const opts: ort.InferenceSession.SessionOptions = { ...options, ...quiet, executionProviders: [provider] };
      const session = typeof source === 'string'
        ? await ort.InferenceSession.create(source, opts)
        : await ort.InferenceSession.create(source.bytes, { ...opts, ...(source.externalData ? { externalData: source.externalData } : {}) } as ort.InferenceSession.SessionOptions);
      if (!choice.current) choice.current = provider;
      return session;
    } catch (e) {
      lastError = e;
      if (provider !== 'cpu') choice.fallbackReason = `${provider} failed (${firstLine(e)}); using cpu${choice.current ? ' for this model' : ''}`;
    }
  }
  throw lastError;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0].slice(0, 200);
}
