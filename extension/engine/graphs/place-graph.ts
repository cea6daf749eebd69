import { createHash } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/**
 * Where a built graph lives so ONNX Runtime can resolve its external data without copying weights.
 *
 * ORT only accepts external-data locations that resolve inside the model file's own directory (no
 * absolute paths, no "..", symlinks are resolved and rejected). So the .onnx file is written next to the
 * weight files it references. When that folder is read-only, it goes to a cache folder holding hard
 * links to the weight files (same file system, still no copy). If neither works, the caller gets the
 * bytes of the weight files to pass as `externalData` (a copy in memory, reported as such).
 */
export interface PlacedGraph {
  /** Path of the .onnx file to create the session from, or undefined when only in-memory loading works. */
  path?: string;
  bytes: Uint8Array;
  /** For in-memory loading: the weight files' contents by location name. */
  externalData?: { path: string; data: Uint8Array }[];
  placement: 'beside-weights' | 'cache-hardlinks' | 'in-memory-copy';
}

export function graphDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

function writeIfChanged(path: string, bytes: Uint8Array): void {
  if (existsSync(path) && statSync(path).size === bytes.length && Buffer.compare(readFileSync(path), bytes) === 0) return;
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/**
 * @param weightFiles absolute paths of every file the graph references by bare file name; all in one folder
 * @param name a short file-name stem saying what the graph is, e.g. "crosscoder-encode"
 */
export function placeGraph(bytes: Uint8Array, weightFiles: string[], name: string, cacheDir: string): PlacedGraph {
  const digest = graphDigest(bytes);
  const fileName = `.latent-diff-${name}-${digest}.onnx`;
  const dirs = new Set(weightFiles.map((f) => join(f, '..')));
  if (dirs.size > 1) throw new Error(`placeGraph: weight files must share one folder, got ${[...dirs].join(', ')}`);
  const weightsDir = weightFiles.length ? [...dirs][0] : cacheDir;
  try {
    const path = join(weightsDir, fileName);
    writeIfChanged(path, bytes);
    return { path, bytes, placement: 'beside-weights' };
  } catch {
    // read-only weights folder: fall through to the cache
  }
  try {
    const dir = join(cacheDir, `${name}-${digest}`);
    mkdirSync(dir, { recursive: true });
    for (const f of weightFiles) {
      const link = join(dir, basename(f));
      if (!existsSync(link)) linkSync(f, link);
    }
    const path = join(dir, fileName);
    writeIfChanged(path, bytes);
    return { path, bytes, placement: 'cache-hardlinks' };
  } catch {
    return {
      bytes,
      externalData: weightFiles.map((f) => ({ path: basename(f), data: readFileSync(f) })),
      placement: 'in-memory-copy',
    };
  }
}
