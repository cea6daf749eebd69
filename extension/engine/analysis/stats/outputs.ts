/** The final files of a complete run (or merge): feature_df.csv from the scan, examples.db from the examples. */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeExamplesDb, type ExampleRow } from '../examples-db';
import { writeFeatureDf } from '../feature-df';
import type { VerdictThresholds } from '../../latents/verdict';
import { BIN_COUNT, type ExamplesState } from './examples-sampler';
import { featureColumns } from './feature-table';
import type { ScanArrays } from './scan-accumulator';
import type { StaticState } from './static-state';

export const FEATURE_DF = 'feature_df.csv';
export const EXAMPLES_DB = 'examples.db';
/** What produced feature_df.csv that the table itself cannot say (pandas reads the CSV unchanged). */
export const FEATURE_DF_META = 'feature_df.meta.json';

export interface FeatureTableMeta {
  /** paper:N, chat-only, top:N or all (error-latents.ts). */
  errorLatents: string;
  /** Seed of the shared baseline. */
  seed: number;
  thresholds: VerdictThresholds;
  tokens: number | null;
}

export function writeFeatureTable(out: string, stat: StaticState, scan: ScanArrays, meta: FeatureTableMeta): string {
  const path = join(out, FEATURE_DF);
  const D = stat.metrics.dictSize;
  writeFeatureDf(path, Int32Array.from({ length: D }, (_, j) => j), featureColumns(stat.metrics, stat.geo, scan, stat.errorSet, meta.thresholds));
  const count = (code: number) => stat.errorSet.reduce((c, v) => c + (v === code ? 1 : 0), 0);
  const errorSet = { chatLeaning: count(1), sharedBaseline: count(2), all: count(3) };
  const metaPath = join(out, FEATURE_DF_META);
  writeFileSync(`${metaPath}.tmp-${process.pid}`, JSON.stringify({ ...meta, errorSet }, null, 2) + '\n');
  renameSync(`${metaPath}.tmp-${process.pid}`, metaPath);
  return path;
}

/** Rows in a fixed order (latent, bin, activation descending, sequence), so equal states give equal files. */
export function exampleRows(st: ExamplesState): ExampleRow[] {
  const rows: ExampleRow[] = [];
  for (const [slot, list] of st.slots) {
    for (const c of list) {
      rows.push({
        latent: Math.floor(slot / BIN_COUNT), quantile: slot % BIN_COUNT, activation: c.v,
        sequenceIdx: st.sequences.get(c.key)!.index, positions: c.positions, values: c.values,
      });
    }
  }
  return rows.sort((a, b) => a.latent - b.latent || a.quantile - b.quantile || b.activation - a.activation || a.sequenceIdx - b.sequenceIdx);
}

export function writeExamples(out: string, st: ExamplesState): string {
  const path = join(out, EXAMPLES_DB);
  const sequences = [...st.sequences.values()].sort((a, b) => a.index - b.index);
  writeExamplesDb(path, sequences, exampleRows(st));
  return path;
}
