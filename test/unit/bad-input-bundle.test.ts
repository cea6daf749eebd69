/** Corrupted bundle parts (every truncation, random byte flips): each load either succeeds or throws a LatentDiffError. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { readSafetensorsHeader } from '../../extension/engine/bundle/safetensors';
import { readOnnxSignature } from '../../extension/engine/bundle/onnx-inspect';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { randomFloats, tempDir, writeBundleFixture, writeDLCrosscoder, writeOnnx } from './bundle-fixtures';

const root = tempDir('bad-input');
after(() => rmSync(root, { recursive: true, force: true }));

type Outcome = 'ok' | 'error';
function outcome(fn: () => unknown): Outcome {
  try {
    fn();
    return 'ok';
  } catch (e) {
    assert.ok(e instanceof LatentDiffError, `not a LatentDiffError: ${(e as Error)?.stack ?? e}`);
    return 'error';
  }
}

/** Flips 1..3 random bytes in [from, to). */
function flipped(bytes: Buffer, from: number, to: number, seed: number): Buffer {
  const r = randomFloats(8, seed);
  const out = Buffer.from(bytes);
  const count = 1 + Math.floor((r[0] + 1) * 1.5);
  for (let i = 0; i < count; i++) {
    const at = from + Math.floor(((r[1 + 2 * i] + 1) / 2) * (to - from));
    out[at] ^= 1 + Math.floor(((r[2 + 2 * i] + 1) / 2) * 255);
  }
  return out;
}

test('safetensors: every truncation is an error; header byte flips never crash', () => {
  const dir = writeDLCrosscoder(join(root, 'st'), { d: 4, D: 8, batchTopK: { threshold: 0.3, k: 2 } });
  const good = readFileSync(join(dir, 'model.safetensors'));
  const path = join(root, 'cut.safetensors');
  for (let len = 0; len < good.length; len++) {
    writeFileSync(path, good.subarray(0, len));
    assert.equal(outcome(() => readSafetensorsHeader(path)), 'error', `truncated to ${len} of ${good.length} bytes was accepted`);
  }
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  const counts = { ok: 0, error: 0 };
  for (let seed = 0; seed < 300; seed++) {
    writeFileSync(path, flipped(good, 0, headerEnd, seed));
    counts[outcome(() => readSafetensorsHeader(path))]++;
  }
  assert.ok(counts.error > 100, `only ${counts.error} of 300 corrupted headers were rejected`);
});

test('crosscoder checkpoints with corrupted headers never crash', () => {
  const dir = writeDLCrosscoder(join(root, 'cc'), { d: 4, D: 8, batchTopK: { threshold: 0.3, k: 2 } });
  const file = join(dir, 'model.safetensors');
  const good = readFileSync(file);
  const headerEnd = 8 + Number(good.readBigUInt64LE(0));
  const counts = { ok: 0, error: 0 };
  for (let seed = 0; seed < 200; seed++) {
    writeFileSync(file, flipped(good, 8, headerEnd, 1000 + seed));
    counts[outcome(() => loadCrosscoderCheckpoint(dir))]++;
  }
  assert.ok(counts.error > 50, `only ${counts.error} of 200 corrupted checkpoints were rejected`);
});

test('ONNX files: truncations and byte flips give a signature or a LatentDiffError', () => {
  const good = readFileSync(writeOnnx(join(root, 'good.onnx'), 4));
  const path = join(root, 'bad.onnx');
  const counts = { ok: 0, error: 0 };
  for (let len = 0; len < good.length; len++) {
    writeFileSync(path, good.subarray(0, len));
    counts[outcome(() => readOnnxSignature(path))]++;
  }
  for (let seed = 0; seed < 300; seed++) {
    writeFileSync(path, flipped(good, 0, good.length, 5000 + seed));
    counts[outcome(() => readOnnxSignature(path))]++;
  }
  assert.ok(counts.error > good.length / 2, `only ${counts.error} corrupted ONNX files were rejected`);
});

test('bundle.json and config files full of garbage', () => {
  const { dir } = writeBundleFixture('bad-input-bundle');
  const good = readFileSync(join(dir, 'bundle.json'));
  const garbage: Buffer[] = [Buffer.alloc(0), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('null'), Buffer.from('"text"'), Buffer.from('{"schemaVersion": {}}'), Buffer.from('{"schemaVersion": "1.0", "base": []}')];
  for (let seed = 0; seed < 40; seed++) garbage.push(flipped(good, 0, good.length, 9000 + seed));
  for (const bytes of garbage) {
    writeFileSync(join(dir, 'bundle.json'), bytes);
    outcome(() => loadBundle(dir));
  }
  writeFileSync(join(dir, 'bundle.json'), good);
  writeFileSync(join(dir, 'crosscoder', 'config.json'), 'garbage');
  assert.equal(outcome(() => loadBundle(dir)), 'error');
  writeFileSync(join(dir, 'crosscoder', 'config.json'), '{}');
  writeFileSync(join(dir, 'crosscoder', 'trainer_config.json'), '{"trainer": {"dict_class": 5}}');
  assert.equal(outcome(() => loadBundle(dir)), 'error');
  rmSync(dir, { recursive: true, force: true });
});
