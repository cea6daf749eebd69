/**
 * Gemma2KvCache's stores: a cache filled by a whole-prompt run (a full analysis) grows in place on the next
 * position (a live append or a decode step), checked by buffer identity of the views `past` returns; the
 * rows themselves are checked against the arrays written, and an older cache's view is unchanged after a
 * truncated cache is extended (a copy-on-branch), unless it was truncated with reclaim: then it is extended in
 * place over the positions it gave up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Gemma2KvCache } from '../../extension/engine/runtime/gemma2-kv-cache';

const ROW = 8;
const BLOCKS = 2;

function rows(n: number, seed: number): Float32Array[] {
  return Array.from({ length: BLOCKS }, (_, j) => Float32Array.from({ length: n * ROW }, (_, i) => Math.sin(seed + 31 * j + i)));
}

test('the position after a whole-prompt run is written in place: no block copies its rows', () => {
  const owner = {};
  const T = 1000;
  const keys = rows(T, 1);
  const values = rows(T, 2);
  const full = Gemma2KvCache.empty(owner, BLOCKS, ROW).extended(T, keys, values);
  const before = Array.from({ length: BLOCKS }, (_, j) => full.past(j, T));
  const next = full.extended(1, rows(1, 3), rows(1, 4));
  for (let j = 0; j < BLOCKS; j++) {
    const after = next.past(j, T + 1);
    assert.equal(after.key.buffer, before[j].key.buffer, `block ${j}: the keys were copied to a new store`);
    assert.equal(after.value.buffer, before[j].value.buffer, `block ${j}: the values were copied to a new store`);
    assert.deepEqual(after.key.subarray(0, T * ROW), keys[j]);
    assert.deepEqual(after.value.subarray(T * ROW), rows(1, 4)[j]);
  }
});

test('extending a truncated cache leaves the longer cache it came from unchanged', () => {
  const owner = {};
  const full = Gemma2KvCache.empty(owner, BLOCKS, ROW).extended(10, rows(10, 5), rows(10, 6));
  const kept = full.past(0, 10).key.slice();
  const branch = full.truncate(4).extended(2, rows(2, 7), rows(2, 8));
  assert.deepEqual(full.past(0, 10).key, kept);
  assert.deepEqual(branch.past(0, 6).key.subarray(4 * ROW), rows(2, 7)[0]);
  assert.deepEqual(branch.past(0, 6).key.subarray(0, 4 * ROW), kept.subarray(0, 4 * ROW));
});

test('a cache truncated with reclaim is extended in place, over the positions it gave up', () => {
  const owner = {};
  const full = Gemma2KvCache.empty(owner, BLOCKS, ROW).extended(10, rows(10, 9), rows(10, 10));
  const kept = full.past(1, 10).value.slice(0, 7 * ROW);
  const replaced = full.truncate(7, { reclaim: true }).extended(2, rows(2, 11), rows(2, 12));
  for (let j = 0; j < BLOCKS; j++) {
    assert.equal(replaced.past(j, 9).key.buffer, full.past(j, 10).key.buffer, `block ${j}: the keys were copied to a new store`);
    assert.deepEqual(replaced.past(j, 9).key.subarray(7 * ROW), rows(2, 11)[j]);
  }
  assert.deepEqual(replaced.past(1, 9).value.subarray(0, 7 * ROW), kept);
  // The next position goes in place too, after the rewritten ones.
  const next = replaced.extended(1, rows(1, 13), rows(1, 14));
  assert.equal(next.past(0, 10).key.buffer, full.past(0, 10).key.buffer);
  assert.deepEqual(next.past(0, 10).key.subarray(9 * ROW), rows(1, 13)[0]);
});
