/**
 * Reading Hugging Face Gemma 2 folders: sharded weights, BF16/F16 weights (Cast in the graph), the graph
 * cache, and specific errors for folders that are not usable.
 */
import assert from 'node:assert/strict';
import { rmSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { writeSafetensors, type TensorToWrite } from '../../extension/engine/bundle/safetensors';
import { LatentDiffError } from '../../extension/engine/errors';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { buildGemma2Graph, type Gemma2LoadStage } from '../../extension/engine/graphs/gemma2/gemma2-build';
import { openGemma2Folder } from '../../extension/engine/graphs/gemma2/hf-folder';
import { asF32, copyModel, feeds, fixtureTensors, loadFixture, maxRelError, writeConfig } from './gemma2-fixture';

const fixture = loadFixture();
const LAST = fixture.numLayers - 1;

async function runGraph(dir: string, cacheDir: string, layer = LAST): Promise<Float32Array[]> {
  const graph = buildGemma2Graph(dir, { layer, cacheDir });
  const session = await ort.InferenceSession.create(graph.path!, withGraphDefaults());
  try {
    const outs: Float32Array[] = [];
    for (const c of fixture.cases) outs.push((await session.run(feeds(c), [graph.outputName]))[graph.outputName].data as Float32Array);
    return outs;
  } finally {
    await session.release();
  }
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return d / s;
}

/** Round-to-nearest-even float32 -> bfloat16 bits, written independently of the code under test. */
function toBf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}
const bf16Value = (bits: number) => new Float32Array(new Uint32Array([bits << 16]).buffer)[0];

/** float32 -> IEEE half bits, round to nearest (ties away: fine for random weights), for |x| < 65504. */
function toF16Bits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  const e = Math.floor(Math.log2(a));
  if (e > 15) throw new Error(`value ${x} outside the half range`);
  let m = Math.round((a / 2 ** e - 1) * 1024);
  let exp = e + 15;
  if (m === 1024) {
    m = 0;
    exp += 1;
  }
  return sign | (exp << 10) | m;
}
function f16Value(bits: number): number {
  const exp = (bits >> 10) & 0x1f;
  const magnitude = exp === 0 ? (bits & 0x3ff) * 2 ** -24 : (1 + (bits & 0x3ff) / 1024) * 2 ** (exp - 15);
  return bits & 0x8000 ? -magnitude : magnitude;
}

describe('Gemma 2 folder variants', () => {
  test('sharded weights (model.safetensors.index.json) give the same result as one file, and a short graph reads only the shard it needs', async () => {
    const single = copyModel();
    const sharded = copyModel();
    try {
      const tensors = asF32(fixtureTensors());
      const first = (n: string) => n.startsWith('model.embed_tokens') || /^model\.layers\.[01]\./.test(n) ? 1 : 2;
      const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
      const weightMap: Record<string, string> = {};
      for (const shard of [1, 2]) {
        const part = Object.fromEntries(Object.entries(tensors).filter(([n]) => first(n) === shard));
        writeSafetensors(join(sharded.dir, files[shard - 1]), part, { format: 'pt' });
        for (const n of Object.keys(part)) weightMap[n] = files[shard - 1];
      }
      rmSync(join(sharded.dir, 'model.safetensors'));
      writeFileSync(join(sharded.dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));

      const a = await runGraph(single.dir, join(single.root, 'cache'));
      const b = await runGraph(sharded.dir, join(sharded.root, 'cache'));
      for (let i = 0; i < a.length; i++) assert.deepEqual(b[i], a[i]);
      assert.deepEqual(buildGemma2Graph(sharded.dir, { layer: LAST, cacheDir: join(sharded.root, 'cache') }).weightFiles, files.map((f) => join(sharded.dir, f)));
      assert.deepEqual(buildGemma2Graph(sharded.dir, { layer: 1, cacheDir: join(sharded.root, 'cache') }).weightFiles, [join(sharded.dir, files[0])]);
      // a shard holding only later blocks may be absent when the graph stops before them
      rmSync(join(sharded.dir, files[1]));
      assert.equal(openGemma2Folder(sharded.dir, 1).blocks.length, 2);
      assert.throws(() => openGemma2Folder(sharded.dir, 2), (e: unknown) => e instanceof LatentDiffError && e.code === 'not-found' && e.file === join(sharded.dir, files[1]));
      // ... and the second half then reports its tensors as missing, naming the absent shard
      expectError(() => openGemma2Folder(sharded.dir, 1, 'second'), 'missing-tensor', 'model', '"model.layers.2.*"', '"model.norm.weight"', `${files[1]} (listed in model.safetensors.index.json) is absent`);
    } finally {
      single.cleanup();
      sharded.cleanup();
    }
  });

  for (const [dtype, toBits, value] of [['BF16', toBf16Bits, bf16Value], ['F16', toF16Bits, f16Value]] as const) {
    test(`${dtype} weights are Cast to float32 in the graph: same result as float32 weights holding the same values`, async () => {
      const half = copyModel();
      const rounded = copyModel();
      try {
        const halfTensors: Record<string, TensorToWrite> = {};
        const roundedTensors: Record<string, TensorToWrite> = {};
        for (const [name, t] of fixtureTensors()) {
          const bits = Uint16Array.from(t.data, (x) => toBits(x));
          halfTensors[name] = { dtype, shape: t.shape, data: bits };
          roundedTensors[name] = { dtype: 'F32', shape: t.shape, data: Float32Array.from(bits, (b) => value(b)) };
        }
        writeSafetensors(join(half.dir, 'model.safetensors'), halfTensors);
        writeSafetensors(join(rounded.dir, 'model.safetensors'), roundedTensors);
        const fromHalf = await runGraph(half.dir, join(half.root, 'cache'));
        const fromRounded = await runGraph(rounded.dir, join(rounded.root, 'cache'));
        for (let i = 0; i < fromHalf.length; i++) assert.ok(maxRelDiff(fromHalf[i], fromRounded[i]) < 1e-6, `case ${i}`);
        // the rounding itself is visible, so the comparison above is not between two copies of the fp32 model
        assert.ok(maxRelError(fixture.cases[0], LAST + 1, fromHalf[0]) > 1e-4);
      } finally {
        half.cleanup();
        rounded.cleanup();
      }
    });
  }

  test('the graph is built once per set of weights: a second build is a cache hit, changed weights are not', () => {
    const m = copyModel();
    try {
      const cacheDir = join(m.root, 'cache');
      const stages: Gemma2LoadStage[] = [];
      const first = buildGemma2Graph(m.dir, { layer: 1, cacheDir, onProgress: (s) => stages.push(s) });
      assert.equal(first.fromCache, false);
      assert.deepEqual([...new Set(stages)], ['reading-headers', 'building-graph', 'writing-graph']);
      const second = buildGemma2Graph(m.dir, { layer: 1, cacheDir });
      assert.equal(second.fromCache, true);
      assert.equal(second.path, first.path);
      assert.deepEqual(second.bytes, first.bytes);
      assert.equal(buildGemma2Graph(m.dir, { layer: 2, cacheDir }).fromCache, false);
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(m.dir, 'model.safetensors'), later, later);
      assert.equal(buildGemma2Graph(m.dir, { layer: 1, cacheDir }).fromCache, false);
    } finally {
      m.cleanup();
    }
  });
});

function expectError(fn: () => unknown, code: string, fileEnds: string, ...mentions: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LatentDiffError, `expected a LatentDiffError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.file?.endsWith(fileEnds), `error names ${e.file}, expected …${fileEnds}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention ${m}`);
    return true;
  });
}

describe('Gemma 2 folder errors', () => {
  test('a config that is not Gemma 2 is refused, naming config.json', () => {
    const m = copyModel();
    try {
      writeConfig(m.dir, (c) => {
        c.model_type = 'llama';
      });
      expectError(() => openGemma2Folder(m.dir, 0), 'unsupported-model', 'config.json', '"llama"', 'gemma2');
    } finally {
      m.cleanup();
    }
  });

  test('a missing tensor is named; blocks before it still load', () => {
    const m = copyModel();
    try {
      const tensors = asF32(fixtureTensors());
      delete tensors['model.layers.1.mlp.up_proj.weight'];
      writeSafetensors(join(m.dir, 'model.safetensors'), tensors);
      expectError(() => openGemma2Folder(m.dir, 1), 'missing-tensor', 'model', '"model.layers.1.mlp.up_proj.weight"', 'model.safetensors');
      assert.equal(openGemma2Folder(m.dir, 0).blocks.length, 1);
    } finally {
      m.cleanup();
    }
  });

  test('a tensor whose shape disagrees with config.json is named with both shapes', () => {
    const m = copyModel();
    try {
      writeConfig(m.dir, (c) => {
        c.intermediate_size = 96;
      });
      expectError(() => openGemma2Folder(m.dir, 0), 'bad-shape', 'model.safetensors', '"model.layers.0.mlp.gate_proj.weight"', '[128, 64]', '[96, 64]');
    } finally {
      m.cleanup();
    }
  });

  test('a block past the model, a missing config, a broken index or a truncated file give specific errors', () => {
    const m = copyModel();
    try {
      expectError(() => openGemma2Folder(m.dir, fixture.numLayers), 'bad-layer', 'config.json', `num_hidden_layers = ${fixture.numLayers}`);
      writeFileSync(join(m.dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors' } }));
      expectError(() => openGemma2Folder(m.dir, 0), 'not-found', 'model-00001-of-00002.safetensors');
      writeFileSync(join(m.dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'model.embed_tokens.weight': '../elsewhere.safetensors' } }));
      expectError(() => openGemma2Folder(m.dir, 0), 'invalid-index', 'model.safetensors.index.json', '../elsewhere.safetensors');
      rmSync(join(m.dir, 'model.safetensors.index.json'));
      truncateSync(join(m.dir, 'model.safetensors'), 20_000);
      expectError(() => openGemma2Folder(m.dir, 0), 'invalid-input', 'model.safetensors', 'exceed');
      rmSync(join(m.dir, 'config.json'));
      expectError(() => openGemma2Folder(m.dir, 0), 'not-found', 'config.json');
    } finally {
      m.cleanup();
    }
  });

  test('config fields transformers would reject or that this graph does not implement are refused by name', () => {
    const m = copyModel();
    try {
      writeConfig(m.dir, (c) => {
        c.num_key_value_heads = 3;
      });
      expectError(() => openGemma2Folder(m.dir, 0), 'invalid-config', 'config.json', 'num_key_value_heads');
      writeConfig(m.dir, (c) => {
        c.num_key_value_heads = 2;
        c.rope_scaling = { type: 'linear', factor: 2 };
      });
      expectError(() => openGemma2Folder(m.dir, 0), 'unsupported-model', 'config.json', 'rope_scaling');
      writeConfig(m.dir, (c) => {
        delete c.rope_scaling;
        c.layer_types = ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'];
      });
      assert.deepEqual(openGemma2Folder(m.dir, 0).config.slidingLayers, [false, true, false, true]);
      writeConfig(m.dir, (c) => {
        delete c.layer_types;
      });
      assert.deepEqual(openGemma2Folder(m.dir, 0).config.slidingLayers, [true, false, true, false]);
    } finally {
      m.cleanup();
    }
  });
});
