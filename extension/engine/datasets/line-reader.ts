import { createReadStream, statSync } from 'node:fs';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';

/**
 * Longest line kept, in UTF-16 code units. A longer line (one record of tens of megabytes) is skipped as it
 * streams past, never held whole: memory stays bounded whatever the file holds.
 */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

export interface Line {
  /** The text, without its line end; '' when `overLimit`. */
  line: string;
  lineNo: number;
  /** Bytes read so far / file size. */
  fraction: number;
  /** The line is longer than MAX_LINE_CHARS and was not kept. */
  overLimit: boolean;
}

/** Streams the lines of a UTF-8 text file (CRLF or LF, a leading BOM dropped), with 1-based line numbers and the bytes read so far. */
export async function* readLines(file: string, maxChars = MAX_LINE_CHARS): AsyncGenerator<Line> {
  checkRegularFile(file, 'dataset file');
  const size = statSync(file).size;
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let parts: string[] = [];
  let length = 0;
  let overLimit = false;
  let lineNo = 0;
  const finish = (): Line => {
    lineNo++;
    let line = overLimit ? '' : parts.join('');
    if (line.endsWith('\r')) line = line.slice(0, -1);
    // A byte-order mark is no part of the first record.
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    const out = { line, lineNo, fraction: size ? Math.min(1, stream.bytesRead / size) : 1, overLimit };
    parts = [];
    length = 0;
    overLimit = false;
    return out;
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      for (let start = 0; ; ) {
        const nl = chunk.indexOf('\n', start);
        const piece = nl < 0 ? chunk.slice(start) : chunk.slice(start, nl);
        if (!overLimit) {
          if (length + piece.length > maxChars) {
            overLimit = true;
            parts = [];
          } else {
            parts.push(piece);
            length += piece.length;
          }
        }
        if (nl < 0) break;
        yield finish();
        start = nl + 1;
      }
    }
    if (length > 0 || overLimit) yield finish();
  } catch (e) {
    throw new LatentDiffError(file, `cannot read dataset file (${(e as Error).message})`, 'unreadable');
  } finally {
    stream.destroy();
  }
}

/** What a bad-record report says about a line over the limit. */
export function overLimitProblem(maxChars = MAX_LINE_CHARS): string {
  return `the line is longer than ${maxChars / (1024 * 1024)} M characters: a record this long is not read (split it)`;
}
