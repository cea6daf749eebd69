/**
 * Our Gemma 2 graph against Hugging Face transformers' own outputs (test/fixtures/gemma2, made by
 * scripts/fixtures/make_gemma2_fixture.py): every block, unpadded and left/right-padded batches, and the
 * ONNX-import path (a torch.onnx export of the same model).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { onnx } from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { readOnnxSignature } from '../../extension/engine/bundle/onnx-inspect';
import { OnnxResidualModel } from '../../extension/engine/runtime/model-runner';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { buildGemma2Graph } from '../../extension/engine/graphs/gemma2/gemma2-build';
import { Gemma2ResidualModel } from '../../extension/engine/runtime/gemma2-residual-model';
import { LatentDiffError } from '../../extension/engine/errors';
import { copyModel, feeds, FIXTURE, loadFixture, maxRelError, writeConfig } from './gemma2-fixture';

const TOLERANCE = 1e-4;
const fixture = loadFixture();

describe('Gemma 2 graph vs transformers', () => {
  let model: ReturnType<typeof copyModel>;
  before(() => {
    model = copyModel();
  });
  after(() => model.cleanup());

  test('the fixture covers unpadded, left-padded and right-padded batches longer than the sliding window', () => {
    const config = JSON.parse(readFileSync(join(model.dir, 'config.json'), 'utf8'));
    const names = fixture.cases.map((c) => c.name);
    assert.deepEqual(names, ['single', 'left_padded', 'right_padded']);
    const left = fixture.cases[1].attention_mask;
    const right = fixture.cases[2].attention_mask;
    assert.ok(left.some((row) => row[0] === 0) && right.some((row) => row[row.length - 1] === 0));
    assert.ok(fixture.cases.every((c) => c.shape[2] > config.sliding_window));
    assert.notEqual(config.attn_logit_softcapping, null);
  });

  test('residual stream after every block matches transformers within 1e-4 (real tokens of padded batches too)', async () => {
    const graph = buildGemma2Graph(model.dir, { layer: fixture.numLayers - 1, cacheDir: join(model.root, 'cache'), allLayers: true });
    assert.equal(graph.layerOutputNames.length, fixture.numLayers);
    const session = await ort.InferenceSession.create(graph.path!, withGraphDefaults());
    try {
      for (const c of fixture.cases) {
        const out = await session.run(feeds(c));
        for (let i = 0; i < fixture.numLayers; i++) {
          const err = maxRelError(c, i + 1, out[graph.layerOutputNames[i]].data as Float32Array);
          assert.ok(err < TOLERANCE, `${c.name}, block ${i}: relative error ${err}`);
        }
        assert.deepEqual(out[graph.outputName].data, out[graph.layerOutputNames.at(-1)!].data);
      }
    } finally {
      await session.release();
    }
  });

  test('a graph cut at block 1 references only blocks 0..1 and matches transformers there', async () => {
    const graph = buildGemma2Graph(model.dir, { layer: 1, cacheDir: join(model.root, 'cache') });
    const proto = onnx.ModelProto.decode(graph.bytes);
    const blocks = new Set(proto.graph!.initializer!.map((t) => /layers\.(\d+)\./.exec(t.name ?? '')?.[1]).filter((b) => b !== undefined));
    assert.deepEqual([...blocks].sort(), ['0', '1']);
    assert.deepEqual(graph.inputNames, ['input_ids', 'attention_mask']);
    const session = await ort.InferenceSession.create(graph.path!, withGraphDefaults());
    try {
      for (const c of fixture.cases) {
        const out = await session.run(feeds(c), [graph.outputName]);
        const err = maxRelError(c, 2, out[graph.outputName].data as Float32Array);
        assert.ok(err < TOLERANCE, `${c.name}: relative error ${err}`);
      }
    } finally {
      await session.release();
    }
  });

  test('Gemma2ResidualModel (what a bundle\'s "hf" model runs through) gives the same residual; foreign token ids are refused', async () => {
    const c = fixture.cases[0];
    const m = await Gemma2ResidualModel.open('fixture', model.dir, { layer: 2, cacheDir: join(model.root, 'cache') }, (src) =>
      typeof src === 'string' ? ort.InferenceSession.create(src, withGraphDefaults()) : Promise.reject(new Error('expected a placed graph')),
    );
    try {
      assert.ok(maxRelError(c, 3, await m.residual(c.input_ids[0])) < TOLERANCE);
      await assert.rejects(m.residual([2, 512]), (e: unknown) => e instanceof LatentDiffError && e.code === 'bad-token' && e.message.includes('512'));
    } finally {
      await m.dispose();
    }
  });

  test('a deliberately wrong graph is caught: RoPE base 10000 instead of the config\'s value fails the check', async () => {
    const wrong = copyModel();
    try {
      writeConfig(wrong.dir, (c) => {
        c.rope_theta = 10000;
      });
      const graph = buildGemma2Graph(wrong.dir, { layer: 0, cacheDir: join(wrong.root, 'cache') });
      const session = await ort.InferenceSession.create(graph.path!, withGraphDefaults());
      const out = await session.run(feeds(fixture.cases[0]));
      await session.release();
      assert.ok(maxRelError(fixture.cases[0], 1, out[graph.outputName].data as Float32Array) > 1e-3);
    } finally {
      wrong.cleanup();
    }
  });
});

describe('ONNX-import path (torch.onnx export of the fixture model)', () => {
  const path = join(FIXTURE, fixture.onnx.file);
  const stateIndex = fixture.onnx.layer + 1;

  test('the exported graph reproduces transformers at its output block, padded batches included', async () => {
    const session = await ort.InferenceSession.create(path);
    try {
      assert.deepEqual([...session.inputNames].sort(), ['attention_mask', 'input_ids']);
      for (const c of fixture.cases) {
        const out = await session.run(feeds(c), [fixture.onnx.output]);
        const err = maxRelError(c, stateIndex, out[fixture.onnx.output].data as Float32Array);
        assert.ok(err < TOLERANCE, `${c.name}: relative error ${err}`);
      }
    } finally {
      await session.release();
    }
  });

  test('through the bundle reader and OnnxResidualModel, as a bundle naming this file would run it', async () => {
    const c = fixture.cases[0];
    const session = await ort.InferenceSession.create(path);
    const model = new OnnxResidualModel(
      { kind: 'onnx', name: 'fixture', path, output: fixture.onnx.output, inputIds: 'input_ids', attentionMask: 'attention_mask', signature: readOnnxSignature(path) },
      session,
      fixture.hidden,
    );
    try {
      const resid = await model.residual(c.input_ids[0]);
      assert.ok(maxRelError(c, stateIndex, resid) < TOLERANCE);
    } finally {
      await model.dispose();
    }
  });
});
