/**
 * Next/previous strongest token and the top latent under the cursor (host/strongest-tokens.ts) against a
 * brute-force walk written here: on random activations with ties and tokens outside the document, stepping
 * forward from nothing visits every firing token once, strongest first, and stepping back retraces it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepStrongest, strongestOrder, topLatentOf } from '../../extension/host/strongest-tokens';
import { seededRandom } from '../../extension/engine/random';

function randomCase(rng: () => number) {
  const n = 5 + Math.floor(rng() * 60);
  let offset = 0;
  const tokens = Array.from({ length: n }, () => {
    const len = Math.floor(rng() * 4); // 0: an empty span (byte-fallback tail)
    const inDoc = rng() > 0.1;
    const t = inDoc ? { start: offset, end: offset + len } : { start: null, end: null };
    offset += len;
    return t;
  });
  // Few distinct values so that ties happen; about a third of the tokens do not fire.
  const acts = Float32Array.from({ length: n }, () => (rng() < 0.35 ? 0 : Math.round(rng() * 5) / 2));
  return { tokens, acts };
}

test('stepping from no token visits every firing token in the document once, strongest first, ties in document order', () => {
  const rng = seededRandom(7);
  for (let c = 0; c < 200; c++) {
    const { tokens, acts } = randomCase(rng);
    const firing = tokens.map((_, i) => i).filter((i) => tokens[i].start !== null && tokens[i].end! > tokens[i].start! && acts[i] > 0);
    const order = strongestOrder(tokens, acts);
    const visited: number[] = [];
    let at = -1;
    for (let k = 0; k < firing.length; k++) {
      at = stepStrongest(order, at, 1)!;
      visited.push(at);
    }
    assert.deepEqual([...visited].sort((a, b) => a - b), firing, 'each firing token once');
    for (let k = 1; k < visited.length; k++) {
      const [p, q] = [visited[k - 1], visited[k]];
      assert.ok(acts[p] > acts[q] || (acts[p] === acts[q] && p < q), `order at step ${k}`);
    }
    if (firing.length > 0) {
      assert.equal(stepStrongest(order, visited[visited.length - 1], 1), visited[0], 'wraps to the strongest');
      for (let k = visited.length - 1; k > 0; k--) assert.equal(stepStrongest(order, visited[k], -1), visited[k - 1]);
      assert.equal(stepStrongest(order, -1, -1), visited[visited.length - 1], 'back from nothing: the weakest');
    } else {
      assert.equal(stepStrongest(order, -1, 1), undefined);
    }
  }
});

test('the top latent of a token is the one with the largest activation, whatever the list order', () => {
  const rng = seededRandom(11);
  for (let c = 0; c < 100; c++) {
    const row = Array.from({ length: Math.floor(rng() * 8) }, (_, k) => ({ latent: 100 + k, act: rng() * 10 }));
    const shuffled = [...row].sort(() => rng() - 0.5);
    let best: number | undefined;
    let bestAct = -Infinity;
    for (const r of row) if (r.act > bestAct) { bestAct = r.act; best = r.latent; }
    assert.equal(topLatentOf(shuffled), best);
  }
});
