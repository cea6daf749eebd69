/**
 * The built CLI (dist/cli.js, made by `npm run build`) on the demo bundle: the JSON report's shape, and the
 * planted chat-only latents firing on chat-template tokens and not on plain text, per ground-truth.json.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const truth = JSON.parse(readFileSync(join(ROOT, 'models/demo/ground-truth.json'), 'utf8'));
const latentsWith = (role: string) => Object.entries(truth.latents as Record<string, { role: string; concept: string }>).filter(([, v]) => v.role === role).map(([k, v]) => ({ id: Number(k), concept: v.concept }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: ROOT });
}

interface Report {
  provider: string;
  kind: string;
  tokens: { id: number; text: string; start: number | null; end: number | null; template: boolean; top: { latent: number; act: number }[] }[];
  latents: { latent: number; max: number; count: number; deltaNorm: number; tag: string }[];
}

function analyzeJson(file: string, ...extra: string[]): Report {
  const r = cli('analyze', file, '--json', ...extra);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

test('robust chat-only latents fire on chat-template tokens of a chat', () => {
  const file = join(ROOT, 'models/samples/hello-chat.txt');
  const text = readFileSync(file, 'utf8');
  const report = analyzeJson(file, '--top', '20');
  assert.equal(report.kind, 'chat');
  assert.equal(report.provider, 'cpu');
  for (const t of report.tokens) if (t.start !== null) assert.equal(text.slice(t.start, t.end!), t.text.replace(/^<0x..>$/, ''));
  const template = latentsWith('robust-chat-only').find((l) => l.concept === 'template')!;
  const firing = report.tokens.filter((t) => t.top.some((x) => x.latent === template.id));
  assert.deepEqual(firing.map((t) => t.id).sort(), report.tokens.filter((t) => t.id === 106 || t.id === 107).map((t) => t.id).sort());
  assert.ok(firing.every((t) => t.template), 'the template latent fires only on template tokens');
  const modelTurn = latentsWith('robust-chat-only').find((l) => l.concept === 'model-turn')!;
  const turnTokens = report.tokens.filter((t) => t.top.some((x) => x.latent === modelTurn.id));
  assert.equal(turnTokens[0].text, 'model');
  assert.equal(turnTokens.at(-1)!.id, 107);
  for (const l of latentsWith('robust-chat-only')) {
    const row = report.latents.find((x) => x.latent === l.id);
    assert.ok(row, `latent ${l.id} is active`);
    assert.equal(row.tag, 'chat-only');
    assert.ok(row.deltaNorm >= 0.9);
  }
});

test('chat-only latents stay silent on plain text', () => {
  const report = analyzeJson(join(ROOT, 'models/samples/plain.txt'));
  assert.equal(report.kind, 'plain');
  const active = new Set(report.latents.map((l) => l.latent));
  for (const l of latentsWith('robust-chat-only')) assert.ok(!active.has(l.id), `latent ${l.id} (${l.concept}) must not fire on plain text`);
  for (const l of latentsWith('shared')) assert.ok(active.has(l.id), `shared latent ${l.id} (${l.concept}) fires on plain text`);
});

test('a JSON chat maps content tokens to the document and leaves BOS outside it', () => {
  const file = join(ROOT, 'models/samples/conversation.chat.json');
  const report = analyzeJson(file);
  assert.equal(report.kind, 'chat');
  assert.equal(report.tokens[0].start, null);
  const text = readFileSync(file, 'utf8');
  const paris = report.tokens.find((t) => t.text === ' function');
  assert.ok(paris && paris.start !== null && text.slice(paris.start, paris.end!) === ' function');
});

test('--latent gives the per-token vector and --html writes an escaped page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-cli-'));
  const doc = join(dir, 'inject.txt');
  writeFileSync(doc, 'x <img src=x onerror=alert(1)> 42?');
  const r = analyzeJson(doc, '--latent', '7') as Report & { selected: { latent: number; acts: number[] }[] };
  assert.equal(r.selected[0].latent, 7);
  assert.equal(r.selected[0].acts.length, r.tokens.length);
  const html = join(dir, 'out.html');
  const h = cli('analyze', doc, '--html', html);
  assert.equal(h.status, 0, h.stderr);
  const page = readFileSync(html, 'utf8');
  assert.ok(!page.includes('<img'), 'no token text reaches the page as markup');
  assert.match(page, /"texts":\[[^\]]*\\u003c/, 'token text travels as script-safe JSON data');
  assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;;[^"]*script-src &#39;nonce-/);
});

test('bad input: clear errors naming the file, non-zero exit, no crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-cli-'));
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '   \n');
  const cases: [string[], RegExp][] = [
    [['analyze', join(dir, 'missing.txt')], /missing\.txt: file not found/],
    [['analyze', empty], /empty\.txt: the document is empty/],
    [['analyze', empty, '--bundle', dir], /bundle\.json not found/],
    [['analyze', empty, '--top', '0'], /--top must be an integer >= 1/],
    [['analyze', empty, '--threads', '0'], /--threads must be an integer >= 1/],
    [['generate', empty, '--provider', 'tpu'], /--provider must be one of auto, cpu, cuda, webgpu/],
    [['kl', empty, '--threads', 'two'], /--threads must be an integer >= 1, got "two"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /internal error|at .*\.js:\d+/);
  }
});

test('the human-readable report gives nu_eps, nu_r and the verdict, so the Complete Shrinkage latent does not read chat-only', () => {
  const r = cli('analyze', join(ROOT, 'models/samples/hello-chat.txt'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^latent +max +count +Δnorm +nu_eps +nu_r +tag +verdict$/m);
  const row = (id: number) => r.stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/);
  for (const { id } of latentsWith('complete-shrinkage')) {
    const cells = row(id);
    assert.ok(cells, `latent ${id} is in the report`);
    assert.ok(Number(cells[4]) >= 0.2, `nu_eps of ${id} is ${cells[4]}`);
    assert.deepEqual(cells.slice(-2), ['chat-only', 'complete-shrinkage']);
  }
  for (const { id } of latentsWith('robust-chat-only')) {
    const cells = row(id);
    if (cells) assert.deepEqual(cells.slice(-2), ['chat-only', 'robust-chat-specific']);
  }
});

test('a JSON report over 1 MB piped to a reader that starts late arrives whole', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-cli-'));
  const doc = join(dir, 'long.txt');
  const words = ['alpha', 'beta', 'gamma', 'delta', 'the', 'model', 'chat', 'token', 'is', 'a'];
  writeFileSync(doc, Array.from({ length: 3000 }, (_, i) => words[(i * 7 + (i >> 3)) % words.length]).join(' '));
  const child = spawn(process.execPath, [CLI, 'analyze', doc, '--json', '--top', '20'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  // A reader slower than the writer (another program starting up): read nothing until the CLI has exited
  // or has been kept waiting a while after its first byte. Before the fix the CLI exited with most of its
  // report unwritten; after it, the CLI waits for the reader.
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  await new Promise<void>((done) => child.stdout.once('readable', done));
  await Promise.race([exited, new Promise((done) => setTimeout(done, 1500))]);
  const chunks: Buffer[] = [];
  for await (const chunk of child.stdout) chunks.push(chunk as Buffer);
  assert.equal(await exited, 0, stderr);
  const text = Buffer.concat(chunks).toString('utf8');
  assert.ok(text.length > 1 << 20, `report of ${text.length} bytes`);
  assert.equal((JSON.parse(text) as Report).tokens.length > 2000, true);
});
