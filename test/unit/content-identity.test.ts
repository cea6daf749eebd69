/**
 * The crosscoder identity comes from the weights' content: two checkpoints with the same header, size and
 * biases but other decoder weights get different identities and are never served each other's cached
 * metrics; the digest is remembered by path, size, mtime and inode (a re-open reads no weights; an edit in
 * place is seen); annotations filed under the former layout identity are still found and move on edit.
 * Metrics checked against a float64 decoder-norm computation written here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { contentDigest } from '../../extension/engine/bundle/content-digest';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { AnnotationStore } from '../../extension/engine/annotations/store';
import { randomFloats, tempDir, writeDLCrosscoder } from './bundle-fixtures';

const d = 8;
const D = 32;

function decoderNormsChat(dec: Float32Array): number[] {
  return Array.from({ length: D }, (_, j) => Math.sqrt(Array.from({ length: d }, (_, i) => dec[(D + j) * d + i] ** 2).reduce((a, b) => a + b, 0)));
}

test('same header, size and biases, other decoder weights: other identity, own metrics', async () => {
  const root = tempDir('identity');
  const cacheDir = join(root, 'cache');
  const decA = randomFloats(2 * D * d, 100);
  const decB = decA.map((v, i) => (i % 3 === 0 ? v * 2 : v)); // renormalised decoders, biases untouched
  const a = writeDLCrosscoder(join(root, 'run'), { d, D, tensors: { 'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: decA } } });
  const ckptA = loadCrosscoderCheckpoint(a, { cacheDir });
  const metricsA = await loadOrComputeLatentMetrics(ckptA, { cacheDir });
  // The same folder rewritten in place with the new decoders (same name, same header, same size).
  writeDLCrosscoder(join(root, 'run'), { d, D, tensors: { 'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: decB } } });
  const ckptB = loadCrosscoderCheckpoint(a, { cacheDir });
  assert.deepEqual(ckptB.formerIdentities, ckptA.formerIdentities, 'the layout identity cannot tell them apart');
  assert.notEqual(ckptB.identity, ckptA.identity);
  const metricsB = await loadOrComputeLatentMetrics(ckptB, { cacheDir });
  const expectA = decoderNormsChat(decA);
  const expectB = decoderNormsChat(decB);
  for (let j = 0; j < D; j++) {
    assert.ok(Math.abs(metricsA.decNormChat[j] - expectA[j]) < 1e-5 * (1 + expectA[j]));
    assert.ok(Math.abs(metricsB.decNormChat[j] - expectB[j]) < 1e-5 * (1 + expectB[j]), `latent ${j}: B's metrics are B's own`);
  }
});

test('the digest is remembered per path, size, mtime and inode, and an edit in place is seen', () => {
  const root = tempDir('digest-memo');
  const cacheDir = join(root, 'cache');
  const file = join(root, 'weights.bin');
  writeFileSync(file, Buffer.from(randomFloats(1000, 7).buffer));
  const first = contentDigest(file, cacheDir);
  const memo = JSON.parse(readFileSync(join(cacheDir, 'content-digests.json'), 'utf8'));
  assert.equal(memo[file].digest, first);
  // A forged memo entry for the same stat is believed: proof that a re-open does not read the file.
  writeFileSync(join(cacheDir, 'content-digests.json'), JSON.stringify({ [file]: { ...memo[file], digest: 'remembered' } }));
  assert.equal(contentDigest(file, cacheDir), 'remembered');
  const bytes = readFileSync(file);
  bytes[17] ^= 0xff;
  writeFileSync(file, bytes);
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const edited = contentDigest(file, cacheDir);
  assert.notEqual(edited, 'remembered');
  assert.notEqual(edited, first);
});

test('annotations under the former layout identity are found, and an edit files them under the content identity', async () => {
  const root = tempDir('identity-annotations');
  const ckpt = loadCrosscoderCheckpoint(writeDLCrosscoder(join(root, 'cc'), { d, D }), { cacheDir: join(root, 'cache') });
  const file = join(root, 'annotations.json');
  const old = AnnotationStore.open(file, ckpt.formerIdentities![0], { watch: false });
  await old.upsert(3, { label: 'from before' });
  old.dispose();
  const store = AnnotationStore.open(file, ckpt.identity, { watch: false, formerIdentities: ckpt.formerIdentities });
  assert.equal(store.get(3)?.label, 'from before');
  await store.upsert(4, { label: 'new' });
  store.dispose();
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(Object.keys(saved.crosscoders), [ckpt.identity]);
  assert.deepEqual(Object.keys(saved.crosscoders[ckpt.identity]), ['3', '4']);
});
