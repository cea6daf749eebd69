import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';

/** Streams the lines of a UTF-8 text file (CRLF or LF, a leading BOM dropped), with 1-based line numbers and the bytes read so far. */
export async function* readLines(file: string): AsyncGenerator<{ line: string; lineNo: number; fraction: number }> {
  checkRegularFile(file, 'dataset file');
  const size = statSync(file).size;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      // A byte-order mark is no part of the first record.
      yield { line: lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line, lineNo, fraction: size ? Math.min(1, stream.bytesRead / size) : 1 };
    }
  } catch (e) {
    throw new LatentDiffError(file, `cannot read dataset file (${(e as Error).message})`, 'unreadable');
  } finally {
    lines.close();
    stream.destroy();
  }
}
