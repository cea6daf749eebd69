/**
 * A digest of a file's whole content (every tensor byte), so that caches and annotations keyed by it can
 * never serve one checkpoint's results for another whose header, size and biases happen to match. Hashing
 * gigabytes takes seconds, so each digest is remembered in the cache folder by path, size, mtime and inode:
 * opening the same unchanged file again costs one stat.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LatentDiffError } from '../errors';

const MEMO_FILE = 'content-digests.json';
const CHUNK = 8 << 20;

interface MemoEntry {
  size: number;
  mtimeMs: number;
  ino: number;
  digest: string;
}

function readMemo(path: string): Record<string, MemoEntry> {
  try {
    const v: unknown = JSON.parse(readFileSync(path, 'utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, MemoEntry>) : {};
  } catch {
    return {}; // absent or damaged: digests are computed again
  }
}

function hashFile(file: string): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  const fd = openSync(file, 'r');
  try {
    for (let n; (n = readSync(fd, buf, 0, CHUNK, null)) > 0; ) h.update(buf.subarray(0, n));
  } catch (e) {
    throw new LatentDiffError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? e})`, 'unreadable');
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** sha256 of the file's bytes (hex), from the memo in `cacheDir` when the file is unchanged since. */
export function contentDigest(file: string, cacheDir: string): string {
  const path = resolve(file);
  const s = statSync(path);
  const memoPath = join(cacheDir, MEMO_FILE);
  const memo = readMemo(memoPath);
  const known = memo[path];
  if (known && known.size === s.size && known.mtimeMs === s.mtimeMs && known.ino === s.ino && typeof known.digest === 'string') return known.digest;
  const digest = hashFile(path);
  const after = statSync(path);
  if (after.size !== s.size || after.mtimeMs !== s.mtimeMs) throw new LatentDiffError(path, 'changed while it was being read; open it again once it is written', 'unreadable');
  try {
    mkdirSync(cacheDir, { recursive: true });
    const fresh = { ...readMemo(memoPath), [path]: { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, digest } };
    const tmp = `${memoPath}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(fresh));
    renameSync(tmp, memoPath);
  } catch {
    // a cache that cannot be written only costs the next open another hash
  }
  return digest;
}
