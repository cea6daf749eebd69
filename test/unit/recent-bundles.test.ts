/**
 * The recent-bundles list "Open Bundle..." offers (host/recent-bundles.ts) against a model written here:
 * after any sequence of opens it holds the distinct folders, most recently opened first, at most eight.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RECENT_BUNDLES, withRecent } from '../../extension/host/recent-bundles';
import { seededRandom } from '../../extension/engine/random';

test('most recent first, no duplicates, capped', () => {
  const rng = seededRandom(5);
  let list: string[] = [];
  const opened: string[] = [];
  for (let k = 0; k < 300; k++) {
    const dir = `/bundles/b${Math.floor(rng() * 12)}`;
    list = withRecent(list, dir);
    opened.push(dir);
    const expected: string[] = [];
    for (let i = opened.length - 1; i >= 0 && expected.length < MAX_RECENT_BUNDLES; i--) if (!expected.includes(opened[i])) expected.push(opened[i]);
    assert.deepEqual(list, expected);
  }
});
