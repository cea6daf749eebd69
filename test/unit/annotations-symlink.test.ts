/**
 * An annotation file reached through a symbolic link (kept in another repository, say): edits replace the
 * link's target, atomically beside it, and the link stays a link; a relative link, a chain of links and a
 * link whose target does not exist yet work too. Real files and links in a temporary folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { writeFileAtomic } from '../../extension/engine/annotations/atomic-file';
import { tempDir } from './bundle-fixtures';

const ID = 'cc-link-1';

function setUp() {
  const root = tempDir('ann-link');
  const shared = join(root, 'shared');
  const ws = join(root, 'ws', '.latent-diff');
  mkdirSync(shared);
  mkdirSync(ws, { recursive: true });
  return { root, shared, ws };
}

test('edits through a link update its target and keep the link', async () => {
  const { shared, ws } = setUp();
  const target = join(shared, 'annotations.json');
  const empty = AnnotationStore.open(target, ID, { watch: false });
  await empty.upsert(1, { label: 'first' });
  empty.dispose();
  const link = join(ws, 'annotations.json');
  symlinkSync('../../shared/annotations.json', link);
  const store = AnnotationStore.open(link, ID, { watch: false });
  assert.equal(store.get(1)?.label, 'first');
  await store.upsert(2, { label: 'second' });
  store.dispose();
  assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link');
  const reopened = AnnotationStore.open(target, ID, { watch: false });
  assert.deepEqual(reopened.all().map((a) => [a.latent, a.label]), [[1, 'first'], [2, 'second']]);
  reopened.dispose();
  assert.deepEqual(readdirSync(ws), ['annotations.json'], 'no temporary or lock file left beside the link');
  assert.deepEqual(readdirSync(shared), ['annotations.json'], 'none beside the target either');
});

test('a chain of links, and a link whose target does not exist yet', async () => {
  const { shared, ws } = setUp();
  const target = join(shared, 'notes.json');
  const middle = join(shared, 'middle.json');
  symlinkSync(target, middle);
  const link = join(ws, 'annotations.json');
  symlinkSync(middle, link);
  await writeFileAtomic(link, '{"x": 1}\n');
  assert.ok(lstatSync(link).isSymbolicLink() && lstatSync(middle).isSymbolicLink());
  assert.equal(readFileSync(target, 'utf8'), '{"x": 1}\n');
});
