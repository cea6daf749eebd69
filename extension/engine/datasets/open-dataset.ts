/**
 * Streams the records of dataset files in the order given, numbering them globally. The format follows
 * the file name: .parquet, .jsonl/.json (one JSON object per line), anything else plain text.
 */
import { readJsonlFile } from './jsonl-file';
import { readParquetFile } from './parquet-file';
import type { DatasetReadOptions, DatasetRecord } from './records';
import { readTextFile } from './text-file';

export interface IndexedRecord {
  /** 0-based index over all good records of all files. */
  index: number;
  record: DatasetRecord;
  /** Progress over the files, 0..1 (files weigh equally). */
  fraction: number;
}

export function datasetFormat(file: string): 'parquet' | 'jsonl' | 'text' {
  const lower = file.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.jsonl') || lower.endsWith('.json') || lower.endsWith('.ndjson')) return 'jsonl';
  return 'text';
}

export async function* readDatasets(files: readonly string[], opts: DatasetReadOptions = {}): AsyncGenerator<IndexedRecord> {
  let index = 0;
  for (let f = 0; f < files.length; f++) {
    const file = files[f];
    const format = datasetFormat(file);
    const records = format === 'parquet' ? readParquetFile(file, opts) : format === 'jsonl' ? readJsonlFile(file, opts) : readTextFile(file, opts);
    for await (const { record, fileFraction } of records) {
      yield { index: index++, record, fraction: (f + fileFraction) / files.length };
    }
  }
}
