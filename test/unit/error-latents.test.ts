/**
 * The error-latent sets (engine/analysis/stats/error-latents.ts) against independent computations written here:
 * the paper's set is exactly the N lowest float32 dec_norm_diff latents (ranked by sorting order-preserving
 * integer keys, a different route than the engine's comparator), ties broken by latent id, NaN last, at the
 * paper's size (73,728 latents, N = 3,176) on random decoder norms with planted ties; its shared baseline is the
 * rows pandas' DataFrame.sample(N, random_state=42) takes, from numpy's RandomState permutation
 * (fixture generated with numpy, test/fixtures/numpy-permutation.json). Also which crosscoders default to it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  defaultErrorLatents, errorLatentSet, errorLatentsName, isPaperCrosscoder, PAPER_ERROR_LATENTS,
} from '../../extension/engine/analysis/stats/error-latents';
import { legacyPermutation } from '../../extension/engine/legacy-permutation';
import { seededRandom } from '../../extension/engine/random';
import { TAG_CODES, type LatentMetrics } from '../../extension/engine/types';

const fixture = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'numpy-permutation.json'), 'utf8')) as { cases: { n: number; seed: number; prefix: number[] }[] };
const SHARED = TAG_CODES.indexOf('shared');

function metrics(base: Float32Array, chat: Float32Array, tag: Uint8Array): LatentMetrics {
  const D = base.length;
  const z = () => new Float32Array(D);
  const deltaNorm = Float32Array.from({ length: D }, (_, j) => 0.5 * ((chat[j] - base[j]) / Math.max(base[j], chat[j]) + 1));
  return { dictSize: D, decNormBase: base, decNormChat: chat, deltaNorm, decCos: z(), encNormBase: z(), encNormChat: z(), encCos: z(), scale: z().fill(1), tag };
}

/** float32 bits of x mapped to an unsigned integer that sorts like x (NaN above everything). */
function sortableKey(x: number): number {
  const u = new Uint32Array(Float32Array.of(x).buffer)[0];
  if (Number.isNaN(x)) return 0xffffffff;
  return u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/** The N lowest dec_norm_diff latents, as the paper's code computes dec_norm_diff (float32 tensors throughout). */
function expectedChatLeaning(base: Float32Array, chat: Float32Array, n: number): Set<number> {
  const D = base.length;
  const diff = new Float32Array(D);
  const max = new Float32Array(D);
  for (let j = 0; j < D; j++) max[j] = base[j] > chat[j] ? base[j] : chat[j];
  for (let j = 0; j < D; j++) diff[j] = base[j] - chat[j];
  for (let j = 0; j < D; j++) diff[j] = diff[j] / max[j];
  for (let j = 0; j < D; j++) diff[j] = diff[j] + 1;
  for (let j = 0; j < D; j++) diff[j] = diff[j] / 2;
  // key * 2^17 + id is exact in a double (2^49 < 2^53): one numeric sort ranks by value, then id
  const composite = Float64Array.from({ length: D }, (_, j) => sortableKey(diff[j]) * 131072 + j).sort();
  return new Set(Array.from(composite.subarray(0, n), (c) => c % 131072));
}

test('legacyPermutation reproduces numpy RandomState(seed).permutation(n)', () => {
  for (const c of fixture.cases) assert.deepEqual(Array.from(legacyPermutation(c.n, c.seed).subarray(0, c.prefix.length)), c.prefix, `n=${c.n} seed=${c.seed}`);
});

test('paper set at the paper size: exactly the 3,176 lowest dec_norm_diff latents, ties by latent id, NaN last', () => {
  const D = 73_728;
  const rand = seededRandom(5);
  const base = Float32Array.from({ length: D }, () => rand() * 0.6);
  const chat = Float32Array.from({ length: D }, () => rand() * 0.6);
  // ties: 40 latents with the same pair of norms, whose dec_norm_diff sits right at the cut
  const sorted = Float64Array.from({ length: D }, (_, j) => Math.fround(Math.fround(Math.fround(base[j] - chat[j]) / Math.max(base[j], chat[j]) + 1) / 2)).sort();
  const cut = sorted[PAPER_ERROR_LATENTS - 1];
  const tieIds: number[] = [];
  for (let j = 0; j < D && tieIds.length < 40; j++) {
    const v = Math.fround(Math.fround(Math.fround(base[j] - chat[j]) / Math.max(base[j], chat[j]) + 1) / 2);
    if (v > cut + 0.05) tieIds.push(j);
  }
  const donor = Array.from({ length: D }, (_, j) => j).find((j) => Math.fround(Math.fround(Math.fround(base[j] - chat[j]) / Math.max(base[j], chat[j]) + 1) / 2) === cut)!;
  for (const j of tieIds) [base[j], chat[j]] = [base[donor], chat[donor]];
  for (const j of [7, 70, 700]) base[j] = chat[j] = 0; // never fires in either model: NaN, never chosen
  const tag = new Uint8Array(D).map((_, j) => (j % 3 === 0 ? SHARED : 0));
  const set = errorLatentSet(metrics(base, chat, tag), { paper: PAPER_ERROR_LATENTS }, 42);
  const expected = expectedChatLeaning(base, chat, PAPER_ERROR_LATENTS);
  const chosen = new Set(Array.from(set.keys()).filter((j) => set[j] === 1));
  assert.equal(chosen.size, PAPER_ERROR_LATENTS);
  assert.deepEqual([...chosen].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
  const tiedIn = [donor, ...tieIds].sort((a, b) => a - b).filter((j) => chosen.has(j));
  assert.ok(tiedIn.length > 0 && tiedIn.length < tieIds.length + 1, 'the planted ties straddle the cut');
  assert.deepEqual(tiedIn, [donor, ...tieIds].sort((a, b) => a - b).slice(0, tiedIn.length), 'the lowest ids of the tie are in');
  for (const j of [7, 70, 700]) assert.equal(chosen.has(j), false);
});

test('paper set: the shared baseline is the rows pandas .sample(N, random_state=seed) takes from the Shared latents', () => {
  const c = fixture.cases.find((x) => x.n === 1000 && x.seed === 42)!;
  const D = 4000;
  const rand = seededRandom(9);
  const base = Float32Array.from({ length: D }, () => 0.1 + rand());
  const chat = Float32Array.from({ length: D }, () => 0.1 + rand());
  const sharedIds = Array.from({ length: 1000 }, (_, k) => 3 + 4 * k); // 1000 Shared latents, in latent order
  const tag = new Uint8Array(D);
  for (const j of sharedIds) tag[j] = SHARED;
  const n = c.prefix.length;
  const set = errorLatentSet(metrics(base, chat, tag), { paper: n }, 42);
  const chatLeaning = expectedChatLeaning(base, chat, n);
  const baseline = new Set(c.prefix.map((k) => sharedIds[k]));
  for (let j = 0; j < D; j++) assert.equal(set[j], chatLeaning.has(j) ? 1 : baseline.has(j) ? 2 : 0, `latent ${j}`);
});

test('the paper set is the default only for the paper crosscoders; today\'s set stays available', () => {
  assert.equal(isPaperCrosscoder(73_728, 2_304), true);
  assert.equal(isPaperCrosscoder(512, 64), false);
  assert.equal(isPaperCrosscoder(73_728, 4_096), false);
  assert.deepEqual(defaultErrorLatents(73_728, 2_304), { paper: 3176 });
  assert.equal(defaultErrorLatents(16_384, 2_304), 'chat-only');
  assert.deepEqual([{ paper: 3176 }, 'chat-only', 300, 'all'].map((w) => errorLatentsName(w as never)), ['paper:3176', 'chat-only', 'top:300', 'all']);
});
