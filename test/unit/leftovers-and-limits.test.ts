/**
 * Leftovers and limits through the built CLI: temporary files of a killed statistics run (NAME.tmp-PID beside
 * the state and the outputs) are removed by --resume and never taken for results; a document far over the
 * token limit is refused from a sample estimate (the message says "about"), not after tokenising all of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist/cli.js'), ...args], { encoding: 'utf8', cwd: ROOT });

test('--resume removes a killed run\'s temporary files and keeps the results', () => {
  const out = join(tempDir('leftovers'), 'run');
  const args = ['stats', '--data', join(ROOT, 'models/demo/dataset.jsonl'), '--out', out, '--tokens', '300', '--provider', 'cpu'];
  assert.equal(cli(...args).status, 0);
  const table = readFileSync(join(out, 'feature_df.csv'), 'utf8');
  const leftovers = [join(out, 'state', 'manifest.json.tmp-4242'), join(out, 'state', 'scan-7.bin.tmp-4242'), join(out, 'feature_df.csv.tmp-4242'), join(out, 'examples.db.tmp-4242')];
  for (const f of leftovers) writeFileSync(f, 'half-written');
  const r = cli(...args, '--resume');
  assert.equal(r.status, 0, r.stderr);
  const names = [...readdirSync(out), ...readdirSync(join(out, 'state'))];
  assert.deepEqual(names.filter((n) => n.includes('.tmp-')), []);
  assert.equal(readFileSync(join(out, 'feature_df.csv'), 'utf8'), table);
});

test('a document far over the token limit is refused from an estimate', () => {
  const doc = join(tempDir('too-long'), 'huge.txt');
  const words = ['alpha', '12345678', 'gamma', '2024', 'the', 'model', '99'];
  writeFileSync(doc, Array.from({ length: 150_000 }, (_, i) => words[i % words.length]).join(' '));
  const r = cli('analyze', doc, '--provider', 'cpu');
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^latent-diff: error: ${doc}: the document has about \\d+ tokens, more than one analysis holds`));
});
