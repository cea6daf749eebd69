import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SafetensorsFile } from '../../bundle/safetensors';

/**
 * A key for "the same weights": each file's path, size, modification time and a digest of its header
 * (tensor names, dtypes, shapes, offsets), plus the text of config.json and whatever else shapes the graph.
 * Re-downloaded or edited weights get a new key, so a stale graph (wrong offsets) is never reused.
 */
export function weightsIdentity(shards: SafetensorsFile[], configText: string, extra: Record<string, unknown>): string {
  const h = createHash('sha256');
  h.update(configText);
  h.update(JSON.stringify(extra));
  for (const s of [...shards].sort((a, b) => a.path.localeCompare(b.path))) {
    const st = statSync(s.path);
    h.update(`${s.path}\0${st.size}\0${st.mtimeMs}\0`);
    for (const t of s.tensors.values()) h.update(`${t.name}\0${t.dtype}\0${t.shape.join(',')}\0${t.offset}\0${t.byteLength}\0`);
  }
  return h.digest('hex').slice(0, 24);
}

/** What a cache entry records: where the placed graph is, plus any small facts the caller wants back. */
export interface GraphCacheEntry<M> {
  path: string;
  meta: M;
}

/** A folder of small JSON records key -> placed .onnx path; an entry whose .onnx has gone is a miss. */
export class GraphCache<M> {
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `graph-${key}.json`);
  }

  get(key: string): GraphCacheEntry<M> | undefined {
    const f = this.file(key);
    if (!existsSync(f)) return undefined;
    try {
      const entry = JSON.parse(readFileSync(f, 'utf8')) as GraphCacheEntry<M>;
      return typeof entry.path === 'string' && existsSync(entry.path) ? entry : undefined;
    } catch {
      return undefined; // a damaged record is rebuilt
    }
  }

  set(key: string, entry: GraphCacheEntry<M>): void {
    mkdirSync(this.dir, { recursive: true });
    const f = this.file(key);
    const tmp = `${f}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(entry));
    renameSync(tmp, f);
  }
}
