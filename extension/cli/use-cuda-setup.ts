/**
 * Imported first by the CLI entry: when `latent-diff setup-cuda` has installed the CUDA provider, ONNX
 * Runtime's core library must be the setup folder's copy, loaded before any module loads onnxruntime-node.
 */
import { defaultDataDir } from '../engine/paths';
import { useCudaSetup } from '../engine/runtime/cuda-setup';

const problem = useCudaSetup(defaultDataDir());
if (problem) process.stderr.write(`latent-diff: the CUDA setup is not used: ${problem}\n`);
