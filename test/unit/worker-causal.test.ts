/**
 * The inference worker's causal requests through its client (dist/worker.js from `npm run build`) on the demo
 * bundle, against its ground truth (ground-truth.json, behaviour): `kl` (the patching experiment: the robust
 * latents recover the chat model), `divergence` (after "<start_of_turn>model\n" each model's top next token
 * is the first token of its planted answer, and they disagree there), and `logitEffects` (through the
 * unembedding bundle.json names: the template latent's chat decoder promotes <end_of_turn> first, the readout
 * its steering entry relies on; a latent out of range is refused).
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

    const template = truth.behaviour.steering[0];
    const effects = await client.logitEffects(template.latent, 10);
    assert.equal(effects.latent, template.latent);
    for (const m of ['base', 'chat'] as const) assert.deepEqual([effects[m].promoted.length, effects[m].suppressed.length], [10, 10]);
    assert.equal(effects.chat.promoted[0].id, template.ids[0]);
    await assert.rejects(client.logitEffects(truth.dictSize), (e: unknown) => e instanceof Error && /latent 512 does not exist/.test(e.message));
    await assert.rejects(client.kl(text, 'chat.json', { latentLists: [[1e6]] }), (e: unknown) => e instanceof Error && /latent 1000000 does not exist/.test(e.message));
  } finally {
    client.dispose();
  }
});
