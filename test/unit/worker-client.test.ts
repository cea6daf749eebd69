/**
 * The inference worker through its typed client (dist/worker.js from `npm run build`): results, queued
 * requests, cancellation, errors that name the file, and recovery after the worker dies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { CancelledError, InferenceClient } from '../../extension/engine/worker/client';
import { LatentDiffError } from '../../extension/engine/errors';
import { Analyzer } from '../../extension/engine/analysis/analyzer';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');
const newClient = () => new InferenceClient({ workerScript: join(ROOT, 'dist/worker.js'), provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-cache-')) });

test('open, analyze and metrics through the worker', async () => {
  const client = newClient();
  try {
    const stages: string[] = [];
    client.onProgress((p) => stages.push(p.stage));
    const opened = await client.openBundle(DEMO);
    assert.equal(opened.info.dictSize, 512);
    const r = await client.analyze('The answer is 42.', { topK: 5, latents: [3] });
    assert.equal(r.kind, 'plain');
    assert.equal(r.tokens[0].id, 2);
    assert.equal(r.selected[0].acts.length, r.tokens.length);
    assert.ok(r.top.every((row) => row.length <= 5));
    assert.ok(stages.includes('crosscoder'));
    const m = await client.latentMetrics();
    assert.equal(m.deltaNorm.length, 512);
    assert.ok(m.deltaNorm instanceof Float32Array);
  } finally {
    client.dispose();
  }
});

test('queued requests run in order; an aborted one rejects and the rest complete', async () => {
  const client = newClient();
  try {
    await client.openBundle(DEMO);
    const first = new AbortController();
    const a = client.analyze('one two three', {}, first.signal);
    const b = client.analyze('four five six');
    first.abort();
    await assert.rejects(a, CancelledError);
    const rb = await b;
    assert.equal(rb.tokens.map((t) => t.text).join(''), '<bos>four five six');
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(client.analyze('x', {}, pre.signal), CancelledError);
  } finally {
    client.dispose();
  }
});

test('errors cross the worker boundary as LatentDiffError naming the file', async () => {
  const client = newClient();
  try {
    const dir = mkdtempSync(join(tmpdir(), 'ld-bad-bundle-'));
    writeFileSync(join(dir, 'bundle.json'), '{ not json');
    await assert.rejects(client.openBundle(dir), (e: unknown) => e instanceof LatentDiffError && e.file === join(dir, 'bundle.json') && /not valid JSON|JSON/.test(e.message));
    await client.openBundle(DEMO);
    await assert.rejects(client.analyze('   '), (e: unknown) => e instanceof LatentDiffError && /empty/.test(e.message));
    await assert.rejects(client.analyze('hi', { latents: [999999] }), (e: unknown) => e instanceof LatentDiffError && /does not exist/.test(e.message));
    const ok = await client.analyze('still alive');
    assert.ok(ok.tokens.length > 1);
  } finally {
    client.dispose();
  }
});

test('statistics tables are parsed in the worker: the demo feature_df gives the planted nu ratios', async () => {
  const client = newClient();
  try {
    await client.openBundle(DEMO);
    const stats = await client.latentStats(join(DEMO, 'feature_df.csv'), 512);
    const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8')) as { latents: Record<string, { role: string }> };
    const id = (role: string) => Number(Object.entries(truth.latents).find(([, v]) => v.role === role)![0]);
    assert.ok(stats.nuError instanceof Float32Array && stats.nuError.length === 512);
    assert.ok(stats.nuError[id('complete-shrinkage')] > 0.5);
    assert.ok(stats.nuReconstruction![id('latent-decoupling')] > 0.8);
    await assert.rejects(client.latentStats(join(DEMO, 'feature_df.csv'), 10), (e: unknown) => e instanceof LatentDiffError && /another crosscoder/.test(e.message));
  } finally {
    client.dispose();
  }
});

test('max-activating examples are read and decoded in the worker', async () => {
  const client = newClient();
  try {
    await client.openBundle(DEMO);
    const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8')) as { latents: Record<string, { role: string; concept: string }> };
    const template = Number(Object.entries(truth.latents).find(([, v]) => v.concept === 'template')![0]);
    const reply = await client.examples(join(DEMO, 'examples.db'), template, 5);
    assert.ok(reply.examples.length > 0);
    reply.examples.forEach((e, i) => {
      assert.equal(reply.texts[i].length, e.tokenIds.length);
      let arg = 0;
      for (let t = 1; t < e.acts.length; t++) if (e.acts[t] > e.acts[arg]) arg = t;
      assert.match(reply.texts[i][arg], /^<(start|end)_of_turn>$/, 'the template latent peaks on a template token');
    });
  } finally {
    client.dispose();
  }
});

test('when the worker thread dies, its pending request rejects and the next request restarts it with the bundle re-opened', async () => {
  const client = newClient();
  try {
    await client.openBundle(DEMO);
    const before = await client.analyze('The answer is 42.');
    // The worker is private; ending its thread from outside stands in for a native crash.
    const { worker } = (client as unknown as { current: { worker: Worker } }).current;
    const pending = client.analyze('The answer is 42.');
    await worker.terminate();
    await assert.rejects(pending, /the inference worker exited/);
    const after = await client.analyze('The answer is 42.');
    assert.deepEqual(after.tokens.map((t) => t.id), before.tokens.map((t) => t.id));
  } finally {
    client.dispose();
  }
});

test('live edits through the worker: each whole result equals the engine\'s own, also after a cancelled request and a worker restart', async () => {
  const client = newClient();
  const reference = Analyzer.open(DEMO, { provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-cache-')) });
  try {
    await client.openBundle(DEMO);
    let text = '<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\nParis';
    const check = async (what: string) => assert.deepEqual(await client.analyze(text, { topK: 5 }), await reference.analyze(text, { topK: 5 }), what);
    await check('first');
    for (const piece of [' is', ' the', ' capital', '.']) {
      text += piece;
      await check(`after appending "${piece}"`);
    }
    text = text.replace('France', 'Spain');
    await check('after an edit in the middle');
    // Queued behind another request, the cancel reaches the worker before the cancelled one starts (a request
    // the worker already answered settles with its answer, as the channel promises).
    const ahead = client.analyze(text, { topK: 5 });
    const gaveUp = new AbortController();
    const cancelled = client.analyze(`${text} Madrid`, { topK: 5 }, gaveUp.signal);
    gaveUp.abort();
    assert.deepEqual(await ahead, await reference.analyze(text, { topK: 5 }), 'the request ahead of the cancelled one');
    await assert.rejects(cancelled, CancelledError);
    text += ' Really.';
    await check('after a cancelled request');
    await check('the same text again');
    const { worker } = (client as unknown as { current: { worker: Worker } }).current;
    const pending = client.analyze(`${text} No.`);
    await worker.terminate();
    await assert.rejects(pending, /the inference worker exited/);
    text += ' Yes.';
    await check('after the worker restarted');
  } finally {
    client.dispose();
    await reference.dispose();
  }
});
