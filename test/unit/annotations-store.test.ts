/**
 * The annotation store on real files in a temporary folder: records round-trip in a stable format, several
 * crosscoders share one file, writes are atomic, stores in one process and in several processes (children
 * running the store) keep each other's records, and patches of different fields of the same latent saved
 * from two processes through the latent page's message (checked by the host's validator) keep both fields;
 * malformed files are reported and never overwritten, bad edits change nothing, external changes are seen.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { writeFileAtomic } from '../../extension/engine/annotations/atomic-file';
import { AnnotationStore, type AnnotationChange } from '../../extension/engine/annotations/store';
import { latentDiffErrorFromAsync } from '../support/errors';
import { raceChildren } from './annotation-processes';

const root = mkdtempSync(join(tmpdir(), 'ld-annotations-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function freshFile(): string {
  const dir = join(root, `case-${n++}`);
  mkdirSync(dir);
  return join(dir, 'annotations.json');
}
const ID = 'cc-demo-1234';
const clock = () => {
  let t = Date.UTC(2025, 0, 1);
  return () => (t += 1000);
};
const evidence = (line: number, activation: number) => ({
  file: 'samples/hello-chat.txt',
  range: { start: { line, character: 2 }, end: { line, character: 9 } },
  activation,
  text: 'model\n"quoted", comma',
});

async function throwsLatentDiff(fn: () => unknown, pattern: RegExp, file?: string): Promise<LatentDiffError> {
  const caught = await latentDiffErrorFromAsync(fn);
  if (file) assert.equal(caught.file, file);
  assert.match(caught.message, pattern);
  return caught;
}

test('round trip: records survive a reopen, sorted by id, one line per latent, stable key order', async () => {
  const file = freshFile();
  const a = AnnotationStore.open(file, ID, { watch: false, now: clock() });
  assert.equal(a.error, undefined);
  assert.deepEqual(a.all(), []);
  await a.upsert(300, { label: 'model turn', status: 'confirmed' });
  await a.upsert(7, { label: 'digits', notes: 'fires on 0-9\nand on "½"' });
  await a.addEvidence(300, evidence(4, 3.25));
  await a.upsert(42, { label: 'to remove' });
  assert.equal(await a.remove(42), true);
  assert.equal(await a.remove(42), false);
  const expected = a.all();
  assert.deepEqual(expected.map((r) => r.latent), [7, 300]);
  assert.equal(expected[1].evidence[0].activation, 3.25);
  assert.equal(expected[0].status, 'hypothesis');
  a.dispose();

  const b = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(b.all(), expected);
  assert.deepEqual(b.get(300), expected[1]);
  assert.equal(b.get(42), undefined);
  b.dispose();

  const text = readFileSync(file, 'utf8');
  const parsed = JSON.parse(text);
  assert.equal(parsed.format, 'latent-diff-annotations');
  assert.equal(parsed.version, 1);
  assert.deepEqual(Object.keys(parsed.crosscoders[ID]), ['7', '300']);
  assert.deepEqual(Object.keys(parsed.crosscoders[ID]['300']), ['label', 'status', 'notes', 'evidence', 'updatedAt']);
  const recordLines = text.split('\n').filter((l) => /^\s+"\d+": \{/.test(l));
  assert.equal(recordLines.length, 2);
  assert.ok(recordLines[0].includes('"7"') && recordLines[1].includes('"300"'));
});

test('one file serves several crosscoders; another crosscoder\'s records are kept untouched', async () => {
  const file = freshFile();
  const other = AnnotationStore.open(file, 'cc-other', { watch: false });
  await other.upsert(5, { label: 'other crosscoder' });
  const mine = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(mine.all(), []);
  await mine.upsert(5, { label: 'mine' });
  const parsed = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(parsed.crosscoders), [ID, 'cc-other'], 'crosscoders sorted by identity');
  assert.equal(parsed.crosscoders['cc-other']['5'].label, 'other crosscoder');
  assert.equal(parsed.crosscoders[ID]['5'].label, 'mine');
  other.dispose();
  mine.dispose();
});

test('writes are atomic: no temp or lock file is left, and a failed rename leaves no temp file', async () => {
  const file = freshFile();
  const s = AnnotationStore.open(file, ID, { watch: false });
  for (let i = 0; i < 5; i++) await s.upsert(i, { label: `l${i}` });
  s.dispose();
  assert.deepEqual(readdirSync(join(file, '..')), ['annotations.json']);

  const dir = join(root, `case-${n++}`);
  const target = join(dir, 'blocked.json');
  mkdirSync(join(target, 'occupied'), { recursive: true });
  await throwsLatentDiff(() => writeFileAtomic(target, '{}'), /cannot write/, target);
  assert.deepEqual(readdirSync(dir), ['blocked.json']);
});

test('two stores on one file editing different latents keep each other\'s records', async () => {
  const file = freshFile();
  const a = AnnotationStore.open(file, ID, { watch: false });
  const b = AnnotationStore.open(file, ID, { watch: false });
  await a.upsert(1, { label: 'from A' });
  await b.upsert(2, { label: 'from B' });
  await a.upsert(3, { label: 'from A again' });
  const onDisk = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(onDisk.all().map((r) => [r.latent, r.label]), [[1, 'from A'], [2, 'from B'], [3, 'from A again']]);
  assert.deepEqual(a.all().map((r) => r.latent), [1, 2, 3], 'A picked up B\'s record when it wrote');

  // A removal by B is not undone by A's next write (A's memory still had latent 1 until then).
  await b.remove(1);
  await a.upsert(4, { label: 'from A' });
  onDisk.reload();
  assert.deepEqual(onDisk.all().map((r) => r.latent), [2, 3, 4]);

  // Both edit the same latent, different fields: both fields survive.
  await a.upsert(2, { notes: 'notes by A' });
  await b.upsert(2, { status: 'rejected' });
  onDisk.reload();
  assert.deepEqual({ ...onDisk.get(2), updatedAt: '' }, { latent: 2, label: 'from B', notes: 'notes by A', status: 'rejected', evidence: [], updatedAt: '' });
  for (const s of [a, b, onDisk]) s.dispose();
});

test('edits started together apply in the order made; two stores of one process wait for each other\'s lock', async () => {
  const file = freshFile();
  const a = AnnotationStore.open(file, ID, { watch: false });
  const b = AnnotationStore.open(file, ID, { watch: false });
  await Promise.all([
    a.upsert(1, { label: 'first' }), b.upsert(2, { label: 'from B' }), a.upsert(1, { notes: 'kept' }),
    b.upsert(3, { label: 'from B' }), a.upsert(1, { label: 'last' }), b.remove(3),
  ]);
  const onDisk = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(onDisk.all().map((r) => [r.latent, r.label, r.notes]), [[1, 'last', 'kept'], [2, 'from B', '']]);
  for (const s of [a, b, onDisk]) s.dispose();
  assert.deepEqual(readdirSync(join(file, '..')), ['annotations.json']);
});

test('two processes writing different latents at the same time lose nothing', async () => {
  const file = freshFile();
  await raceChildren([['write', file, ID, '0', '25'], ['write', file, ID, '1000', '25']]);
  const s = AnnotationStore.open(file, ID, { watch: false });
  const latents = s.all().map((r) => r.latent);
  assert.equal(latents.length, 50);
  assert.deepEqual(latents, [...Array.from({ length: 25 }, (_, i) => i), ...Array.from({ length: 25 }, (_, i) => 1000 + i)]);
  s.dispose();
  assert.deepEqual(readdirSync(join(file, '..')), ['annotations.json']);
});

test('two processes saving different fields of the same latents from the latent page keep both fields', async () => {
  const file = freshFile();
  await raceChildren([['patch', file, ID, 'label', '20'], ['patch', file, ID, 'notes', '20']]);
  const s = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(
    s.all().map((r) => [r.latent, r.label, r.notes, r.status]),
    Array.from({ length: 20 }, (_, i) => [i, `label ${i}`, `notes ${i}`, 'hypothesis']),
  );
  s.dispose();
});

test('a malformed file is reported with file and problem, the store is read-only, the file is never overwritten', async () => {
  const cases: [string, RegExp][] = [
    ['{ "format": "latent-diff-annotations", "version": 1, "crosscoders": { "x": { "3": {"label": "a",', /not valid JSON/],
    ['{"format":"latent-diff-annotations","version":1,"crosscoders":{"x":{"3":{"label":"a","status":"maybe"}}}}', /\["3"\]\.status: expected one of "hypothesis"/],
    ['{"format":"latent-diff-annotations","version":1,"crosscoders":{"x":{"03":{"label":"a","status":"confirmed"}}}}', /"03" is not a latent id/],
    ['{"format":"latent-diff-annotations","version":7,"crosscoders":{}}', /newer Latent Diff \(format version 7\)/],
    ['{"format":"something-else","version":1}', /"format" must be "latent-diff-annotations"/],
    ['[1, 2, 3]', /expected a JSON object/],
  ];
  for (const [text, pattern] of cases) {
    const file = freshFile();
    writeFileSync(file, text);
    const s = AnnotationStore.open(file, ID, { watch: false });
    assert.ok(s.error instanceof LatentDiffError, `no error reported for ${text}`);
    assert.equal(s.error.file, file);
    assert.match(s.error.message, pattern);
    assert.match(s.error.message, /will not be overwritten/);
    assert.equal(s.readOnly, true);
    await throwsLatentDiff(() => s.upsert(1, { label: 'x' }), pattern, file);
    await throwsLatentDiff(() => s.addEvidence(1, evidence(0, 1)), pattern, file);
    await throwsLatentDiff(() => s.importJson('{"1": "x"}'), pattern, file);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.deepEqual(readdirSync(join(file, '..')), ['annotations.json']);
    s.dispose();
  }
});

test('a file broken after opening is not overwritten by the next edit; fixing it makes the store writable again', async () => {
  const file = freshFile();
  const s = AnnotationStore.open(file, ID, { watch: false });
  await s.upsert(1, { label: 'kept' });
  const good = readFileSync(file, 'utf8');
  const broken = good.replace('"hypothesis"', '"hypothesis" oops');
  writeFileSync(file, broken);
  await throwsLatentDiff(() => s.upsert(2, { label: 'lost?' }), /not valid JSON/, file);
  assert.equal(readFileSync(file, 'utf8'), broken);
  assert.equal(s.readOnly, true);
  assert.equal(s.get(1)?.label, 'kept', 'the last good records stay visible');
  writeFileSync(file, good);
  s.reload();
  assert.equal(s.error, undefined);
  await s.upsert(2, { label: 'now saved' });
  assert.deepEqual(s.all().map((r) => r.label), ['kept', 'now saved']);
  s.dispose();
});

test('bad edits are LatentDiffErrors and change nothing', async () => {
  const file = freshFile();
  const s = AnnotationStore.open(file, ID, { watch: false });
  await throwsLatentDiff(() => s.upsert(-1, { label: 'x' }), /non-negative integer/);
  await throwsLatentDiff(() => s.upsert(1.5, { label: 'x' }), /non-negative integer/);
  await throwsLatentDiff(() => s.upsert(1, { status: 'maybe' as never }), /expected one of/);
  const backwards = { ...evidence(3, 1), range: { start: { line: 3, character: 5 }, end: { line: 2, character: 0 } } };
  await throwsLatentDiff(() => s.addEvidence(1, backwards), /end is before start/);
  await throwsLatentDiff(() => s.addEvidence(1, { ...evidence(3, 1), activation: Number.NaN }), /finite number/);
  assert.deepEqual(s.all(), []);
  s.dispose();
});

test('an external change to the file (git pull, another window) is picked up by the watcher', async () => {
  const file = freshFile();
  const watched = AnnotationStore.open(file, ID, { debounceMs: 20 });
  const writer = AnnotationStore.open(file, ID, { watch: false });
  const events: AnnotationChange[] = [];
  const changed = new Promise<void>((resolve) =>
    watched.onDidChange((e) => {
      events.push(e);
      if (watched.get(9)?.label === 'from elsewhere') resolve();
    }),
  );
  await writer.upsert(9, { label: 'from elsewhere' });
  await changed;
  assert.deepEqual(events.at(-1), { latents: [9], external: true });

  const broken = new Promise<void>((resolve) => watched.onDidChange(() => watched.error && resolve()));
  writeFileSync(file, '{ not json');
  await broken;
  assert.match(watched.error!.message, /not valid JSON/);
  watched.dispose();
  writer.dispose();
});

test('own edits notify listeners as non-external changes', async () => {
  const file = freshFile();
  const s = AnnotationStore.open(file, ID, { watch: false });
  const events: AnnotationChange[] = [];
  s.onDidChange((e) => events.push(e)).dispose();
  const sub = s.onDidChange((e) => events.push(e));
  await s.upsert(4, { label: 'x' });
  await s.remove(4);
  await s.remove(4);
  sub.dispose();
  await s.upsert(5, { label: 'unheard' });
  assert.deepEqual(events, [
    { latents: [4], external: false },
    { latents: [4], external: false },
  ]);
  s.dispose();
});
