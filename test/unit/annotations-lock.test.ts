/**
 * The annotation file's lock on a real file system: a lock left by a dead writer (old time) or with a time
 * in the future (another machine's clock) is broken by renaming it aside, and the edit goes through with
 * nothing left behind; a fresh lock held by another writer is respected (the edit is refused as locked).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { LatentDiffError } from '../../extension/engine/errors';
import { tempDir } from './bundle-fixtures';

function lockedFile(name: string, lockTime: Date | undefined): string {
  const dir = join(tempDir('ann-lock'), name);
  mkdirSync(dir);
  const file = join(dir, 'annotations.json');
  writeFileSync(`${file}.lock`, '');
  if (lockTime) utimesSync(`${file}.lock`, lockTime, lockTime);
  return file;
}

test('a stale lock, old or from the future, is broken and leaves nothing behind', () => {
  for (const [name, when] of [['old', new Date(Date.now() - 3600_000)], ['future', new Date(Date.now() + 3600_000)]] as const) {
    const file = lockedFile(name, when);
    const store = AnnotationStore.open(file, 'cc-1', { watch: false });
    assert.equal(store.upsert(5, { label: name }).label, name);
    store.dispose();
    assert.deepEqual(readdirSync(join(file, '..')), ['annotations.json'], name);
  }
});

test('a fresh lock held by another writer is respected', () => {
  const file = lockedFile('fresh', undefined);
  const store = AnnotationStore.open(file, 'cc-1', { watch: false });
  assert.throws(() => store.upsert(5, { label: 'x' }), (e: unknown) => e instanceof LatentDiffError && e.code === 'locked');
  store.dispose();
});
