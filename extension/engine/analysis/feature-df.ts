/**
 * feature_df.csv (method.md 7): the per-latent table, as the paper publishes it
 * (`science-of-finetuning/diffing-stats-*`, read with pandas `index_col=0` = latent id) and as we write it.
 *
 * Writing: pandas-compatible CSV (first column = latent id, NaN as an empty field, booleans True/False,
 * numbers in shortest round-trip form), written to a temporary file and renamed.
 * Reading: any such file. Delta-norm comes from `delta_norm` (paper convention, ours) when present, else
 * from the code's `dec_norm_diff` (= 1 - Delta-norm): the convention is detected by column name.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';
import { parseCsv } from '../csv';

export type FeatureColumn =
  | { name: string; kind: 'number'; values: ArrayLike<number> }
  | { name: string; kind: 'string'; values: readonly string[] }
  | { name: string; kind: 'boolean'; values: readonly (boolean | undefined)[] };

export function formatNumber(x: number): string {
  if (Number.isNaN(x)) return '';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return String(x);
}

function quote(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function featureDfText(latents: ArrayLike<number>, columns: readonly FeatureColumn[], indexName = 'latent'): string {
  const lines: string[] = [[indexName, ...columns.map((c) => c.name)].map(quote).join(',')];
  for (let r = 0; r < latents.length; r++) {
    const cells = [String(latents[r])];
    for (const c of columns) {
      if (c.kind === 'number') cells.push(formatNumber(c.values[r]));
      else if (c.kind === 'string') cells.push(quote(c.values[r]));
      else cells.push(c.values[r] === undefined ? '' : c.values[r] ? 'True' : 'False');
    }
    lines.push(cells.join(','));
  }
  return lines.join('\n') + '\n';
}

export function writeFeatureDf(path: string, latents: ArrayLike<number>, columns: readonly FeatureColumn[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, featureDfText(latents, columns));
  renameSync(tmp, path);
}

/** RFC 4180 records (quoted fields may hold commas, quotes and newlines). */
const NUMBER_WORDS: Record<string, number> = { '': NaN, nan: NaN, NaN: NaN, inf: Infinity, '-inf': -Infinity, True: 1, False: 0 };

function toNumber(s: string): number | undefined {
  if (s in NUMBER_WORDS) return NUMBER_WORDS[s];
  const t = s.trim();
  if (t === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

export interface FeatureDf {
  file: string;
  /** Latent id of each row. */
  latents: Int32Array;
  /** Numeric columns (True/False read as 1/0, empty as NaN). */
  numbers: Map<string, Float64Array>;
  /** Columns that are not numeric (tag, verdict, ...). */
  strings: Map<string, string[]>;
  /** Which Delta-norm convention the file carries: 'paper' (delta_norm) or 'code' (dec_norm_diff). */
  convention: 'paper' | 'code' | undefined;
  /** Delta-norm in the PAPER convention (1 = chat-only), per row; undefined when the file has neither column. */
  deltaNorm: Float64Array | undefined;
}

export function readFeatureDf(path: string): FeatureDf {
  checkRegularFile(path, 'statistics table');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LatentDiffError(path, `cannot read the statistics table (${(e as NodeJS.ErrnoException).code ?? e})`, 'not-found');
  }
  const rows = parseCsv(text, path);
  if (rows.length < 1) throw new LatentDiffError(path, 'the statistics table is empty', 'bad-csv');
  const header = rows[0];
  const body = rows.slice(1);
  const latents = new Int32Array(body.length);
  const rowOf = new Map<number, number>();
  body.forEach((r, i) => {
    if (r.length !== header.length) throw new LatentDiffError(path, `row ${i + 2} has ${r.length} fields, the header has ${header.length}`, 'bad-csv');
    const id = Number(r[0]);
    if (!Number.isInteger(id) || id < 0) throw new LatentDiffError(path, `row ${i + 2}: the first column must be the latent id, got ${JSON.stringify(r[0])}`, 'bad-csv');
    if (rowOf.has(id)) throw new LatentDiffError(path, `row ${i + 2}: latent ${id} appears twice (also on row ${rowOf.get(id)})`, 'bad-csv');
    rowOf.set(id, i + 2);
    latents[i] = id;
  });
  const numbers = new Map<string, Float64Array>();
  const strings = new Map<string, string[]>();
  for (let c = 1; c < header.length; c++) {
    const values = new Float64Array(body.length);
    let numeric = true;
    for (let r = 0; r < body.length && numeric; r++) {
      const v = toNumber(body[r][c]);
      if (v === undefined) numeric = false;
      else values[r] = v;
    }
    if (numeric) numbers.set(header[c], values);
    else strings.set(header[c], body.map((r) => r[c]));
  }
  let convention: FeatureDf['convention'];
  let deltaNorm: Float64Array | undefined;
  if (numbers.has('delta_norm')) {
    convention = 'paper';
    deltaNorm = numbers.get('delta_norm');
  } else if (numbers.has('dec_norm_diff')) {
    convention = 'code';
    deltaNorm = numbers.get('dec_norm_diff')!.map((v) => 1 - v);
  }
  return { file: path, latents, numbers, strings, convention, deltaNorm };
}
