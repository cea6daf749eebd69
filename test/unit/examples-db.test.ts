import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { openExamplesDb, writeExamplesDb } from '../../extension/engine/analysis/examples-db';
import { LatentDiffError } from '../../extension/engine/errors';

const dir = mkdtempSync(join(tmpdir(), 'ld-exdb-'));

/** Little-endian bytes written by hand, as the paper's Python code stores them (numpy int32/float32 tobytes). */
function int32le(xs: number[]): Uint8Array {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeInt32LE(x, i * 4));
  return b;
}
function float32le(xs: number[]): Uint8Array {
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeFloatLE(x, i * 4));
  return b;
}

test("a database built in the paper's schema reads back: bins high to low, activation descending, at most N per bin, dense acts", () => {
  const path = join(dir, 'paper.db');
  const db = new Database(path);
  db.exec(`CREATE TABLE sequences (sequence_idx INTEGER PRIMARY KEY, token_ids BLOB);
    CREATE TABLE quantile_examples (feature_idx INT, quantile_idx INT, activation REAL, sequence_idx INT, PRIMARY KEY (feature_idx, sequence_idx));
    CREATE TABLE activation_details (feature_idx INT, sequence_idx INT, positions BLOB, activation_values BLOB, PRIMARY KEY (feature_idx, sequence_idx));`);
  const seqs = [[2, 106, 1645, 108], [2, 651, 235248], [2, 9, 9, 9, 9], [2, 70000, 255999]];
  seqs.forEach((s, i) => db.run('INSERT INTO sequences VALUES (?, ?)', [i * 10, int32le(s)]));
  const ex = [
    [7, 0, 0.5, 0, [1], [0.5]],
    [7, 4, 3.25, 10, [1, 2], [3.25, -0.0]],
    [7, 4, 2.75, 20, [0, 4], [1.5, 2.75]],
    [7, 2, 1.5, 30, [2], [1.5]],
    [8, 4, 9, 30, [1], [9]],
  ] as const;
  for (const [f, q, a, s, pos, vals] of ex) {
    db.run('INSERT INTO quantile_examples VALUES (?, ?, ?, ?)', [f, q, a, s]);
    db.run('INSERT INTO activation_details VALUES (?, ?, ?, ?)', [f, s, int32le([...pos]), float32le([...vals])]);
  }
  db.close();

  const reader = openExamplesDb(path);
  try {
    const got = reader.examplesFor(7);
    assert.deepEqual(got.map((e) => [e.quantile, e.maxAct, e.sequenceIdx]), [[4, 3.25, 10], [4, 2.75, 20], [2, 1.5, 30], [0, 0.5, 0]]);
    assert.deepEqual(Array.from(got[0].tokenIds), seqs[1]);
    assert.deepEqual(Array.from(got[1].acts), [1.5, 0, 0, 0, 2.75]);
    assert.deepEqual(Array.from(got[3].tokenIds), seqs[0]);
    assert.deepEqual(reader.examplesFor(7, { perQuantile: 1 }).map((e) => e.sequenceIdx), [10, 30, 0]);
    assert.deepEqual(reader.examplesFor(8)[0].tokenIds, Int32Array.from(seqs[3]));
    assert.deepEqual(reader.examplesFor(9), []);
  } finally {
    reader.close();
  }
});

test('our writer produces the same tables and blob encodings, read back by the same reader', () => {
  const path = join(dir, 'ours.db');
  writeExamplesDb(path, [{ index: 5, ids: Int32Array.from([2, 1, 300000]) }], [
    { latent: 12, quantile: 3, activation: 0.875, sequenceIdx: 5, positions: Int32Array.from([2]), values: Float32Array.from([0.875]) },
  ]);
  const raw = new Database(path, { readOnly: true });
  const row = raw.get('SELECT token_ids FROM sequences WHERE sequence_idx = 5') as { token_ids: Uint8Array };
  raw.close();
  assert.deepEqual(Buffer.from(row.token_ids), Buffer.from(int32le([2, 1, 300000])));
  const reader = openExamplesDb(path);
  const [e] = reader.examplesFor(12);
  reader.close();
  assert.deepEqual([e.quantile, e.maxAct, e.sequenceIdx, Array.from(e.acts)], [3, 0.875, 5, [0, 0, 0.875]]);
});

test('files that are not examples databases are refused with the file and the problem', () => {
  const notDb = join(dir, 'not.db');
  writeFileSync(notDb, 'this is not sqlite at all, just text that is long enough to look like a header....');
  assert.throws(() => openExamplesDb(notDb), (e: unknown) => e instanceof LatentDiffError && e.file === notDb);
  const other = join(dir, 'other.db');
  const db = new Database(other);
  db.exec('CREATE TABLE sequences (sequence_idx INTEGER PRIMARY KEY, token_ids BLOB)');
  db.close();
  assert.throws(() => openExamplesDb(other), /no table "quantile_examples"/);
  assert.throws(() => openExamplesDb(join(dir, 'missing.db')), (e: unknown) => e instanceof LatentDiffError && e.code === 'not-found');
});
