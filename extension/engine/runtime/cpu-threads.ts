import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';

/**
 * Physical cores: distinct (package, core) pairs in Linux's sysfs CPU topology, at most the CPUs this process
 * may use; elsewhere, or when sysfs cannot be read, the CPUs this process may use. Hyperthreads of one core
 * share its FMA units, so GEMMs gain nothing from a thread per logical CPU.
 */
export function physicalCores(sysCpuDir = '/sys/devices/system/cpu', usable = availableParallelism()): number {
  try {
    const cpus = readdirSync(sysCpuDir).filter((n) => /^cpu\d+$/.test(n));
    const cores = new Set(cpus.map((c) => {
      const topology = join(sysCpuDir, c, 'topology');
      return `${readFileSync(join(topology, 'physical_package_id'), 'utf8').trim()}:${readFileSync(join(topology, 'core_id'), 'utf8').trim()}`;
    }));
    return cores.size > 0 ? Math.max(1, Math.min(cores.size, usable)) : usable;
  } catch {
    return usable;
  }
}

let cached: number | undefined;
const SPINNING = 'intra_op.allow_spinning';

/**
 * Session options with ORT's intra-op threads set to the physical core count, and the threads not spinning
 * while they wait for work, unless the caller chose either. ORT's own default used one thread on a 2-core
 * Linux VM (a [512 x 2304] x [2304 x 36864] MatMul ran at 102 GFLOP/s by default and 199 GFLOP/s with 2
 * threads; a one-token step at 11 vs 21). Spinning threads take cycles from everything else on the machine
 * (the editor, the other sessions) for no gain here: a 256-token analysis of the Gemma-2-2B-shaped pair took
 * 6.5-6.9 s with spinning and 6.4-6.6 s without, and the bench's GEMM probe beside it varied from 132 to 342
 * GFLOP/s with spinning threads, 262 to 337 without.
 */
export function withCpuThreads(options: ort.InferenceSession.SessionOptions): ort.InferenceSession.SessionOptions {
  cached ??= physicalCores();
  const extra = (options.extra ?? {}) as { session?: Record<string, unknown> };
  return {
    ...options,
    intraOpNumThreads: options.intraOpNumThreads ?? cached,
    extra: { ...extra, session: { [SPINNING]: '0', ...(extra.session ?? {}) } },
  };
}
