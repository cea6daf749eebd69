/**
 * The document's latent list (rankLatents): exactly the latents with count > 0, ordered as the comparator
 * "descending max, then ascending latent id" orders them, written out in the test over objects; on random
 * inputs with many ties, negative and signed-zero maxima, and on a dictionary too large for packed keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rankedLatents, rankLatents } from '../../extension/engine/analysis/latent-ranking';
import { seededRandom } from '../../extension/engine/random';

function expected(max: Float32Array, count: Int32Array, argmax: Int32Array) {
  const out: { latent: number; max: number; count: number; argmaxToken: number }[] = [];
  for (let j = 0; j < max.length; j++) if (count[j] > 0) out.push({ latent: j, max: max[j], count: count[j], argmaxToken: argmax[j] });
  return out.sort((a, b) => b.max - a.max || a.latent - b.latent);
}

function randomCase(D: number, seed: number, firing: number) {
  const rand = seededRandom(seed);
  // Few distinct values so that ties are common; both signs and both zeros.
  const values = [0, -0, 1.5, -2.25, 3e-8, 7, 7.000001, -1e30, 1e30, 0.1];
  const max = Float32Array.from({ length: D }, () => (rand() < 0.5 ? values[Math.floor(rand() * values.length)] : (rand() - 0.3) * 10));
  const count = Int32Array.from({ length: D }, () => (rand() < firing ? 1 + Math.floor(rand() * 40) : 0));
  const argmax = Int32Array.from({ length: D }, () => Math.floor(rand() * 1000));
  return { max, count, argmax };
}

test('rankLatents equals the comparator sort on random inputs with ties and signed zeros', () => {
  for (const [D, seed, firing] of [[1, 1, 1], [7, 2, 0.5], [1000, 3, 0.9], [73728, 4, 0.96], [5000, 5, 0]] as const) {
    const { max, count, argmax } = randomCase(D, seed, firing);
    const got = rankLatents(max, count, argmax);
    assert.deepEqual(rankedLatents(got), expected(max, count, argmax), `D=${D}`);
    assert.deepEqual(rankedLatents(got, 3), expected(max, count, argmax).slice(0, 3), `D=${D}, first 3`);
  }
});

test('rankLatents on a view into a larger buffer, and on a dictionary too large for packed keys', () => {
  const { max, count, argmax } = randomCase(3000, 6, 0.8);
  const view = new Float32Array(max.buffer, 400 * 4, 2000);
  assert.deepEqual(rankedLatents(rankLatents(view, count.subarray(400, 2400), argmax.subarray(400, 2400))), expected(view, count.subarray(400, 2400), argmax.subarray(400, 2400)));
  const D = 2 ** 21 + 5;
  const big = { max: new Float32Array(D), count: new Int32Array(D), argmax: new Int32Array(D) };
  for (const [j, m] of [[D - 1, 3], [0, 3], [2 ** 21, 9], [17, -1]] as const) {
    big.max[j] = m;
    big.count[j] = 2;
    big.argmax[j] = j % 11;
  }
  assert.deepEqual(rankedLatents(rankLatents(big.max, big.count, big.argmax)), expected(big.max, big.count, big.argmax));
  assert.deepEqual(Array.from(rankLatents(big.max, big.count, big.argmax).latent), [2 ** 21, 0, D - 1, 17]);
});
