/**
 * Generation through the inference worker (dist/worker.js from `npm run build`) and its typed client: tokens
 * stream as events carrying their output and position before the reply, the reply matches the demo's ground
 * truth, and aborting mid-generation rejects with CancelledError after the tokens already streamed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { GenerationEvent } from '../../extension/engine/analysis/generate/generate-request';
import { LatentDiffError } from '../../extension/engine/errors';
import { CancelledError, InferenceClient } from '../../extension/engine/worker/client';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');
const behaviour = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8')).behaviour;
const CHAT = JSON.stringify({ messages: [{ role: 'user', content: 'Can you explain recursion?' }] });

test('generate streams token events, then replies; abort cancels mid-generation; errors keep their file', async () => {
  const client = new InferenceClient({ workerScript: join(ROOT, 'dist/worker.js'), provider: 'cpu', cacheDir: mkdtempSync(join(tmpdir(), 'ld-wgen-')) });
  try {
    await client.openBundle(DEMO);
    const events: GenerationEvent[] = [];
    let settled = false;
    const end = behaviour.steering[0];
    const r = await client.generate(CHAT, { model: 'both', steer: [{ latent: end.latent, strength: end.strength }] }, (e) => {
      assert.ok(!settled, 'no token after the reply');
      events.push(e);
    });
    settled = true;
    assert.deepEqual(r.outputs.map((o) => o.ids), [behaviour.chatAnswer.ids, end.ids, behaviour.baseAnswer.ids, behaviour.baseAnswer.ids]);
    r.outputs.forEach((o, i) => assert.deepEqual(events.filter((e) => e.output === i).map((e) => [e.index, e.token.id, e.steered, e.model]), o.ids.map((id, k) => [k, id, i % 2 === 1, o.model])));

    const abort = new AbortController();
    let seen = 0;
    const cancelled = client.generate(CHAT, { maxNew: 30 }, () => {
      if (++seen === 2) abort.abort();
    }, abort.signal);
    await assert.rejects(cancelled, CancelledError);
    assert.ok(seen >= 2 && seen < behaviour.chatAnswer.ids.length);

    const bad = await client.generate(JSON.stringify({ messages: [{ role: 'assistant', content: 'Hi' }] }), { docName: '/tmp/x.json' }, () => {}).catch((e) => e);
    assert.ok(bad instanceof LatentDiffError);
    assert.equal(bad.file, '/tmp/x.json');
    assert.equal(bad.code, 'not-a-user-turn');
    // The worker still serves after a cancel and an error.
    assert.deepEqual((await client.generate(CHAT, {}, () => {})).outputs[0].ids, behaviour.chatAnswer.ids);
  } finally {
    client.dispose();
  }
});
