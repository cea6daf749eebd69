import { badRecord } from './bad-records';
import { MAX_LINE_CHARS, overLimitProblem, readLines } from './line-reader';
import { textRecord, type DatasetReadOptions, type ReadRecord } from './records';

/**
 * A plain text file: one record per paragraph (paragraphs are separated by blank lines), line = its first
 * line. A paragraph longer than MAX_LINE_CHARS is a bad record, dropped as it streams past.
 */
export async function* readTextFile(file: string, opts: DatasetReadOptions = {}): AsyncGenerator<ReadRecord> {
  let buf: string[] = [];
  let length = 0;
  let tooLong = false;
  let first = 0;
  let fraction = 0;
  const paragraph = (f: number): ReadRecord | undefined => {
    const out = tooLong ? undefined : buf.length ? { record: textRecord(buf.join('\n'), file, first), fileFraction: f } : undefined;
    if (tooLong) badRecord(opts, { file, line: first, problem: overLimitProblem() });
    buf = [];
    length = 0;
    tooLong = false;
    return out;
  };
  for await (const { line, lineNo, fraction: f, overLimit } of readLines(file)) {
    if (!overLimit && line.trim() === '') {
      const r = paragraph(fraction);
      if (r) yield r;
      continue;
    }
    if (!buf.length && !tooLong) first = lineNo;
    fraction = f;
    if (tooLong) continue;
    if (overLimit || length + line.length > MAX_LINE_CHARS) {
      tooLong = true;
      buf = [];
      continue;
    }
    buf.push(line);
    length += line.length + 1;
  }
  const r = paragraph(1);
  if (r) yield r;
}
