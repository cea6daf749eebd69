/**
 * Checks on where results are to be written, made before any heavy work, so a wrong path is a clear error
 * naming it (not a crash after minutes of computing).
 */
import { statSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { LatentDiffError } from './errors';

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // ENOTDIR: a part of the path is a file, found on the way up
    throw new LatentDiffError(path, `cannot be used for output (${(e as NodeJS.ErrnoException).code ?? e})`, 'bad-output');
  }
}

/** `path` can become a file: it is not a folder, and its folder exists. */
export function checkOutputFile(path: string): void {
  const s = statOrUndefined(path);
  if (s && !s.isFile()) throw new LatentDiffError(path, `is ${s.isDirectory() ? 'a folder' : 'not a regular file'}: give the name of the file to write`, 'bad-output');
  const dir = dirname(path);
  const d = statOrUndefined(dir);
  if (!d) throw new LatentDiffError(path, `cannot be written: the folder ${dir} does not exist`, 'bad-output');
  if (!d.isDirectory()) throw new LatentDiffError(path, `cannot be written: ${dir} is a file, not a folder`, 'bad-output');
}

/** `path` is a folder or can be made one: the nearest part of it that exists is a folder. */
export function checkOutputFolder(path: string): void {
  for (let p = path; ; p = dirname(p)) {
    const s = statOrUndefined(p);
    if (s) {
      if (!s.isDirectory()) throw new LatentDiffError(path, p === path ? 'is a file, not a folder' : `cannot be made a folder: ${p} is a file`, 'bad-output');
      return;
    }
    if (dirname(p) === p) return;
  }
}
