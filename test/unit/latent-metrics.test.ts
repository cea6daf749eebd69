import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeLatentMetrics, deltaNorm } from '../../extension/engine/latents/metrics';
import { loadOrComputeLatentMetrics, metricsCachePath } from '../../extension/engine/latents/metrics-cache';
import { DEFAULT_TAG_THRESHOLDS, tagOf } from '../../extension/engine/latents/tags';
import { LatentDiffError } from '../../extension/engine/errors';
import { TAG_CODES, type CodeNormalization, type LatentMetrics } from '../../extension/engine/types';
import { maxRelErr, refGeometry, refScale, writeFixture, type FixtureOptions, type RefGeometry } from './crosscoder-graph-fixture';

const TOL = 1e-5;

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ld-metrics-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

/** Reference Delta-norm and tag, written from method.md 4.1 on dec_norm_diff (the code's column). */
function refDeltaAndTag(g: RefGeometry, j: number): { delta: number; tag: string } {
  const b = g.decNormBase[j];
  const c = g.decNormChat[j];
  const decNormDiff = 0.5 * ((b - c) / Math.max(b, c) + 1);
  const tag = decNormDiff < 0.1 ? 'chat-only' : decNormDiff > 0.9 ? 'base-only' : Math.abs(decNormDiff - 0.5) < 0.1 ? 'shared' : 'other';
  return { delta: 1 - decNormDiff, tag };
}

function checkAgainstReference(m: LatentMetrics, g: RefGeometry, norm: CodeNormalization): void {
  const D = g.decNormBase.length;
  assert.equal(m.dictSize, D);
  assert.ok(maxRelErr(m.decNormBase, g.decNormBase, 1e-6) < TOL, 'decoder norm, base');
  assert.ok(maxRelErr(m.decNormChat, g.decNormChat, 1e-6) < TOL, 'decoder norm, chat');
  assert.ok(maxRelErr(m.encNormBase, g.encNormBase, 1e-6) < TOL, 'encoder norm, base');
  assert.ok(maxRelErr(m.encNormChat, g.encNormChat, 1e-6) < TOL, 'encoder norm, chat');
  // Cosines live in [-1, 1]: their error is relative to 1 where the cosine itself is near 0.
  assert.ok(maxRelErr(m.decCos, g.decCos, 1) < TOL, 'decoder cosine');
  assert.ok(maxRelErr(m.encCos, g.encCos, 1) < TOL, 'encoder cosine');
  assert.ok(maxRelErr(m.scale, refScale(g, norm), 1e-6) < TOL, `scale (${norm})`);
  let tagsChecked = 0;
  const seen = new Set<string>();
  for (let j = 0; j < D; j++) {
    const { delta, tag } = refDeltaAndTag(g, j);
    if (Number.isNaN(delta)) assert.ok(Number.isNaN(m.deltaNorm[j]), `deltaNorm NaN at ${j}`);
    else assert.ok(Math.abs(m.deltaNorm[j] - delta) < TOL, `deltaNorm at ${j}: ${m.deltaNorm[j]} vs ${delta}`);
    // A tag may legitimately differ only within float32 rounding of a band edge.
    const nearEdge = [0.1, 0.4, 0.6, 0.9].some((e) => Math.abs(delta - e) < 1e-6);
    if (!nearEdge) {
      assert.equal(TAG_CODES[m.tag[j]], Number.isNaN(delta) ? 'other' : tag, `tag at ${j} (deltaNorm ${delta})`);
      tagsChecked++;
      seen.add(tag);
    }
  }
  assert.ok(tagsChecked > D * 0.95);
  for (const t of ['chat-only', 'base-only', 'shared', 'other']) assert.ok(seen.has(t), `fixture covers tag ${t}`);
}

const cases: (Partial<FixtureOptions> & { layout: 'LDd' | 'DLd'; codeNormalization: CodeNormalization })[] = [
  { layout: 'LDd', codeNormalization: 'crosscoder', legacyBias: true },
  { layout: 'DLd', codeNormalization: 'sae' },
  { layout: 'LDd', codeNormalization: 'none', kind: 'batchtopk', threshold: 0.5 },
  { layout: 'DLd', codeNormalization: 'mixed', dtype: 'BF16' },
  { layout: 'LDd', codeNormalization: 'mixed', dtype: 'F16' },
];

for (const c of cases) {
  for (const chunkElements of [undefined, 100]) {
    test(`metrics match the float64 reference: ${c.layout}, ${c.codeNormalization}, ${c.dtype ?? 'F32'}, chunkElements ${chunkElements ?? 'default'}`, async () => {
      await withDir(async (dir) => {
        const { ckpt, w } = writeFixture(dir, { d: 16, D: 300, seed: 11, ...c });
        const m = await computeLatentMetrics(ckpt, { cacheDir: join(dir, 'cache'), chunkElements });
        checkAgainstReference(m, refGeometry(w), c.codeNormalization);
      });
    });
  }
}

test('zero decoder vectors: both zero gives NaN Delta-norm, tag other, cosine 0, scale 0; one zero is fully specific', async () => {
  await withDir(async (dir) => {
    const { ckpt, w } = writeFixture(dir, { d: 16, D: 96, seed: 5, layout: 'DLd', zeroBase: [3, 7], zeroChat: [7, 9] });
    const m = await computeLatentMetrics(ckpt, { cacheDir: dir });
    checkAgainstReference(m, refGeometry(w), 'crosscoder');
    assert.ok(Number.isNaN(m.deltaNorm[7]));
    assert.equal(TAG_CODES[m.tag[7]], 'other');
    assert.equal(m.decCos[7], 0);
    assert.equal(m.scale[7], 0);
    assert.equal(m.deltaNorm[3], 1);
    assert.equal(TAG_CODES[m.tag[3]], 'chat-only');
    assert.equal(m.decCos[3], 0);
    assert.equal(m.deltaNorm[9], 0);
    assert.equal(TAG_CODES[m.tag[9]], 'base-only');
  });
});

test('deltaNorm is in the paper convention and symmetric', () => {
  assert.equal(deltaNorm(0, 2), 1);
  assert.equal(deltaNorm(2, 0), 0);
  assert.equal(deltaNorm(3, 3), 0.5);
  assert.equal(deltaNorm(4, 2), 0.25);
  assert.equal(deltaNorm(2, 4), 0.75);
  assert.ok(Number.isNaN(deltaNorm(0, 0)));
});

test('tags use strict inequalities at the band edges', () => {
  const eps = 1e-9;
  assert.equal(tagOf(0.9 + eps), 'chat-only');
  assert.equal(tagOf(0.9), 'other');
  assert.equal(tagOf(1), 'chat-only');
  assert.equal(tagOf(0.1 - eps), 'base-only');
  assert.equal(tagOf(0.1), 'other');
  assert.equal(tagOf(0), 'base-only');
  assert.equal(tagOf(0.5), 'shared');
  assert.equal(tagOf(0.4 + eps), 'shared');
  assert.equal(tagOf(0.6 - eps), 'shared');
  assert.equal(tagOf(0.4 - eps), 'other');
  assert.equal(tagOf(0.6 + eps), 'other');
  assert.equal(tagOf(NaN), 'other');
  // Exactly representable edges: the edge value itself is outside every band.
  const t = { chatOnlyAbove: 0.75, baseOnlyBelow: 0.25, sharedHalfWidth: 0.125 };
  assert.equal(tagOf(0.75, t), 'other');
  assert.equal(tagOf(0.75 + 2 ** -30, t), 'chat-only');
  assert.equal(tagOf(0.25, t), 'other');
  assert.equal(tagOf(0.25 - 2 ** -30, t), 'base-only');
  assert.equal(tagOf(0.375, t), 'other');
  assert.equal(tagOf(0.625, t), 'other');
  assert.equal(tagOf(0.375 + 2 ** -30, t), 'shared');
  assert.equal(tagOf(0.625 - 2 ** -30, t), 'shared');
  assert.deepEqual(DEFAULT_TAG_THRESHOLDS, { chatOnlyAbove: 0.9, baseOnlyBelow: 0.1, sharedHalfWidth: 0.1 });
});

test('cache: written once, then read without touching the weights; corrupt or foreign entries are recomputed', async () => {
  await withDir(async (dir) => {
    const cacheDir = join(dir, 'cache');
    const { ckpt, w } = writeFixture(dir, { d: 16, D: 96, seed: 8, layout: 'LDd', codeNormalization: 'sae' });
    const first = await loadOrComputeLatentMetrics(ckpt, { cacheDir });
    const path = metricsCachePath(cacheDir, ckpt.identity);
    assert.ok(existsSync(path));
    checkAgainstReference(first, refGeometry(w), 'sae');

    // Same identity, weights gone: only a cache hit can answer.
    const gone = { ...ckpt, file: join(dir, 'missing.safetensors'), encoderWeight: { ...ckpt.encoderWeight, file: join(dir, 'missing.safetensors') } };
    const second = await loadOrComputeLatentMetrics(gone, { cacheDir });
    assert.deepEqual(second, first);

    // Derived values follow the checkpoint and thresholds, not the cache.
    const none = await loadOrComputeLatentMetrics({ ...gone, codeNormalization: 'none' }, { cacheDir, thresholds: { chatOnlyAbove: 0.6, baseOnlyBelow: 0.4, sharedHalfWidth: 0.01 } });
    assert.ok(none.scale.every((s) => s === 1));
    for (let j = 0; j < 96; j++) assert.equal(TAG_CODES[none.tag[j]], tagOf(none.deltaNorm[j], { chatOnlyAbove: 0.6, baseOnlyBelow: 0.4, sharedHalfWidth: 0.01 }));

    // A different identity does not read this entry (it would need the missing weights).
    await assert.rejects(loadOrComputeLatentMetrics({ ...gone, identity: 'other' }, { cacheDir }));

    writeFileSync(path, Buffer.from('LDLM garbage'));
    const third = await loadOrComputeLatentMetrics(ckpt, { cacheDir });
    assert.deepEqual(third, first);
    assert.ok(existsSync(path));
    const again = await loadOrComputeLatentMetrics(gone, { cacheDir });
    assert.deepEqual(again, first);
  });
});

test('decoupled code normalisation is rejected with a LatentDiffError naming the file', async () => {
  await withDir(async (dir) => {
    const { ckpt } = writeFixture(dir, { d: 8, D: 16, seed: 1, layout: 'LDd', codeNormalization: 'decoupled' });
    await assert.rejects(computeLatentMetrics(ckpt, { cacheDir: dir }), (e: unknown) => e instanceof LatentDiffError && e.file === ckpt.file && /decoupled/.test(e.problem));
    await assert.rejects(loadOrComputeLatentMetrics(ckpt, { cacheDir: dir }), LatentDiffError);
  });
});

test('a tensor of the wrong shape is a LatentDiffError naming the tensor', async () => {
  await withDir(async (dir) => {
    const { ckpt } = writeFixture(dir, { d: 8, D: 16, seed: 2, layout: 'LDd' });
    await assert.rejects(computeLatentMetrics({ ...ckpt, dictSize: 17 }, { cacheDir: dir }), (e: unknown) => e instanceof LatentDiffError && /encoder\.weight/.test(e.problem));
    await assert.rejects(computeLatentMetrics({ ...ckpt, decoderLayout: 'DLd' }, { cacheDir: dir }), (e: unknown) => e instanceof LatentDiffError && /decoder\.weight/.test(e.problem));
  });
});
