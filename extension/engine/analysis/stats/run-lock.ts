/**
 * One statistics run (or merge) at a time per output folder: two runs writing the same folder would both
 * report success while only one's files remain. The lock file holds the owner's pid and host; a lock whose
 * process is gone (killed run, same host) is stale and is broken by renaming it away, so two processes that
 * find it stale at once cannot both take the folder. Whoever takes the lock removes a killed run's temporary files.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LatentDiffError } from '../../errors';

const LOCK_FILE = 'stats.lock';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

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
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid} ${hostname()}\n`);
      closeSync(fd);
      removeLeftovers(out);
      return () => rmSync(lock, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new LatentDiffError(lock, `cannot create the lock file (${(e as NodeJS.ErrnoException).code ?? e})`, 'write-failed');
    }
    let owner = '';
    try {
      owner = readFileSync(lock, 'utf8').trim();
    } catch {
      continue; // released meanwhile
    }
    const [pidText, host] = owner.split(' ');
    const pid = Number(pidText);
    const stale = host === hostname() && Number.isInteger(pid) && pid > 0 && !processAlive(pid);
    if (!stale || attempt > 3) {
      throw new LatentDiffError(out, `another statistics run (process ${pidText || '?'} on ${host || 'an unknown host'}) is writing this folder; wait for it, or delete ${lock} if that run is gone`, 'locked');
    }
    try {
      const aside = `${lock}.stale-${process.pid}`;
      renameSync(lock, aside);
      rmSync(aside, { force: true });
    } catch {
      // another process broke it first; try again
    }
  }
}
