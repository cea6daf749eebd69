/** RFC 4180 CSV: fields with commas, quotes or line breaks are quoted, quotes doubled. */
import { LatentDiffError } from './errors';

function csvField(value: string): string {
  return /[",\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

export function writeCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** Parses CSV text into rows of fields. Accepts CRLF, LF or CR line ends and a leading byte-order mark. */
export function parseCsv(text: string, file: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let quoted = false;
  let quoteLine = 0;
  const endRow = () => {
    row.push(field);
    field = '';
    if (!(row.length === 1 && row[0] === '')) rows.push(row);
    row = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        const next = text[i + 1];
        if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
          throw new LatentDiffError(file, `line ${line}: unexpected ${JSON.stringify(next)} after a closing quote`);
        }
      } else {
        if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) line++;
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"') {
      if (field !== '') throw new LatentDiffError(file, `line ${line}: a quote inside an unquoted field (quote the whole field and double the quote)`);
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRow();
      line++;
    } else {
      field += c;
    }
    i++;
  }
  if (quoted) throw new LatentDiffError(file, `line ${quoteLine}: a quoted field is never closed`);
  if (field !== '' || row.length > 0) endRow();
  return rows;
}
