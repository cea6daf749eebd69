/**
 * examples.db: the paper's max-activating examples in its SQLite schema (method.md 5.3), so its published
 * files and ours are interchangeable:
 *   sequences(sequence_idx INTEGER PRIMARY KEY, token_ids BLOB)            token ids, int32 little-endian
 *   quantile_examples(feature_idx, quantile_idx, activation REAL, sequence_idx, PK(feature_idx, sequence_idx))
 *   activation_details(feature_idx, sequence_idx, positions BLOB, activation_values BLOB, PK(...))
 *                                                                         int32 LE positions, float32 LE values
 *
 * SQLite binding: node-sqlite3-wasm, SQLite compiled to WebAssembly with a VFS over Node's fs. Chosen because
 * it runs unchanged in VS Code's Electron extension host and in the CLI on Node 20, and reads a multi-GB
 * published database from disk page by page:
 * - node:sqlite is not in Node 20 (the CLI's floor) and its availability in Electron depends on the VS Code release;
 * - better-sqlite3 is a native module: built for Node's ABI it does not load in Electron without a rebuild
 *   per VS Code version and platform;
 * - sql.js (also WASM) keeps the whole database in memory and writes it back as one byte array: fine for
 *   small files, not for the paper's databases.
 * The database is written to a temporary file and renamed, so a reader never sees a half-written one.
 * The module (and its WebAssembly, copied to dist/ by the build) loads on first use, not at activation.
 */
import { chmodSync, renameSync, rmSync } from 'node:fs';
import type { Database } from 'node-sqlite3-wasm';
import { LatentDiffError } from '../errors';
import { checkRegularFile } from '../input-files';

export interface ExampleRow {
  latent: number;
  quantile: number;
  /** Sequence max of the scaled activation. */
  activation: number;
  sequenceIdx: number;
  positions: Int32Array;
  values: Float32Array;
}

function sqlite(): typeof import('node-sqlite3-wasm') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('node-sqlite3-wasm');
}

const SCHEMA = `
CREATE TABLE sequences (sequence_idx INTEGER PRIMARY KEY, token_ids BLOB NOT NULL);
CREATE TABLE quantile_examples (feature_idx INTEGER NOT NULL, quantile_idx INTEGER NOT NULL, activation REAL NOT NULL, sequence_idx INTEGER NOT NULL, PRIMARY KEY (feature_idx, sequence_idx));
CREATE TABLE activation_details (feature_idx INTEGER NOT NULL, sequence_idx INTEGER NOT NULL, positions BLOB NOT NULL, activation_values BLOB NOT NULL, PRIMARY KEY (feature_idx, sequence_idx));
`;

const REQUIRED: Record<string, string[]> = {
  sequences: ['sequence_idx', 'token_ids'],
  quantile_examples: ['feature_idx', 'quantile_idx', 'activation', 'sequence_idx'],
  activation_details: ['feature_idx', 'sequence_idx', 'positions', 'activation_values'],
};

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function leBytes(a: Int32Array | Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const out = new Uint8Array(a.length * 4);
  const view = new DataView(out.buffer);
  if (a instanceof Int32Array) a.forEach((v, i) => view.setInt32(i * 4, v, true));
  else a.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return out;
}

/** A column that must hold little-endian 4-byte values as a BLOB; anything else is a damaged database. */
function blobOf(v: unknown, path: string, where: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.byteLength % 4 !== 0) {
    const what = v instanceof Uint8Array ? `a BLOB of ${v.byteLength} bytes (not a multiple of 4)` : v === null ? 'NULL' : `a ${typeof v === 'string' ? 'TEXT' : typeof v} value`;
    throw new LatentDiffError(path, `${where} holds ${what}, not packed 4-byte values`, 'bad-examples-db');
  }
  return v;
}

function readInt32s(b: Uint8Array): Int32Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Int32Array.from({ length: b.byteLength >> 2 }, (_, i) => view.getInt32(i * 4, true));
}

function readFloat32s(b: Uint8Array): Float32Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Float32Array.from({ length: b.byteLength >> 2 }, (_, i) => view.getFloat32(i * 4, true));
}

export function writeExamplesDb(path: string, sequences: Iterable<{ index: number; ids: Int32Array }>, examples: Iterable<ExampleRow>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const db = new (sqlite().Database)(tmp);
  try {
    db.exec('PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;');
    db.exec(SCHEMA);
    db.exec('BEGIN');
    const seq = db.prepare('INSERT INTO sequences VALUES (?, ?)');
    const ex = db.prepare('INSERT INTO quantile_examples VALUES (?, ?, ?, ?)');
    const det = db.prepare('INSERT INTO activation_details VALUES (?, ?, ?, ?)');
    try {
      for (const s of sequences) seq.run([s.index, leBytes(s.ids)]);
      for (const e of examples) {
        ex.run([e.latent, e.quantile, e.activation, e.sequenceIdx]);
        det.run([e.latent, e.sequenceIdx, leBytes(e.positions), leBytes(e.values)]);
      }
    } finally {
      seq.finalize();
      ex.finalize();
      det.finalize();
    }
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  chmodSync(tmp, 0o644);
  renameSync(tmp, path);
}

export interface Example {
  quantile: number;
  /** Sequence max of the scaled activation (the paper's "Max Activation"). */
  maxAct: number;
  sequenceIdx: number;
  tokenIds: Int32Array;
  /** Dense per-token scaled activations (0 where the latent does not fire). */
  acts: Float32Array;
}

export interface ExamplesDb {
  readonly path: string;
  /**
   * A latent's examples as the paper's reader gives them: bins from highest to lowest, within a bin by
   * activation descending, at most perQuantile (default 20) per bin.
   */
  examplesFor(latent: number, opts?: { perQuantile?: number }): Example[];
  close(): void;
}

export function openExamplesDb(path: string): ExamplesDb {
  checkRegularFile(path, 'examples database');
  let db: Database;
  try {
    db = new (sqlite().Database)(path, { readOnly: true });
  } catch (e) {
    throw new LatentDiffError(path, `cannot open as SQLite (${(e as Error).message})`, 'bad-examples-db');
  }
  try {
    for (const [table, cols] of Object.entries(REQUIRED)) {
      const have = (db.all(`PRAGMA table_info(${table})`) as { name: string }[]).map((r) => r.name);
      if (have.length === 0) throw new LatentDiffError(path, `has no table "${table}": not an examples database in the paper's schema`, 'bad-examples-db');
      const missing = cols.filter((c) => !have.includes(c));
      if (missing.length) throw new LatentDiffError(path, `table "${table}" lacks column(s) ${missing.join(', ')}`, 'bad-examples-db');
    }
  } catch (e) {
    db.close();
    if (e instanceof LatentDiffError) throw e;
    throw new LatentDiffError(path, `not a readable SQLite database (${(e as Error).message})`, 'bad-examples-db');
  }
  return {
    path,
    examplesFor(latent, opts = {}) {
      const per = opts.perQuantile ?? 20;
      const rows = db.all(
        'SELECT quantile_idx AS q, activation AS a, sequence_idx AS s FROM quantile_examples WHERE feature_idx = ? ORDER BY quantile_idx DESC, activation DESC, sequence_idx ASC',
        [latent],
      ) as { q: number; a: number; s: number }[];
      const taken = new Map<number, number>();
      const out: Example[] = [];
      for (const r of rows) {
        const n = taken.get(r.q) ?? 0;
        if (n >= per) continue;
        taken.set(r.q, n + 1);
        const seq = db.get('SELECT token_ids FROM sequences WHERE sequence_idx = ?', [r.s]) as { token_ids: unknown } | null;
        if (!seq) throw new LatentDiffError(path, `quantile_examples refers to sequence ${r.s}, which is not in "sequences"`, 'bad-examples-db');
        const tokenIds = readInt32s(blobOf(seq.token_ids, path, `sequences.token_ids of sequence ${r.s}`));
        const acts = new Float32Array(tokenIds.length);
        const det = db.get('SELECT positions, activation_values FROM activation_details WHERE feature_idx = ? AND sequence_idx = ?', [latent, r.s]) as
          | { positions: unknown; activation_values: unknown }
          | null;
        if (det) {
          const where = `activation_details of latent ${latent}, sequence ${r.s}`;
          const pos = readInt32s(blobOf(det.positions, path, `${where}: positions`));
          const vals = readFloat32s(blobOf(det.activation_values, path, `${where}: activation_values`));
          pos.forEach((p, i) => {
            if (p >= 0 && p < acts.length) acts[p] = vals[i];
          });
        }
        out.push({ quantile: r.q, maxAct: r.a, sequenceIdx: r.s, tokenIds, acts });
      }
      return out;
    },
    close() {
      db.close();
    },
  };
}
