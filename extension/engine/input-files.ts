/**
 * Checks shared by every reader of user files. A named pipe or a device given where a file belongs would
 * block the reader forever (on the extension host thread too), so only regular files are opened; and an
 * error about a file's content never quotes the content (it may be anything, secrets included).
 */
import { statSync, type Stats } from 'node:fs';
import { LatentDiffError } from './errors';

function kindOf(s: Stats): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a named pipe';
  if (s.isCharacterDevice() || s.isBlockDevice()) return 'a device';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Throws a LatentDiffError naming `path` unless it is a regular file (symbolic links are followed). */
export function checkRegularFile(path: string, what = 'file'): void {
  let s: Stats;
  try {
    s = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LatentDiffError(path, code === 'ENOENT' ? `${what} not found` : `cannot read ${what} (${code ?? e})`, 'not-found');
  }
  if (!s.isFile()) throw new LatentDiffError(path, `${what} is ${kindOf(s)}, not a regular file`, 'not-regular-file');
}

/** What is wrong with text that JSON.parse refused, with the place but without quoting any of the text. */
export function jsonSyntaxProblem(e: unknown, text: string): string {
  const message = e instanceof Error ? e.message : String(e);
  const at = /at position (\d+)/.exec(message);
  let what = message
    .replace(/, ".*" is not valid JSON$/s, '')
    .replace(/^Unexpected token .*$/s, 'Unexpected character')
    .replace(/ in JSON at position \d+.*$/s, '')
    .replace(/ \(line \d+ column \d+\)$/, '');
  if (what === message && !at && !/^Unexpected end of JSON input$/.test(message)) what = 'invalid syntax';
  if (!at) return what;
  const before = text.slice(0, Number(at[1]));
  const line = before.split('\n').length;
  return `${what} at line ${line}, column ${before.length - before.lastIndexOf('\n')}`;
}
