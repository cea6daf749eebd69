import type { ProviderSetting } from '../types';

/** The providers a setting may name on a platform (DirectML is only in the Windows build of ONNX Runtime). */
export function providerSettings(platform = process.platform): ProviderSetting[] {
  return platform === 'win32' ? ['auto', 'cpu', 'cuda', 'webgpu', 'dml'] : ['auto', 'cpu', 'cuda', 'webgpu'];
}

/** The providers that run on a GPU: when one of them was asked for and not used, the user is told. */
export const GPU_PROVIDERS: readonly ProviderSetting[] = ['cuda', 'webgpu', 'dml'];
