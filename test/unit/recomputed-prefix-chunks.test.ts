/**
 * The patching experiment over ONNX-file models (the demo bundle, real onnxruntime-node, graphs without
 * key/value inputs that rerun from position 0 on every call): with the default chunking a chat runs through
 * each second half once (positions fed = T per second-half run, not the sum over 64-position chunks of every
 * prefix), and the per-token KL of every intervention equals the same experiment in 32-position chunks within
 * 1e-5.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { chatDocumentsOfText } from '../../extension/engine/analysis/patching/chat-documents';
import { patchCrosscoder, RAW_CODES } from '../../extension/engine/analysis/patching/patch-crosscoder';
import { documentKl } from '../../extension/engine/analysis/patching/patching-experiment';
import type { Intervention } from '../../extension/engine/analysis/patching/interventions';
import { LogitsHeadSession } from '../../extension/engine/runtime/logits-head-session';
import { secondHalfChunk } from '../../extension/engine/runtime/split-model';

const DEMO = resolve(__dirname, '../../models/demo');

test('patching over a model that recomputes its prefix: one second-half run per intervention, same KL as 32-position chunks', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ld-recomputed-'));
  const analyzer = Analyzer.open(DEMO, { provider: 'cpu', cacheDir });
  const run = LogitsHeadSession.prototype.run;
  const fed: number[] = [];
  LogitsHeadSession.prototype.run = function (resid, T, n, request) {
    fed.push(T);
    return run.call(this, resid, T, n, request);
  };
  try {
    const l = await analyzer.load();
    const messages = [
      { role: 'user', content: 'Could you look at this code and tell me what it does, line by line, please?' },
      { role: 'assistant', content: 'It reads a file, counts the words in every line and prints the ten most common ones.' },
      { role: 'user', content: 'And how would I make it ignore case?' },
      { role: 'assistant', content: 'Lower-case each word before counting it.' },
    ];
    const [doc] = chatDocumentsOfText(l.tokenizer, JSON.stringify({ messages }), 'chat.jsonl');
    const T = doc.ids.length;
    assert.ok(T > 64, `the chat is longer than one 64-position chunk (${T} tokens)`);
    assert.equal(secondHalfChunk(l.pair.chat, T), T, 'the demo chat model recomputes its prefix: the whole chat in one call');
    const crosscoder = patchCrosscoder(await l.pair.crosscoder(l.metrics, RAW_CODES), analyzer.bundle.crosscoder);
    const interventions: Intervention[] = [
      { name: 'none', kind: 'none', latents: [] },
      { name: 'all', kind: 'all', latents: [] },
      { name: 'chat-error', kind: 'chat-error', latents: [] },
      { name: 'latents', kind: 'latents', latents: [3, 283, 356] },
    ];
    const models = { base: l.pair.base, chat: l.pair.chat, crosscoder };
    fed.length = 0;
    const whole = await documentKl(models, doc.ids, interventions);
    assert.deepEqual(fed, Array(1 + interventions.length).fill(T), 'the reference and each intervention: one second-half run over the T positions');
    const chunked = await documentKl(models, doc.ids, interventions, { chunkTokens: 32 });
    interventions.forEach((iv, i) => {
      for (let t = 0; t < T; t++) assert.ok(Math.abs(whole[i][t] - chunked[i][t]) <= 1e-5, `${iv.name} at ${t}: ${whole[i][t]} vs ${chunked[i][t]}`);
    });
    assert.ok(whole[0].some((v) => v > 1e-3), 'the unpatched base residual gives a non-zero KL somewhere');
  } finally {
    LogitsHeadSession.prototype.run = run;
    await analyzer.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});
