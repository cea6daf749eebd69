/**
 * Inputs that used to end in "internal error" and a stack trace, through the built CLI and the real engine:
 * output paths that cannot be written, a statistics run whose state files were emptied, cut or edited
 * (resume and merge), an examples.db whose blobs are text, a crosscoder whose header claims more memory
 * than the machine has. Each must be a LatentDiffError-style message naming the file, exit status 1.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, cpSync, mkdirSync, openSync, readdirSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { openExamplesDb } from '../../extension/engine/analysis/examples-db';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { latentDiffErrorFrom } from '../support/errors';
import { tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const DEMO = join(ROOT, 'models/demo');
const dir = tempDir('clear-errors');
const doc = join(dir, 'doc.txt');
writeFileSync(doc, 'Hello there, a short document.');

const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });

function assertClearError(r: ReturnType<typeof cli>, file: string, problem: RegExp, what: string): void {
  assert.equal(r.status, 1, `${what}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|TypeError|at .*\.js:\d+/, what);
  assert.match(r.stderr, /^latent-diff: error: /, what);
  assert.ok(r.stderr.includes(file), `${what}: the error names ${file}: ${r.stderr}`);
  assert.match(r.stderr, problem, what);
}

test('--html to a folder, into a folder that does not exist; stats --out under a file', () => {
  assertClearError(cli('analyze', doc, '--html', dir), dir, /is a folder/, '--html DIR');
  const nowhere = join(dir, 'no-such-folder', 'page.html');
  assertClearError(cli('analyze', doc, '--html', nowhere), nowhere, /folder .*no-such-folder does not exist/, '--html MISSING/page.html');
  assertClearError(cli('stats', '--data', join(DEMO, 'dataset.jsonl'), '--out', join(doc, 'out'), '--tokens', '100'), join(doc, 'out'), /doc\.txt is a file/, 'stats --out FILE/out');
  assertClearError(cli('merge', dir, '--out', join(doc, 'merged')), join(doc, 'merged'), /doc\.txt is a file/, 'merge --out FILE/merged');
});

let run: string;
before(() => {
  run = join(dir, 'run');
  const r = cli('stats', '--data', join(DEMO, 'dataset.jsonl'), '--out', run, '--tokens', '600', '--provider', 'cpu');
  assert.equal(r.status, 0, r.stderr);
});

/** A copy of the finished run with one state file changed. */
function damaged(name: string, file: (state: string) => string, change: (path: string) => void): { copy: string; path: string } {
  const copy = join(dir, name);
  cpSync(run, copy, { recursive: true });
  const path = file(join(copy, 'state'));
  change(path);
  return { copy, path };
}
const manifest = (state: string) => join(state, 'manifest.json');
const stateFile = (prefix: string) => (state: string) => join(state, readdirSync(state).find((f) => f.startsWith(prefix))!);
const editJson = (edit: (m: Record<string, any>) => void) => (path: string) => {
  const m = JSON.parse(readFileSync(path, 'utf8'));
  edit(m);
  writeFileSync(path, JSON.stringify(m));
};

test('resume and merge of a run whose state files are empty, cut or edited', () => {
  const cases: [string, (s: string) => string, (p: string) => void, RegExp][] = [
    ['manifest-empty', manifest, (p) => writeFileSync(p, ''), /not valid JSON/],
    ['manifest-cut', manifest, (p) => truncateSync(p, 100), /not valid JSON/],
    ['manifest-no-scan-file', manifest, editJson((m) => delete m.scan.file), /"scan" is incomplete/],
    ['manifest-shards-text', manifest, editJson((m) => (m.scan.shards = 'all')), /"scan" is incomplete/],
    ['manifest-config-edited', manifest, editJson((m) => (m.config.dictSize = 'many')), /"config" is incomplete/],
    ['manifest-array', manifest, (p) => writeFileSync(p, '[]'), /not the manifest/],
    ['scan-empty', stateFile('scan'), (p) => writeFileSync(p, ''), /not a valid Latent Diff state file/],
    ['scan-cut', stateFile('scan'), (p) => truncateSync(p, 200), /not a valid Latent Diff state file/],
    ['static-cut', stateFile('static'), (p) => truncateSync(p, 300), /not a valid Latent Diff state file/],
    ['examples-header-edited', stateFile('examples'), (p) => {
      const b = readFileSync(p);
      const s = b.toString('latin1').replace('"overflow":', '"overflew":');
      writeFileSync(p, Buffer.from(s, 'latin1'));
    }, /"overflow" is missing/],
  ];
  for (const [name, file, change, problem] of cases) {
    const { copy, path } = damaged(name, file, change);
    const resume = cli('stats', '--data', join(DEMO, 'dataset.jsonl'), '--out', copy, '--tokens', '600', '--provider', 'cpu', '--resume');
    assertClearError(resume, path, problem, `${name}: stats --resume`);
    const merge = cli('merge', copy, '--out', join(dir, `${name}-merged`));
    assertClearError(merge, path, problem, `${name}: merge`);
  }
});

test('an examples.db whose token blobs are text is named, with the table and the sequence', () => {
  const db = join(dir, 'examples.db');
  copyFileSync(join(DEMO, 'examples.db'), db);
  const w = new Database(db);
  const row = w.get('SELECT feature_idx AS f, sequence_idx AS s FROM quantile_examples LIMIT 1') as { f: number; s: number };
  w.run('UPDATE sequences SET token_ids = ? WHERE sequence_idx = ?', ['hello world', row.s]);
  w.close();
  const ex = openExamplesDb(db);
  try {
    const e = latentDiffErrorFrom(() => ex.examplesFor(row.f));
    assert.equal(e.file, db);
    assert.match(e.message, new RegExp(`sequences\\.token_ids of sequence ${row.s} holds a TEXT value`));
  } finally {
    ex.close();
  }
});

test('a crosscoder whose header claims more memory than the machine has is refused before loading', () => {
  const ckpt = join(dir, 'huge');
  mkdirSync(ckpt);
  const d = 64;
  const D = 2 ** 31;
  const tensors: [string, number[]][] = [['decoder.bias', [2, d]], ['decoder.weight', [2, D, d]], ['encoder.bias', [D]], ['encoder.weight', [2, d, D]]];
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header));
  const file = join(ckpt, 'model.safetensors');
  const fd = openSync(file, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeSync(fd, len);
  writeSync(fd, json);
  closeSync(fd);
  truncateSync(file, 8 + json.length + offset); // sparse: the claimed size costs no disk
  const e = latentDiffErrorFrom(() => loadCrosscoderCheckpoint(ckpt));
  assert.equal(e.file, file);
  assert.match(e.message, /need 2048\.0 GB of memory, but only .* GB is available/);
});
