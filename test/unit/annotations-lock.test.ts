/**
 * The annotation file's lock, on a real file system with real processes (children running the store, as a
 * second VS Code window would), checked against the rules in engine/annotations/file-lock.ts:
 * - while another process holds the lock, an edit waits without blocking the thread (an immediate callback
 *   runs and the edit is still pending), and lands once the holder releases;
 * - a lock whose owner process is gone is broken at once, however fresh its time; a lock whose owner runs
 *   is respected, however old or far in the future its time; a lock naming no owner is broken when its time
 *   is old, and when its time is in the future only once it has been seen for `staleMs` (refused before);
 * - several processes that find the same stale lock at once do not both take it: all their writes land; a
 *   breaker whose stale lock was replaced by a fresh one (perhaps on the same inode) leaves the fresh one;
 * - nothing (lock, stale lock moved aside, temporary file) is left beside the annotation file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { breakLockFile, createLockFile, readLockFile, releaseLockFile } from '../../extension/engine/lock-file';
import { LatentDiffError } from '../../extension/engine/errors';
import { tempDir } from './bundle-fixtures';
import { raceChildren, startChild } from './annotation-processes';

const ID = 'cc-1';
const HOUR = 3600_000;

function annotationFile(name: string): string {
  const dir = join(tempDir('ann-lock'), name);
  mkdirSync(dir);
  return join(dir, 'annotations.json');
}

/** A lock file written by hand: `owner` is its text ('' for an older version's empty lock), `time` its mtime. */
function lockWith(file: string, owner: string, time?: Date): void {
  writeFileSync(`${file}.lock`, owner);
  if (time) utimesSync(`${file}.lock`, time, time);
}

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

const isLocked = (e: unknown) => e instanceof LatentDiffError && e.code === 'locked';
const leftovers = (file: string) => readdirSync(join(file, '..')).filter((n) => n !== 'annotations.json');

test('an edit waits for another process\'s lock without blocking the thread, and lands after the release', async () => {
  const file = annotationFile('held');
  const holder = startChild('hold', file);
  await holder.says('ready');
  holder.tell();
  await holder.says('held');
  assert.equal(readLockFile(`${file}.lock`)?.owner?.pid, holder.pid);

  const store = AnnotationStore.open(file, ID, { watch: false });
  let settled = false;
  const edit = store.upsert(5, { label: 'after the holder' }).finally(() => (settled = true));
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'the edit waits for the lock, and this thread ran 50 turns meanwhile');
  assert.equal(readLockFile(`${file}.lock`)?.owner?.pid, holder.pid, 'the lock is still the holder\'s');

  holder.tell('release');
  assert.equal((await edit).label, 'after the holder');
  await holder.done;
  store.dispose();
  const onDisk = AnnotationStore.open(file, ID, { watch: false });
  assert.equal(onDisk.get(5)?.label, 'after the holder');
  onDisk.dispose();
  assert.deepEqual(leftovers(file), []);
});

test('the lock of a process that is gone is broken at once, even with a fresh or future time', async () => {
  for (const [name, time] of [['fresh', undefined], ['future', new Date(Date.now() + HOUR)]] as const) {
    const file = annotationFile(`dead-${name}`);
    lockWith(file, `${deadPid()} ${hostname()} 0123456789abcdef\n`, time);
    const store = AnnotationStore.open(file, ID, { watch: false, lockTiming: { staleMs: 60_000, waitMs: 60_000 } });
    assert.equal((await store.upsert(5, { label: name })).label, name);
    store.dispose();
    assert.deepEqual(leftovers(file), [], name);
  }
});

test('the lock of a running process is respected, however old or far in the future its time', async () => {
  const holder = startChild('hold', annotationFile('unused'));
  await holder.says('ready'); // running, holding nothing: its pid is a live owner
  for (const [name, time] of [['old', new Date(Date.now() - HOUR)], ['future', new Date(Date.now() + HOUR)]] as const) {
    const file = annotationFile(`live-${name}`);
    lockWith(file, `${holder.pid} ${hostname()} 0123456789abcdef\n`, time);
    const store = AnnotationStore.open(file, ID, { watch: false, lockTiming: { staleMs: 50, waitMs: 300 } });
    const refused = await store.upsert(5, { label: name }).then(() => undefined, (e: unknown) => e);
    assert.ok(isLocked(refused), `${name}: ${refused}`);
    assert.match((refused as Error).message, new RegExp(`process ${holder.pid} on .* holds the lock file annotations.json.lock`));
    store.dispose();
    assert.equal(readLockFile(`${file}.lock`)?.owner?.pid, holder.pid, `${name}: the lock is untouched`);
  }
  holder.tell();
  await holder.says('held');
  holder.tell('release');
  await holder.done;
});

test('a lock naming no owner: broken when old; when in the future, only after it has been seen for staleMs', async () => {
  const old = annotationFile('ownerless-old');
  lockWith(old, '', new Date(Date.now() - HOUR));
  const a = AnnotationStore.open(old, ID, { watch: false, lockTiming: { staleMs: 1_000, waitMs: 60_000 } });
  assert.equal((await a.upsert(1, { label: 'old lock broken' })).label, 'old lock broken');
  a.dispose();
  assert.deepEqual(leftovers(old), []);

  const future = annotationFile('ownerless-future');
  lockWith(future, '', new Date(Date.now() + HOUR));
  const impatient = AnnotationStore.open(future, ID, { watch: false, lockTiming: { staleMs: 60_000, waitMs: 200 } });
  await assert.rejects(impatient.upsert(1, { label: 'x' }), isLocked, 'not broken before it has been seen for staleMs');
  impatient.dispose();
  const patient = AnnotationStore.open(future, ID, { watch: false, lockTiming: { staleMs: 200, waitMs: 60_000 } });
  assert.equal((await patient.upsert(1, { label: 'future lock broken' })).label, 'future lock broken');
  patient.dispose();
  assert.deepEqual(leftovers(future), []);
});

test('processes racing to break the same stale lock never hold it together: every write lands', async () => {
  const file = annotationFile('race');
  lockWith(file, `${deadPid()} ${hostname()} 0123456789abcdef\n`);
  const writers = [0, 1000, 2000, 3000, 4000];
  await raceChildren(writers.map((from) => ['write', file, ID, String(from), '20']));
  const store = AnnotationStore.open(file, ID, { watch: false });
  assert.deepEqual(store.all().map((r) => r.latent), writers.flatMap((from) => Array.from({ length: 20 }, (_, i) => from + i)));
  store.dispose();
  assert.deepEqual(leftovers(file), []);
});

test('a breaker leaves alone the fresh lock that replaced the one it judged stale', () => {
  const lock = `${annotationFile('replaced')}.lock`;
  writeFileSync(lock, `${deadPid()} ${hostname()} 0123456789abcdef\n`);
  const judged = readLockFile(lock)!;
  unlinkSync(lock); // another breaker got there first
  const token = createLockFile(lock)!; // and a writer took the lock again
  assert.equal(breakLockFile(lock, judged), false);
  assert.equal(readLockFile(lock)?.owner?.token, token, 'the fresh lock is still there');
  releaseLockFile(lock, token);
  assert.deepEqual(readdirSync(join(lock, '..')), []);
});
