/**
 * Huge records in bounded memory, through the built CLI with its heap capped at 300 MB: a JSONL record over
 * the line limit (20 M characters) is skipped as it streams past, named with its line; a 5 M-character
 * record under it is cut to what the context window needs before tokenising; the run completes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');

function writeDataset(file: string): void {
  const fd = openSync(file, 'w');
  const words = (n: number) => {
    const unit = 'model chat token alpha beta gamma delta ';
    return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  };
  writeSync(fd, '{"text": "');
  for (let i = 0; i < 20; i++) writeSync(fd, words(1 << 20));
  writeSync(fd, '"}\n');
  writeSync(fd, `{"text": "${words(5 << 20)}"}\n`);
  writeSync(fd, '{"text": "A short, ordinary record."}\n');
  closeSync(fd);
}

test('a 20 M-character record is skipped by line, a 5 M-character one read as far as needed, in a 300 MB heap', () => {
  const dir = tempDir('huge-records');
  const data = join(dir, 'huge.jsonl');
  writeDataset(data);
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, ['--max-old-space-size=300', join(ROOT, 'dist/cli.js'), 'stats', '--data', data, '--out', out, '--provider', 'cpu'], { encoding: 'utf8', cwd: ROOT });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`skipped ${data}:1: the line is longer than 16 M characters`));
  assert.doesNotMatch(r.stderr, new RegExp(`${data}:2`));
  assert.match(r.stdout, /1 unreadable record\(s\) skipped/);
  assert.ok(existsSync(join(out, 'feature_df.csv')));
});
