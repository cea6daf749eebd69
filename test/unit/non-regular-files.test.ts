/**
 * The built CLI given a named pipe or a device where a file belongs (the document, bundle.json, the
 * tokenizer, a dataset): a clear error naming the file, at once, where reading would block forever. And
 * errors about a file that is not what it should be quote none of its content.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { demoBundleJsonElsewhere, tempDir } from './bundle-fixtures';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const DEMO = join(ROOT, 'models/demo');
const SECRET = 'SECRET-7f3a9';

/** Runs the CLI; a read that blocks on a pipe is killed by the timeout and fails the assertions. */
function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  assert.equal(r.signal, null, `latent-diff ${args.join(' ')} was killed (it hung reading a file): ${r.stderr}`);
  return r;
}

function assertRefused(r: ReturnType<typeof cli>, file: string, problem: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(file), `the error names ${file}: ${r.stderr}`);
  assert.match(r.stderr, problem);
  assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
  assert.ok(!r.stderr.includes(SECRET), `the error quotes the file's content: ${r.stderr}`);
}

/** A copy of the demo bundle's bundle.json whose files are the demo's, with `tokenizer` changed. */
function bundleWith(dir: string, tokenizer: Record<string, string>): string {
  const json = demoBundleJsonElsewhere(DEMO);
  json.tokenizer = { json: join(DEMO, 'tokenizer.json'), config: join(DEMO, 'tokenizer_config.json'), chatTemplate: 'builtin:gemma2', ...tokenizer };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  return dir;
}

test('named pipes and devices are refused at once, naming the file', () => {
  const dir = tempDir('fifo');
  const fifo = join(dir, 'pipe');
  execFileSync('mkfifo', [fifo]);
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'Hello there.');
  assertRefused(cli('analyze', fifo), fifo, /named pipe, not a regular file/);
  assertRefused(cli('analyze', '/dev/zero'), '/dev/zero', /device, not a regular file/);

  const pipeBundle = join(dir, 'pipe-bundle');
  mkdirSync(pipeBundle);
  execFileSync('mkfifo', [join(pipeBundle, 'bundle.json')]);
  assertRefused(cli('analyze', doc, '--bundle', pipeBundle), join(pipeBundle, 'bundle.json'), /named pipe, not a regular file/);

  const tokBundle = bundleWith(join(dir, 'tok-bundle'), { json: fifo });
  assertRefused(cli('analyze', doc, '--bundle', tokBundle), 'tokenizer.json', /not a regular file/);

  assertRefused(cli('stats', '--data', fifo, '--out', join(dir, 'out1'), '--tokens', '100'), fifo, /named pipe, not a regular file/);
  assertRefused(cli('stats', '--data', '/dev/zero', '--out', join(dir, 'out2'), '--tokens', '100'), '/dev/zero', /device, not a regular file/);
});

test('a file that is not what it should be is named, its content is not quoted', () => {
  const dir = tempDir('echo');
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'Hello there.');
  const secret = join(dir, 'notes.txt');
  writeFileSync(secret, `${SECRET} my password is hunter2\n`);
  assertRefused(cli('analyze', doc, '--bundle', bundleWith(join(dir, 'b1'), { json: secret })), secret, /not valid JSON/);
  assertRefused(cli('analyze', doc, '--bundle', bundleWith(join(dir, 'b2'), { config: secret })), secret, /not valid JSON/);
  const badBundle = join(dir, 'b3');
  mkdirSync(badBundle);
  writeFileSync(join(badBundle, 'bundle.json'), `{"name": ${SECRET}}`);
  assertRefused(cli('analyze', doc, '--bundle', badBundle), join(badBundle, 'bundle.json'), /not valid JSON/);
  const data = join(dir, 'data.jsonl');
  writeFileSync(data, `${SECRET}\n{"text": ${SECRET}}\n`);
  assertRefused(cli('stats', '--data', data, '--out', join(dir, 'out'), '--tokens', '100'), data, /unreadable/);
});
