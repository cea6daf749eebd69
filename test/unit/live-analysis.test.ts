/**
 * Incremental live analysis on the demo bundle (real onnxruntime-node, real Gemma 2 tokenizer): after random
 * edits (insert, delete, replace at the start, middle and end) an analyzer that keeps the last document's
 * caches gives the same tokens, per-token top latents, per-latent summary and selected activations as a fresh
 * analyzer, within 1e-5, for documents within one context window and for documents over several windows;
 * appending text reruns the models and the crosscoder on the new tokens only, and an edit in a later window
 * leaves the windows before it alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { seededRandom } from '../../extension/engine/random';
import { CrosscoderRunner } from '../../extension/engine/runtime/crosscoder-runner';
import { contextWindows } from '../../extension/engine/runtime/model-runner';
import { RecomputingSplitModel } from '../../extension/engine/runtime/recomputing-split-model';
import { assertSameAnalysis as assertSame } from './same-analysis';

const DEMO = resolve(__dirname, '../../models/demo');
const cacheDir = mkdtempSync(join(tmpdir(), 'ld-live-'));
const open = (contextWindow?: number) => Analyzer.open(DEMO, { provider: 'cpu', cacheDir, contextWindow });
const SELECT = [3, 283, 356];

async function randomEdits(seed: number, contextWindow: number | undefined): Promise<void> {
  const rand = seededRandom(seed);
  const words = ['the', 'model', '?', ' 42', ',', 'def f(x):', '\n', 'return', 'user', ' an', 'Paris.', '<start_of_turn>user\n', '<end_of_turn>\n', '<start_of_turn>model\n'];
  let text = '<start_of_turn>user\nWhat is the capital of France?<end_of_turn>\n<start_of_turn>model\nParis is the capital, 1 of 2 answers.<end_of_turn>\n';
  const live = open(contextWindow);
  try {
    await live.analyze(text, { latents: SELECT });
    const edits = ['insert', 'delete', 'replace'].flatMap((kind) => ['start', 'middle', 'end'].map((where) => ({ kind, where })));
    for (const { kind, where } of [...edits, ...edits]) {
      const at = where === 'start' ? Math.floor(rand() * 3) : where === 'end' ? text.length - Math.floor(rand() * 3) : Math.floor(text.length * (0.3 + 0.4 * rand()));
      const len = 1 + Math.floor(rand() * 6);
      const piece = words[Math.floor(rand() * words.length)];
      if (kind === 'insert') text = text.slice(0, at) + piece + text.slice(at);
      else if (kind === 'delete') text = text.slice(0, at) + text.slice(Math.min(text.length, at + len));
      else text = text.slice(0, at) + piece + text.slice(Math.min(text.length, at + len));
      if (text.trim() === '') text = 'x';
      const fresh = open(contextWindow);
      try {
        assertSame(await live.analyze(text, { latents: SELECT }), await fresh.analyze(text, { latents: SELECT }), `${kind} at ${where}`);
      } finally {
        await fresh.dispose();
      }
    }
    // Other latents or another top-k on the same text, then an edit: still equal.
    const again = await live.analyze(text, { latents: [7], topK: 40 });
    const fresh = open(contextWindow);
    try {
      assertSame(again, await fresh.analyze(text, { latents: [7], topK: 40 }), 'other latents');
      text += ' More words at the end?';
      assertSame(await live.analyze(text, { latents: [7], topK: 40 }), await fresh.analyze(text, { latents: [7], topK: 40 }), 'append after a settings change');
    } finally {
      await fresh.dispose();
    }
  } finally {
    await live.dispose();
  }
}

test('random edits: the incremental analysis equals a fresh one within 1e-5', () => randomEdits(11, undefined));

test('random edits over several context windows (12 tokens): equal to a fresh analysis within 1e-5', () => randomEdits(12, 12));

test('appending text reruns both models and the crosscoder on the new tokens only', async () => {
  const fedIds: number[] = [];
  const encoded: number[] = [];
  const firstHalf = RecomputingSplitModel.prototype.firstHalf;
  const encode = CrosscoderRunner.prototype.encode;
  RecomputingSplitModel.prototype.firstHalf = function (ids, cache) {
    fedIds.push(ids.length);
    return firstHalf.call(this, ids, cache);
  };
  CrosscoderRunner.prototype.encode = function (xBase, xChat, T, select, onChunk) {
    encoded.push(T);
    return encode.call(this, xBase, xChat, T, select, onChunk);
  };
  const a = open();
  try {
    const text = Array.from({ length: 60 }, (_, i) => `Sentence ${i} says little.`).join(' ');
    const first = await a.analyze(text);
    fedIds.length = 0;
    encoded.length = 0;
    const longer = await a.analyze(text + ' And');
    const added = longer.tokens.length - first.tokens.length;
    assert.ok(added >= 1);
    assert.deepEqual(fedIds, [added, added], 'each model gets only the new tokens');
    assert.deepEqual(encoded, [added], 'the crosscoder encodes only the new tokens');
  } finally {
    RecomputingSplitModel.prototype.firstHalf = firstHalf;
    CrosscoderRunner.prototype.encode = encode;
    await a.dispose();
  }
});

test('an edit in a later context window reruns the models from the changed token on, not the windows before it', async () => {
  const fed: number[][] = [];
  const firstHalf = RecomputingSplitModel.prototype.firstHalf;
  RecomputingSplitModel.prototype.firstHalf = function (ids, cache) {
    fed.push([ids.length, cache?.length ?? 0]);
    return firstHalf.call(this, ids, cache);
  };
  const W = 16;
  const a = open(W);
  try {
    const text = Array.from({ length: 12 }, (_, i) => `Sentence ${i} says little.`).join(' ');
    const before = await a.analyze(text);
    const T = before.tokens.length;
    assert.ok(T > 3 * W, `the document spans several windows (${T} tokens)`);
    // Change a word inside the third window (tokens 31..45): windows 1 and 2 stay, window 3 resumes, the rest rerun.
    const target = before.tokens.findIndex((t, i) => i > 2 * W + 2 && t.text.trim() === 'says');
    const at = before.tokens[target].start;
    assert.ok(at !== null, 'the changed word is document text');
    fed.length = 0;
    const after = await a.analyze(text.slice(0, at) + 'said' + text.slice(at + 'says'.length));
    const t0 = after.tokens.findIndex((t, i) => t.id !== before.tokens[i]?.id);
    assert.ok(t0 >= 2 * W - 1 && t0 < 3 * W - 2, `the first changed token ${t0} is in the third window`);
    const windows = contextWindows(after.tokens.length, W).slice(2);
    const oldWindows = contextWindows(T, W).length;
    // [tokens fed, positions already in the cache]: the third window from the changed token on (its cache holds
    // the BOS and the unchanged tokens), each later window from its first token on (its cache holds the BOS;
    // a window the old document did not have runs behind a fresh BOS).
    const expected = windows.map((w, i) => (i === 0 ? [w.end - t0, 1 + t0 - w.start] : i + 2 < oldWindows ? [w.end - w.start, 1] : [w.end - w.start + 1, 0]));
    assert.deepEqual(fed, [...expected, ...expected], 'per model: nothing of the first two windows reruns');
  } finally {
    RecomputingSplitModel.prototype.firstHalf = firstHalf;
    await a.dispose();
  }
});
