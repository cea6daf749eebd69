/**
 * Atomic replacement of a small file (temp file in the same folder, fsync, rename; written asynchronously so
 * the extension host's thread never waits on the disk), through symbolic links to their target.
 */
import { lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { LatentDiffError } from '../errors';

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

export async function writeFileAtomic(given: string, text: string): Promise<void> {
  const file = linkTarget(given);
  const tmp = tempPathFor(file);
  try {
    await mkdir(dirname(file), { recursive: true });
    const handle = await open(tmp, 'wx');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {
      // already renamed or never created
    });
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
