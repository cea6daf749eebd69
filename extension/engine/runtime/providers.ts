import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ProviderInUse, ProviderSetting } from '../types';
import { coreDirInUse } from './onnxruntime-core';
import { describeAdapter, isSoftwareAdapter, listWebGpuAdapters, preferredAdapter, probeWebGpu } from './webgpu-adapter';
import { withCpuThreads } from './cpu-threads';

/**
 * Execution-provider choice. ORT does not fall back by itself: a session asked for ['cuda', 'cpu'] throws
 * when the CUDA libraries are missing. So each candidate is tried alone, in order, and the first session
 * that creates is kept; the provider that worked is reported to the user, with why each earlier one was not.
 */
export function providerCandidates(setting: ProviderSetting): ProviderInUse[] {
  switch (setting) {
    case 'auto':
      return ['cuda', 'webgpu', 'cpu'];
    case 'cuda':
    case 'webgpu':
    case 'dml':
      return [setting, 'cpu'];
    default:
      return ['cpu'];
  }
}

const CUDA_LIBRARIES = process.platform === 'win32'
  ? ['onnxruntime_providers_shared.dll', 'onnxruntime_providers_cuda.dll']
  : ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

/**
 * Why a provider cannot be tried, as far as is known without ORT: the CUDA provider ships as separate
 * libraries that ORT loads from beside its core library, and DirectML exists only on Windows.
 */
function unavailable(provider: ProviderInUse): string | undefined {
  if (provider === 'cuda') {
    if (process.platform !== 'linux' && process.platform !== 'win32') return `cuda unavailable (no CUDA build of ONNX Runtime for ${process.platform})`;
    const dir = coreDirInUse();
    const missing = CUDA_LIBRARIES.filter((l) => !existsSync(join(dir, l)));
    if (missing.length) return `cuda unavailable (${missing.join(', ')} not beside the ONNX Runtime library in ${dir}; run "Latent Diff: Set Up CUDA..." or latent-diff setup-cuda)`;
  }
  if (provider === 'dml' && process.platform !== 'win32') return 'dml unavailable (DirectML is only in the Windows build of ONNX Runtime)';
  if (provider !== 'cpu' && !ort.listSupportedBackends().some((b) => b.name === provider)) return `${provider} unavailable (not in this platform's ONNX Runtime build)`;
  return undefined;
}

/** Under `auto`, WebGPU only on a hardware adapter: a software one (lavapipe, SwiftShader) is slower than the CPU. */
async function webGpuSkipped(setting: ProviderSetting): Promise<string | undefined> {
  if (setting !== 'auto') return undefined;
  const hw = await probeWebGpu(true);
  if (hw.works) return undefined;
  const software = (await listWebGpuAdapters()).filter(isSoftwareAdapter).map((a) => a.name);
  return software.length
    ? `webgpu skipped by auto (only a software adapter: ${software.join(', ')}, slower than the cpu; set the provider to webgpu to force it)`
    : `webgpu unavailable (${hw.problem ?? 'no adapter'})`;
}

/** The provider a setting will end up with as far as can be told before any session exists. */
export function expectedProvider(setting: ProviderSetting): ProviderInUse {
  // Whether auto gets a WebGPU adapter is only known after probing: until then, say cpu.
  return providerCandidates(setting).find((p) => !unavailable(p) && !(setting === 'auto' && p === 'webgpu')) ?? 'cpu';
}

export interface ProviderChoice {
  /** The provider sessions are created with, once the first session succeeded. */
  current?: ProviderInUse;
  /** Why each preferred provider was skipped, for the status bar and the CLI. */
  fallbackReason?: string;
  /** The WebGPU adapter, when the provider is webgpu (vendor, device, type, backend). */
  adapter?: string;
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
  const skipped: string[] = [];
  for (const provider of candidates) {
    const missing = choice.current ? undefined : unavailable(provider) ?? (provider === 'webgpu' ? await webGpuSkipped(setting) : undefined);
    if (missing) {
      skipped.push(missing);
      continue;
    }
    try {
      // A missing CUDA library is an expected outcome here, not an error worth ORT's own log line.
      const quiet = provider === 'cpu' ? {} : { logSeverityLevel: 4 as const };
      const opts: ort.InferenceSession.SessionOptions = withCpuThreads({ ...options, ...quiet, executionProviders: [provider] });
      const session = typeof source === 'string'
        ? await ort.InferenceSession.create(source, opts)
        : await ort.InferenceSession.create(source.bytes, { ...opts, ...(source.externalData ? { externalData: source.externalData } : {}) } as ort.InferenceSession.SessionOptions);
      if (skipped.length) choice.fallbackReason = `${skipped.join('; ')}; using ${provider}${choice.current ? ' for this model' : ''}`;
      if (!choice.current) {
        choice.current = provider;
        if (provider === 'webgpu') choice.adapter = describeAdapter(preferredAdapter((await probeWebGpu(setting === 'auto')).adapters));
      }
      return session;
    } catch (e) {
      lastError = e;
      if (provider !== 'cpu') skipped.push(`${provider} failed (${firstLine(e)})`);
    }
  }
  throw lastError;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0].slice(0, 200);
}
