/**
 * The lock file `<annotations file>.lock` that serialises read-merge-write cycles between the processes
 * (VS Code windows) sharing an annotations file. Waiting for it never blocks the thread: it polls on a
 * timer, so the extension host keeps running while another window writes.
 *
 * When a lock is stale (see lock-file.ts for how it is broken):
 * - its owner is another process of this machine: stale as soon as that process no longer runs, never
 *   while it does, whatever the file's time says;
 * - its owner is on another machine, is this process (another store or thread), or it names none (an older
 *   version's lock): stale once older than `staleMs` by its modification time; a time in the future
 *   (another machine's clock, a touched file) cannot be trusted, so its age is counted from when this wait
 *   first saw that lock.
 * A wait longer than `waitMs` is refused as 'locked', naming the owner.
 */
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { LatentDiffError } from '../errors';
import { breakLockFile, createLockFile, ownerGone, readLockFile, releaseLockFile, type LockSnapshot } from '../lock-file';
import { linkTarget } from './atomic-file';

export interface LockTiming {
  /** Age after which a lock with no checkable owner is stale, ms. */
  staleMs: number;
  /** How long to wait for a live holder before refusing, ms (longer than staleMs). */
  waitMs: number;
}

/** A write holds the lock for milliseconds: seconds mean its process died or the lock is not ours. */
export const DEFAULT_LOCK_TIMING: LockTiming = { staleMs: 5_000, waitMs: 10_000 };
const POLL_MS = 10;

function isStale(seen: LockSnapshot, firstSeen: Map<string, number>, staleMs: number): boolean {
  const gone = ownerGone(seen);
  if (gone !== undefined) return gone;
  const now = Date.now();
  if (seen.mtimeMs <= now) return now - seen.mtimeMs > staleMs;
  const key = `${seen.ino}:${seen.mtimeMs}:${seen.text}`;
  const since = firstSeen.get(key) ?? performance.now();
  firstSeen.set(key, since);
  return performance.now() - since > staleMs;
}

/** Runs fn while holding `<file>.lock` (of the link's target when `given` is a link). */
export async function withFileLock<T>(given: string, fn: () => Promise<T>, timing: LockTiming = DEFAULT_LOCK_TIMING): Promise<T> {
  // Windows that reach the file through a link and those that name its target take the same lock.
  const file = linkTarget(given);
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true });
  const started = performance.now();
  const firstSeen = new Map<string, number>();
  for (;;) {
    const token = createLockFile(lock);
    if (token !== undefined) {
      try {
        return await fn();
      } finally {
        releaseLockFile(lock, token);
      }
    }
    const seen = readLockFile(lock);
    if (!seen) continue; // released between our attempt and the read
    if (isStale(seen, firstSeen, timing.staleMs)) {
      breakLockFile(lock, seen);
      continue;
    }
    if (performance.now() - started > timing.waitMs) {
      const owner = seen.owner ? `process ${seen.owner.pid} on ${seen.owner.host}` : 'an unknown process';
      throw new LatentDiffError(file, `another window is writing it (${owner} holds the lock file ${basename(lock)}); try again, or delete that file if no Latent Diff window is open`, 'locked');
    }
    await delay(POLL_MS + Math.random() * POLL_MS);
  }
}
