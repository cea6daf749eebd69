import { readLines } from './line-reader';
import { textRecord, type ReadRecord } from './records';

/** A plain text file: one record per paragraph (paragraphs are separated by blank lines), line = its first line. */
export async function* readTextFile(file: string): AsyncGenerator<ReadRecord> {
  let buf: string[] = [];
  let first = 0;
  let fraction = 0;
  for await (const { line, lineNo, fraction: f } of readLines(file)) {
    if (line.trim() === '') {
      if (buf.length) yield { record: textRecord(buf.join('\n'), file, first), fileFraction: fraction };
      buf = [];
      continue;
    }
    if (!buf.length) first = lineNo;
    buf.push(line);
    fraction = f;
  }
  if (buf.length) yield { record: textRecord(buf.join('\n'), file, first), fileFraction: 1 };
}
