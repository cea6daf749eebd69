/** `latent-diff setup-cuda [--from PATH] [--download] [--into DIR] [--json]` (engine: runtime/cuda-setup.ts). */
import { resolve } from 'node:path';
import { LatentDiffError } from '../engine/errors';
import { defaultDataDir } from '../engine/paths';
import { cudaSetupDir, cudaSetupSummary, PACKAGE_ID, setupCuda } from '../engine/runtime/cuda-setup';
import { parseArgs, UsageError } from './args';

export const SETUP_CUDA_USAGE = `latent-diff setup-cuda [--from PATH | --download] [--into DIR] [--json]
  Installs ONNX Runtime's CUDA provider libraries for the onnxruntime-node version in use (Linux x64).
  --from PATH       the ${PACKAGE_ID} package file (.nupkg) of the same version, or a folder
                    holding libonnxruntime_providers_{shared,cuda}.so (or that package unpacked)
  --download        run onnxruntime-node's own CUDA installer, which downloads that package
  --into DIR        storage folder (default: ${defaultDataDir()}); for the extension give its global
                    storage, e.g. ~/.config/Code/User/globalStorage/latent-diff.latent-diff
  --json            print one JSON object`;

export async function runSetupCuda(argv: string[], out: (s: string) => void, onProgress: (s: string) => void): Promise<number> {
  const args = parseArgs(argv, { from: 'string', download: 'bool', into: 'string', json: 'bool' });
  if (args.positional.length) throw new UsageError(`setup-cuda takes no positional arguments, got "${args.positional[0]}"`);
  const from = args.flags.get('from')?.[0];
  if (from && args.flags.has('download')) throw new UsageError('--from and --download cannot be used together');
  if (!from && !args.flags.has('download')) {
    throw new LatentDiffError(undefined, `give --from PATH (the ${PACKAGE_ID} package or a folder of its libraries), or --download to let onnxruntime-node's installer download it`, 'consent-needed');
  }
  const result = await setupCuda({
    into: cudaSetupDir(resolve(args.flags.get('into')?.[0] ?? defaultDataDir())),
    ...(from ? { from: resolve(from) } : {}),
    consent: args.flags.has('download'),
    onProgress,
  });
  out(args.flags.has('json') ? JSON.stringify(result) + '\n' : cudaSetupSummary(result).join('\n') + '\n');
  return 0;
}
