/**
 * One statistics run per output folder: the built CLI refuses a folder whose lock is held by a live process
 * (naming it), breaks the lock of a process that is gone (a killed run) and runs, and leaves no lock behind.
 * Real processes: the live owner is this test process, the dead one a child that has exited.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const DATA = join(ROOT, 'models/demo/dataset.jsonl');
const stats = (out: string) =>
  spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'stats', '--data', DATA, '--out', out, '--tokens', '300', '--provider', 'cpu'], { encoding: 'utf8', cwd: ROOT });

test('a folder locked by a live run is refused; a dead run\'s lock is broken', () => {
  const root = tempDir('stats-lock');
  const busy = join(root, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'stats.lock'), `${process.pid} ${hostname()}\n`);
  const refused = stats(busy);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`${busy}: another statistics run \\(process ${process.pid} on `));
  assert.ok(!existsSync(join(busy, 'state', 'manifest.json')), 'the refused run wrote nothing');

  const gone = spawnSync(process.execPath, ['-e', '0']).pid;
  const stale = join(root, 'stale');
  mkdirSync(stale);
  writeFileSync(join(stale, 'stats.lock'), `${gone} ${hostname()}\n`);
  const ran = stats(stale);
  assert.equal(ran.status, 0, ran.stderr);
  assert.ok(existsSync(join(stale, 'feature_df.csv')));
  assert.ok(!existsSync(join(stale, 'stats.lock')), 'the lock is released');
});
