/**
 * Lock files shared by processes (VS Code windows, CLI runs): created exclusively, holding the owner's
 * `pid host token`, so a waiter can tell a lock whose process is gone (a killed run, a crashed window) and
 * break it. Breaking renames the lock to a unique name and then checks that what it moved is the lock it
 * judged stale: of several breakers only one can move a given lock, and one that moved a fresh lock by
 * mistake (the stale one was broken and retaken between its check and its rename) puts it back. Nothing
 * is ever judged by a stat and then unlinked by path. What remains: if a third process takes the path in
 * the microseconds between that mistaken rename and the put-back, two processes hold the lock at once; that
 * needs three processes racing on a stale lock within the same few microseconds.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LatentDiffError } from './errors';

export interface LockOwner {
  pid: number;
  host: string;
  /** Unique per lock taken ('' in a lock written by hand or by an older version). */
  token: string;
}

/** One lock file as seen at one moment; two snapshots of the same lock compare equal with sameLock. */
export interface LockSnapshot {
  ino: number;
  mtimeMs: number;
  text: string;
  /** Undefined when the file does not say who owns it (empty: an older version's lock, or one being written). */
  owner: LockOwner | undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function parseOwner(text: string): LockOwner | undefined {
  const [pidText, host, token = ''] = text.trim().split(' ');
  const pid = Number(pidText);
  return Number.isSafeInteger(pid) && pid > 0 && host ? { pid, host, token } : undefined;
}

/** Creates the lock and returns its token, or undefined when it exists already. */
export function createLockFile(lock: string): string | undefined {
  const token = randomBytes(8).toString('hex');
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw new LatentDiffError(lock, `cannot create the lock file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'write-failed');
  }
  try {
    writeSync(fd, `${process.pid} ${hostname()} ${token}\n`);
  } finally {
    closeSync(fd);
  }
  return token;
}

/** Removes the lock if it is still the one taken with `token` (one broken as stale meanwhile is left alone). */
export function releaseLockFile(lock: string, token: string): void {
  if (readLockFile(lock)?.owner?.token !== token) return;
  try {
    unlinkSync(lock);
  } catch {
    // gone already
  }
}

/** The lock as it is now, or undefined when there is none. */
export function readLockFile(lock: string): LockSnapshot | undefined {
  try {
    const { ino, mtimeMs } = statSync(lock);
    const text = readFileSync(lock, 'utf8');
    return { ino, mtimeMs, text, owner: parseOwner(text) };
  } catch {
    return undefined; // released between the stat and the read, or before
  }
}

export function sameLock(a: LockSnapshot, b: LockSnapshot): boolean {
  return a.ino === b.ino && a.mtimeMs === b.mtimeMs && a.text === b.text;
}

/**
 * Whether the lock's owner is gone: true for a process of this machine that no longer runs, false for one
 * that runs. Undefined (cannot tell) for an owner on another machine, a lock that names none, and one that
 * names our own pid (another thread of this process holds it, or an earlier process had our pid).
 */
export function ownerGone(seen: LockSnapshot): boolean | undefined {
  const owner = seen.owner;
  if (!owner || owner.host !== hostname() || owner.pid === process.pid) return undefined;
  return !processAlive(owner.pid);
}

/** Breaks the lock judged stale in `judged`; returns whether it was that lock which this call removed. */
export function breakLockFile(lock: string, judged: LockSnapshot): boolean {
  const current = readLockFile(lock);
  if (!current || !sameLock(current, judged)) return false; // broken and perhaps retaken already
  const aside = `${lock}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    renameSync(lock, aside);
  } catch {
    return false; // another breaker (or its owner) removed it first
  }
  const moved = readLockFile(aside);
  if (moved && !sameLock(moved, judged)) {
    try {
      linkSync(aside, lock); // a fresh lock taken meanwhile: give it back to its owner
    } catch {
      // the path was taken again in between: the fresh lock's owner finds it gone at release
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // nothing to clean
  }
  return moved !== undefined && sameLock(moved, judged);
}
