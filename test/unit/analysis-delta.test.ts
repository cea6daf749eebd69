/**
 * Analysis results as deltas between the worker and the client (analysis-delta.ts), on random documents and
 * random edits: the client's whole result deep-equals the worker's, only the tokens after the shared prefix
 * travel, a reply to a request the client gave up on leaves the next reply whole, and a reply that builds on
 * a result the client does not hold is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeldAnalyses, SentAnalyses, sharedTokens, type AnalysisReply } from '../../extension/engine/worker/analysis-delta';
import { emptyRanking } from '../../extension/engine/analysis/latent-ranking';
import { seededRandom } from '../../extension/engine/random';
import type { AnalysisResult, TokenInfo } from '../../extension/engine/types';

/** A result over `ids`, each token's text and row a function of its id and position (so edits shift them). */
function resultOf(ids: number[], salt: number): AnalysisResult {
  let at = 0;
  const tokens: TokenInfo[] = ids.map((id) => {
    const text = `t${id}`;
    const t = { id, text, start: at, end: at + text.length, template: id % 7 === 0, special: id === 2 };
    at += text.length;
    return t;
  });
  const top = ids.map((id, i) => Array.from({ length: (id + i) % 4 }, (_, k) => ({ latent: (id * 31 + k) % 512, act: ((id * 7 + i * salt + k) % 13) / 4 })));
  return { bundle: { name: 'b', dir: '/b', layer: 1, dModel: 4, dictSize: 512, baseModel: 'base', chatModel: 'chat', crosscoderKind: 'relu', crosscoderIdentity: 'id' }, provider: 'cpu', kind: 'plain', tokens, top, latents: emptyRanking(), selected: [{ latent: 3, acts: ids.map((id) => id / 10) }] };
}

/** The shared prefix written out: equal token fields and equal rows. */
function expectedShared(a: AnalysisResult, b: AnalysisResult): number {
  let i = 0;
  while (i < Math.min(a.tokens.length, b.tokens.length) && JSON.stringify(a.tokens[i]) === JSON.stringify(b.tokens[i]) && JSON.stringify(a.top[i]) === JSON.stringify(b.top[i])) i++;
  return i;
}

test('random edits: the client rebuilds every result whole, and only the tail after the shared prefix travels', () => {
  const rand = seededRandom(7);
  const sent = new SentAnalyses();
  const held = new HeldAnalyses();
  let ids = Array.from({ length: 40 }, () => 2 + Math.floor(rand() * 50));
  let previous: AnalysisResult | undefined;
  let deltas = 0;
  for (let step = 0; step < 60; step++) {
    const at = Math.floor(rand() * (ids.length + 1));
    const kind = Math.floor(rand() * 3);
    if (kind === 0) ids = [...ids.slice(0, at), 2 + Math.floor(rand() * 50), ...ids.slice(at)];
    else if (kind === 1 && ids.length > 1) ids = [...ids.slice(0, at), ...ids.slice(at + 1)];
    else ids = [...ids.slice(0, at), 2 + Math.floor(rand() * 50), ...ids.slice(at + 1)];
    // Every fifth result changes its rows everywhere (another top-k, say): nothing is shared then.
    const next = resultOf(ids, step % 5 === 0 ? step : 1);
    const before = held.holding();
    const reply = sent.reply(next, before?.id);
    const whole = held.accept(structuredClone(reply), before);
    assert.deepEqual(whole, next, `step ${step}`);
    if (previous) {
      assert.equal(reply.keep, expectedShared(previous, next), `step ${step}: kept tokens`);
      assert.equal(reply.result.tokens.length, next.tokens.length - reply.keep);
      assert.equal(sharedTokens(previous, next), reply.keep);
      if (reply.keep > 0) deltas++;
    } else assert.equal(reply.base, undefined, 'the first reply is whole');
    previous = next;
  }
  assert.ok(deltas > 30, `most replies were deltas (${deltas} of 59)`);
});

test('a reply the client never accepted (a cancelled request) makes the next one whole; a reply on a result the client lacks is refused', () => {
  const sent = new SentAnalyses();
  const held = new HeldAnalyses();
  const a = resultOf([2, 10, 11, 12], 1);
  held.accept(sent.reply(a, undefined), undefined);
  const before = held.holding();
  sent.reply(resultOf([2, 10, 11, 12, 13], 1), before?.id); // the client gave up on this one
  const c = resultOf([2, 10, 11, 12, 13, 14], 1);
  const reply = sent.reply(c, before?.id);
  assert.equal(reply.base, undefined);
  assert.equal(reply.keep, 0);
  assert.deepEqual(held.accept(reply, before), c);
  const d = sent.reply(resultOf([2, 10, 11, 12, 13, 14, 15], 1), held.holding()?.id);
  assert.equal(d.keep, 6);
  const stranger: AnalysisReply = { ...d, base: 'another worker' };
  assert.throws(() => new HeldAnalyses().accept(stranger, held.holding()), /builds on another worker, which this client does not hold/);
  assert.throws(() => new HeldAnalyses().accept(d, undefined), /does not hold/);
});
