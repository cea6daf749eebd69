/**
 * Atomic replacement of a small file (temp file in the same folder, fsync, rename) and a lock file that
 * serialises read-merge-write cycles between processes (VS Code windows) sharing the file.
 */
import { closeSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readlinkSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { LatentDiffError } from '../errors';

/** A lock older than this was left by a process that died mid-write. */
const STALE_LOCK_MS = 10_000;
const LOCK_WAIT_MS = 3_000;

export function tempPathFor(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * The file a path finally names: a symbolic link (a chain of them, dangling or not) is followed, so the
 * target is what gets replaced (a rename onto the link itself would turn it into a regular file).
 */
export function linkTarget(file: string): string {
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    let stats;
    try {
      stats = lstatSync(path);
    } catch {
      return path;
    }
    if (!stats.isSymbolicLink()) return path;
    path = resolve(dirname(path), readlinkSync(path));
  }
  throw new LatentDiffError(file, 'too many levels of symbolic links', 'write-failed');
}

export function writeFileAtomic(given: string, text: string): void {
  const file = linkTarget(given);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw new LatentDiffError(file, `cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'write-failed');
  }
}

/** The file's text, or undefined when it does not exist. */
export function readTextIfExists(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) throw new LatentDiffError(file, 'is not a regular file (a folder, named pipe or device)', 'not-regular-file');
    return readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof LatentDiffError) throw e;
    throw new LatentDiffError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'read-failed');
  }
}

/**
 * Moves a stale lock aside by renaming (atomic: of two breakers only one gets it). If what was moved is not
 * the lock judged stale (its owner released it and another took a fresh one meanwhile), it is put back.
 */
function breakStaleLock(lock: string, staleIno: number): void {
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // another process broke it first
  }
  try {
    if (statSync(aside).ino !== staleIno) linkSync(aside, lock);
  } catch {
    // a newer lock exists again: the fresh one we moved is superseded, its owner's release is a no-op
  } finally {
    unlinkSync(aside);
  }
}

function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs fn while holding `<file>.lock`. Waits (briefly, synchronously) for another holder; breaks stale locks. */
export function withFileLock<T>(given: string, fn: () => T): T {
  // Windows that reach the file through a link and those that name its target take the same lock.
  const file = linkTarget(given);
  const lock = `${file}.lock`;
  mkdirSync(dirname(file), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LatentDiffError(file, `cannot create the lock file ${basename(lock)} (${(e as NodeJS.ErrnoException).code})`, 'write-failed');
      }
    }
    let seen;
    try {
      seen = statSync(lock);
    } catch {
      continue; // released between our attempt and the stat
    }
    // A time far in the future (another machine's clock, a touched file) is as untrustworthy as an old one.
    if (Math.abs(Date.now() - seen.mtimeMs) > STALE_LOCK_MS) {
      breakStaleLock(lock, seen.ino);
      continue;
    }
    if (Date.now() > deadline) {
      throw new LatentDiffError(file, `another window is writing it (lock file ${basename(lock)}); try again`, 'locked');
    }
    blockFor(5);
  }
  try {
    return fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // removed as stale by another process: nothing to release
    }
  }
}
