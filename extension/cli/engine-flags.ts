/** The flags of every command that runs the models: which ONNX Runtime provider, and how many CPU threads. */
import { providerSettings } from '../engine/runtime/provider-settings';
import type { ProviderSetting } from '../engine/types';
import { intFlag, UsageError, type ParsedArgs } from './args';

export const ENGINE_FLAGS = { provider: 'string', threads: 'string' } as const;

/** Their usage lines, each flag padded to `width` characters. */
export function engineUsage(width: number): string {
  return [
    `  ${'--provider P'.padEnd(width)}${providerSettings().join(' | ')} (default auto)`,
    `  ${'--threads N'.padEnd(width)}CPU threads per ONNX Runtime session (default: one per physical core)`,
  ].join('\n');
}

export function engineOptions(args: ParsedArgs): { provider: ProviderSetting; cpuThreads?: number } {
  const provider = (args.flags.get('provider')?.[0] ?? 'auto') as ProviderSetting;
  if (!providerSettings().includes(provider)) throw new UsageError(`--provider must be one of ${providerSettings().join(', ')}; got "${provider}"`);
  const cpuThreads = intFlag(args, 'threads', 1);
  return cpuThreads === undefined ? { provider } : { provider, cpuThreads };
}
