/**
 * The inference worker's causal requests through its client (dist/worker.js from `npm run build`) on the demo
 * bundle, against its ground truth (ground-truth.json, behaviour): `kl` (the patching experiment: the robust
 * latents recover the chat model), `divergence` (after "<start_of_turn>model\n" each model's top next token
 * is the first token of its planted answer, and they disagree there), and `logitEffects` refused with a clear
 * error for models that do not expose an unembedding (the demo's second halves compute their logits in-graph).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { InferenceClient } from '../../extension/engine/worker/client';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');
const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));

test('worker: kl, divergence and logitEffects on the demo bundle', async () => {
  const client = new InferenceClient({ workerScript: join(ROOT, 'dist/worker.js'), provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-cache-')) });
  try {
    await client.openBundle(DEMO);
    const text = JSON.stringify({ messages: [{ role: 'user', content: 'Please help me.' }, { role: 'assistant', content: truth.behaviour.chatAnswer.text }] });
    const progress: string[] = [];
    const sub = client.onProgress((p) => progress.push(p.message));
    const report = await client.kl(text, 'chat.json', { interventions: ['none'], sets: ['robust'] });
    sub.dispose();
    assert.equal(report.documents, 1);
    assert.deepEqual(report.documentNames, ['chat.json#1']);
    assert.ok(progress.some((m) => /1 chat, \d+ tokens scored/.test(m)), progress.join('; '));
    const [none, robust] = report.interventions;
    assert.ok(robust.kl.all.mean < 0.05 * none.kl.all.mean, `${robust.kl.all.mean} vs ${none.kl.all.mean}`);

    const div = await client.divergence(text, { topK: 3 });
    assert.equal(div.kl.length, div.tokens.length);
    const texts = div.tokens.map((t) => t.text);
    const t = texts.lastIndexOf('model') + 1; // the "\n" after model: the answers start here
    assert.equal(texts[t], '\n');
    assert.equal(div.chatTopIds[t * 3], truth.behaviour.chatAnswer.ids[0]);
    assert.equal(div.baseTopIds[t * 3], truth.behaviour.baseAnswer.ids[0]);
    assert.ok(div.kl[t] > 1, `the models disagree where the answers start (${div.kl[t]})`);
    assert.ok(div.chatTopProbs[t * 3] > 0.5 && div.chatTopProbs[t * 3] <= 1);

    await assert.rejects(client.logitEffects(3), (e: unknown) => e instanceof Error && /does not expose its unembedding/.test(e.message));
    await assert.rejects(client.kl(text, 'chat.json', { latentLists: [[1e6]] }), (e: unknown) => e instanceof Error && /latent 1000000 does not exist/.test(e.message));
  } finally {
    client.dispose();
  }
});
