/**
 * Parquet datasets (such as the paper's lmsys-chat-1m-chat-formatted, whose `text` column is already rendered
 * with the chat template, BOS stripped) through hyparquet, a pure-JS reader: no native module, so it runs in
 * the CLI and in VS Code's extension host alike. Only one row group of one column is in memory at a time.
 */
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';
import { badRecord } from './bad-records';
import { textRecord, type DatasetReadOptions, type ReadRecord } from './records';

export async function* readParquetFile(file: string, opts: DatasetReadOptions): AsyncGenerator<ReadRecord> {
  const column = opts.textColumn ?? 'text';
  let metadata: FileMetaData;
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  checkRegularFile(file, 'dataset file');
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new LatentDiffError(file, `not a readable Parquet file (${(e as Error).message})`, 'bad-parquet');
  }
  const columns = metadata.schema.slice(1).map((s) => s.name);
  if (!columns.includes(column)) {
    throw new LatentDiffError(file, `has no column "${column}" (columns: ${columns.join(', ')}); name the text column with --text-column`, 'bad-parquet');
  }
  const element = metadata.schema.find((s, i) => i > 0 && s.name === column)!;
  if (element.type !== 'BYTE_ARRAY' || (element.converted_type !== undefined && element.converted_type !== 'UTF8' && element.converted_type !== 'JSON')) {
    const type = [element.type, element.converted_type ?? element.logical_type?.type].filter(Boolean).join(' ');
    throw new LatentDiffError(file, `column "${column}" holds ${type || 'nested values'}, not text; name the text column with --text-column`, 'bad-parquet');
  }
  const total = Number(metadata.num_rows);
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupEnd = groupStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, columns: [column], rowStart: groupStart, rowEnd: groupEnd, compressors });
    } catch (e) {
      throw new LatentDiffError(file, `cannot read rows ${groupStart + 1}..${groupEnd} (${(e as Error).message})`, 'bad-parquet');
    }
    for (let i = 0; i < rows.length; i++) {
      const row = groupStart + i + 1;
      const text = rows[i][column];
      if (typeof text !== 'string') badRecord(opts, { file, line: row, problem: `row ${row}: column "${column}" is ${text === null || text === undefined ? 'null' : typeof text}, not text` });
      else yield { record: textRecord(text, file, row), fileFraction: total ? row / total : 1 };
    }
    groupStart = groupEnd;
  }
}
