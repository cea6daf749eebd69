import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { readTensorF32, writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { randomFloats, scalarF32, scalarI64, tempDir, writeCKCrosscoder, writeDLCrosscoder } from './bundle-fixtures';
import { latentDiffErrorFrom } from '../support/errors';

const root = tempDir('crosscoder');
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `cc${n++}`);

function rejects(load: () => unknown, file: string, pattern: RegExp): void {
  const caught = latentDiffErrorFrom(() => load());
  assert.ok(caught.message.includes(file), `"${caught.message}" should name ${file}`);
  assert.match(caught.message, pattern);
}

test('dictionary_learning ReLU crosscoder: shapes, refs, defaults', () => {
  const dir = writeDLCrosscoder(fresh(), { d: 6, D: 20 });
  const cc = loadCrosscoderCheckpoint(dir);
  assert.equal(cc.format, 'dictionary_learning');
  assert.equal(cc.kind, 'relu');
  assert.equal(cc.dModel, 6);
  assert.equal(cc.dictSize, 20);
  assert.equal(cc.codeNormalization, 'crosscoder');
  assert.equal(cc.decoderLayout, 'LDd');
  assert.equal(cc.threshold, undefined);
  assert.equal(cc.k, undefined);
  assert.equal(cc.dir, dir);
  assert.equal(cc.file, join(dir, 'model.safetensors'));
  assert.deepEqual(cc.encoderWeight.shape, [2, 6, 20]);
  assert.deepEqual(cc.encoderBias.shape, [20]);
  assert.deepEqual(cc.decoderWeight.shape, [2, 20, 6]);
  assert.deepEqual(cc.decoderBias.shape, [2, 6]);
  // Refs point at the right bytes: the fixture's seeds give these exact values.
  assert.deepEqual(readTensorF32(cc.decoderBias), randomFloats(12, 4));
  assert.deepEqual(readTensorF32(cc.encoderWeight, 0, 5), randomFloats(5, 1));
  assert.match(cc.identity, /^cc\d+-20x6-c[0-9a-f]{16}$/);
  // The same file gives the same identity; a loader given the file itself agrees.
  assert.equal(loadCrosscoderCheckpoint(cc.file).identity, cc.identity);
});

test('identity differs between trainings of the same shape and uses the run name', () => {
  const a = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { seed: 1 }));
  const b = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { seed: 2 }));
  assert.notEqual(a.identity.split('-').pop(), b.identity.split('-').pop());
  const named = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { dict_class: 'CrossCoder', wandb_name: 'my-run' } } }));
  assert.match(named.identity, /^my-run-32x8-c[0-9a-f]{16}$/);
  const odd = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { wandb_name: 'a/b c:d' } } }));
  assert.match(odd.identity, /^a_b_c_d-32x8-c[0-9a-f]{16}$/);
});

test('dictionary_learning BatchTopK: threshold and k', () => {
  const dir = writeDLCrosscoder(fresh(), {
    batchTopK: { threshold: 1.75, k: 100 },
    trainerConfig: { trainer: { dict_class: 'BatchTopKCrossCoder', k: 100, activation_dim: 8, dict_size: 32 } },
  });
  const cc = loadCrosscoderCheckpoint(dir);
  assert.equal(cc.kind, 'batchtopk');
  assert.equal(cc.threshold, 1.75);
  assert.equal(cc.k, 100);
  // k may come from trainer_config.json alone, and a repr-style dict_class is understood.
  const noK = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), {
    batchTopK: { threshold: 0.5 },
    trainerConfig: { trainer: { dict_class: "<class 'dictionary_learning.dictionary.BatchTopKCrossCoder'>", k: 50 } },
  }));
  assert.equal(noK.k, 50);
  assert.equal(noK.threshold, 0.5);
});

test('legacy encoder.bias [2, D], torch.compile prefix, F16/BF16 weights', () => {
  const legacy = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { legacyBias: true }));
  assert.deepEqual(legacy.encoderBias.shape, [2, 32]);
  const compiled = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { prefix: '_orig_mod.', batchTopK: { threshold: 2, k: 3 } }));
  assert.equal(compiled.encoderWeight.name, '_orig_mod.encoder.weight');
  assert.equal(compiled.kind, 'batchtopk');
  assert.equal(compiled.k, 3);
  const half = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), {
    tensors: {
      'encoder.weight': { dtype: 'BF16', shape: [2, 8, 32], data: new Uint16Array(512).fill(0x3f80) },
      'decoder.weight': { dtype: 'F16', shape: [2, 32, 8], data: new Uint16Array(512).fill(0x3c00) },
    },
  }));
  assert.equal(half.encoderWeight.dtype, 'BF16');
  assert.equal(half.decoderWeight.dtype, 'F16');
  assert.deepEqual(Array.from(readTensorF32(half.decoderWeight, 0, 2)), [1, 1]);
});

test('ckkissane layout: W_dec [D, 2, d], cfg.json, either file name', () => {
  const dir = writeCKCrosscoder(fresh(), { d: 8, D: 16, cfg: { d_in: 8, dict_size: 16 } });
  const cc = loadCrosscoderCheckpoint(dir);
  assert.equal(cc.format, 'ckkissane');
  assert.equal(cc.kind, 'relu');
  assert.equal(cc.decoderLayout, 'DLd');
  assert.deepEqual(cc.decoderWeight.shape, [16, 2, 8]);
  assert.equal(cc.dModel, 8);
  assert.equal(cc.dictSize, 16);
  assert.equal(cc.file, join(dir, 'cc_weights.safetensors'));
  const asModel = loadCrosscoderCheckpoint(writeCKCrosscoder(fresh(), { fileName: 'model.safetensors' }));
  assert.equal(asModel.format, 'ckkissane');
  const bad = writeCKCrosscoder(fresh(), { d: 8, D: 16, cfg: { d_in: 2304, dict_size: 16 } });
  rejects(() => loadCrosscoderCheckpoint(bad), join(bad, 'cfg.json'), /"d_in" is 2304 but tensor "W_enc" \[2, 8, 16\] .* has d_model 8/);
});

test('code_normalization_id maps 1..5; out of range is rejected', () => {
  const names = ['crosscoder', 'sae', 'mixed', 'none', 'decoupled'];
  for (let id = 1; id <= 5; id++) {
    const cc = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { tensors: { code_normalization_id: scalarI64(id) } }));
    assert.equal(cc.codeNormalization, names[id - 1]);
  }
  const fromConfig = loadCrosscoderCheckpoint(writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { dict_class: 'CrossCoder', code_normalization: 'CodeNormalization.SAE' } } }));
  assert.equal(fromConfig.codeNormalization, 'sae');
  const dir = writeDLCrosscoder(fresh(), { tensors: { code_normalization_id: scalarI64(9) } });
  rejects(() => loadCrosscoderCheckpoint(dir), join(dir, 'model.safetensors'), /"code_normalization_id" is 9; expected 1\.\.5/);
  const clash = writeDLCrosscoder(fresh(), { tensors: { code_normalization_id: scalarI64(1) }, trainerConfig: { trainer: { code_normalization: 'sae' } } });
  rejects(() => loadCrosscoderCheckpoint(clash), join(clash, 'trainer_config.json'), /disagrees/);
});

test('shape mismatches between tensors name the file, the tensor and both shapes', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ 'decoder.weight': { dtype: 'F32', shape: [2, 31, 8], data: randomFloats(496, 1) } }, /tensor "decoder.weight" has shape \[2, 31, 8\] but encoder.weight \[2, 8, 32\] needs \[2, 32, 8\]/],
    [{ 'decoder.bias': { dtype: 'F32', shape: [2, 7], data: randomFloats(14, 1) } }, /tensor "decoder.bias" has shape \[2, 7\] but encoder.weight \[2, 8, 32\] needs \[2, 8\]/],
    [{ 'encoder.bias': { dtype: 'F32', shape: [3, 32], data: randomFloats(96, 1) } }, /tensor "encoder.bias" has shape \[3, 32\]/],
    [{ 'encoder.weight': { dtype: 'F32', shape: [3, 8, 32], data: randomFloats(768, 1) } }, /encodes 3 models .* exactly 2/],
    [{ 'encoder.weight': { dtype: 'F32', shape: [16, 32], data: randomFloats(512, 1) } }, /"encoder.weight" has shape \[16, 32\]; expected \[num_layers=2, d_model, dict_size\]/],
    [{ 'encoder.weight': { dtype: 'I32', shape: [2, 8, 32], data: new Int32Array(512) } }, /"encoder.weight" has dtype I32; expected F32/],
    [{ threshold: { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) } }, /one threshold per model .* not supported/],
    [{ threshold: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) } }, /"threshold" \(BatchTopK threshold\) should be a scalar/],
    [{ threshold: scalarF32(NaN) }, /"threshold" \(BatchTopK threshold\) is NaN/],
    [{ threshold: scalarF32(1), k: scalarF32(2.5) }, /tensor "k" should be a positive integer, is 2.5/],
    [{ k: scalarI64(5) }, /"k" tensor but no "threshold"/],
    [{ activation_mean: { dtype: 'F32', shape: [2, 8], data: randomFloats(16, 3) } }, /"activation_mean" enables input normalisation/],
  ];
  for (const [tensors, pattern] of cases) {
    const dir = writeDLCrosscoder(fresh(), { tensors: tensors as never, config: null });
    rejects(() => loadCrosscoderCheckpoint(dir), join(dir, 'model.safetensors'), pattern);
  }
  // All-NaN normalisation buffers mean "unused" and are accepted.
  const nanMean = writeDLCrosscoder(fresh(), { tensors: { activation_mean: { dtype: 'F32', shape: [2, 8], data: new Float32Array(16).fill(NaN) } } });
  assert.equal(loadCrosscoderCheckpoint(nanMean).kind, 'relu');
});

test('config.json / trainer_config.json disagreeing with the tensors', () => {
  const d = writeDLCrosscoder(fresh(), { config: { activation_dim: 2304, dict_size: 32, num_layers: 2 } });
  rejects(() => loadCrosscoderCheckpoint(d), join(d, 'config.json'), /"activation_dim" is 2304 but tensor "encoder.weight" \[2, 8, 32\] in .*model.safetensors has d_model 8/);
  const D = writeDLCrosscoder(fresh(), { config: { activation_dim: 8, dict_size: 73728 } });
  rejects(() => loadCrosscoderCheckpoint(D), join(D, 'config.json'), /"dict_size" is 73728 .* has dict_size 32/);
  const L = writeDLCrosscoder(fresh(), { config: { num_layers: 3 } });
  rejects(() => loadCrosscoderCheckpoint(L), join(L, 'config.json'), /"num_layers" is 3 .* number of models 2/);
  const t = writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { dict_size: 64 } } });
  rejects(() => loadCrosscoderCheckpoint(t), join(t, 'trainer_config.json'), /"dict_size" is 64/);
  const k = writeDLCrosscoder(fresh(), { batchTopK: { threshold: 1, k: 100 }, trainerConfig: { trainer: { dict_class: 'BatchTopKCrossCoder', k: 200 } } });
  rejects(() => loadCrosscoderCheckpoint(k), join(k, 'trainer_config.json'), /"trainer.k" is 200 but tensor "k" .* is 100/);
  const notJson = writeDLCrosscoder(fresh());
  writeFileSync(join(notJson, 'config.json'), '{"activation_dim": 8,');
  rejects(() => loadCrosscoderCheckpoint(notJson), join(notJson, 'config.json'), /not valid JSON/);
});

test('dict_class in trainer_config.json decides what must be present', () => {
  const missing = writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { dict_class: 'BatchTopKCrossCoder', k: 100 } } });
  rejects(() => loadCrosscoderCheckpoint(missing), join(missing, 'model.safetensors'), /missing tensor "threshold".*BatchTopKCrossCoder/);
  const clash = writeDLCrosscoder(fresh(), { batchTopK: { threshold: 1 }, trainerConfig: { trainer: { dict_class: 'CrossCoder' } } });
  rejects(() => loadCrosscoderCheckpoint(clash), join(clash, 'trainer_config.json'), /dict_class is CrossCoder .* "threshold" tensor/);
  const sae = writeDLCrosscoder(fresh(), { trainerConfig: { trainer: { dict_class: 'BatchTopKSAE' } } });
  rejects(() => loadCrosscoderCheckpoint(sae), join(sae, 'trainer_config.json'), /dict_class BatchTopKSAE is not supported/);
});

test('missing tensors and missing files are named', () => {
  for (const name of ['encoder.bias', 'decoder.weight', 'decoder.bias']) {
    const dir = writeDLCrosscoder(fresh(), { tensors: { [name]: null } });
    rejects(() => loadCrosscoderCheckpoint(dir), join(dir, 'model.safetensors'), new RegExp(`missing tensor "${name.replace('.', '\\.')}" of the dictionary_learning crosscoder layout`));
  }
  const ck = fresh();
  mkdirSync(ck);
  writeSafetensors(join(ck, 'cc_weights.safetensors'), { W_enc: { dtype: 'F32', shape: [2, 4, 8], data: randomFloats(64, 1) }, b_enc: { dtype: 'F32', shape: [8], data: randomFloats(8, 2) } });
  rejects(() => loadCrosscoderCheckpoint(ck), join(ck, 'cc_weights.safetensors'), /missing tensor "W_dec" of the ckkissane crosscoder layout/);
  const two = fresh();
  writeDLCrosscoder(two, { fileName: 'a.safetensors' });
  writeDLCrosscoder(two, { fileName: 'b.safetensors' });
  rejects(() => loadCrosscoderCheckpoint(two), two, /several .safetensors files \(a.safetensors, b.safetensors\)/);
  assert.equal(loadCrosscoderCheckpoint(join(two, 'b.safetensors')).file, join(two, 'b.safetensors'));
  const notCc = fresh();
  writeDLCrosscoder(notCc, { tensors: { 'encoder.weight': null }, config: null });
  rejects(() => loadCrosscoderCheckpoint(notCc), join(notCc, 'model.safetensors'), /not a crosscoder checkpoint: no "encoder.weight" .* or "W_enc"/);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  rejects(() => loadCrosscoderCheckpoint(empty), empty, /not a crosscoder folder: no .safetensors file/);
  rejects(() => loadCrosscoderCheckpoint(join(root, 'nowhere')), join(root, 'nowhere'), /crosscoder folder not found/);
});
