/**
 * One statistics run (or merge) at a time per output folder: two runs writing the same folder would both
 * report success while only one's files remain. The lock file holds the owner's pid and host; a lock whose
 * process is gone (killed run, same host) is stale and is broken by renaming it away, so two processes that
 * find it stale at once cannot both take the folder. Whoever takes the lock removes a killed run's temporary files.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../errors';
import { breakLockFile, createLockFile, ownerGone, readLockFile, releaseLockFile } from '../../lock-file';

const LOCK_FILE = 'stats.lock';

/** Temporary files (`NAME.tmp-PID`) of a run that was killed mid-write: with the lock held, no one else is writing them. */
function removeLeftovers(out: string): void {
  for (const dir of [out, join(out, 'state')]) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) if (/\.tmp-\d+(-\d+)?$/.test(name)) rmSync(join(dir, name), { force: true });
  }
}

/** Takes the folder's lock (creating the folder) and returns its release; refuses while another run holds it. */
export function lockOutputFolder(out: string): () => void {
  mkdirSync(out, { recursive: true });
  const lock = join(out, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    const token = createLockFile(lock);
    if (token !== undefined) {
      removeLeftovers(out);
      return () => releaseLockFile(lock, token);
    }
    const seen = readLockFile(lock);
    if (!seen) continue; // released meanwhile
    if (ownerGone(seen) !== true || attempt > 3) {
      throw new LatentDiffError(out, `another statistics run (process ${seen.owner?.pid ?? '?'} on ${seen.owner?.host ?? 'an unknown host'}) is writing this folder; wait for it, or delete ${lock} if that run is gone`, 'locked');
    }
    breakLockFile(lock, seen); // if another process broke it first, the next attempt sees who holds it now
  }
}
