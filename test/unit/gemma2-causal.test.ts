/**
 * The causal half of our Gemma 2 graphs against Hugging Face transformers' Gemma2ForCausalLM (the committed
 * fixture, scripts/fixtures/make_gemma2_fixture.py --causal): full-depth log-probs of unpadded, left- and
 * right-padded batches; log-probs with block `layer`'s output replaced by a given tensor; greedy generation
 * of 32 tokens (one prompt through Gemma2SplitModel, a left-padded batch through the key/value graphs) on
 * prompts longer than the sliding window. Then, without a reference: decoding over the key/value cache equals
 * one full forward, truncate + continue equals a fresh run, a folder cut after `layer` keeps its first half,
 * and every graph variant gets its own cached graph.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { buildGemma2Graph, type Gemma2BuildOptions, type Gemma2Graph } from '../../extension/engine/graphs/gemma2/gemma2-build';
import { newKeyName, newValueName, pastKeyName, pastValueName } from '../../extension/engine/graphs/gemma2/gemma2-graph';
import { NEXT_TOKEN } from '../../extension/engine/graphs/next-token-head';
import { writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { Gemma2SplitModel } from '../../extension/engine/runtime/gemma2-split-model';
import type { KvCache } from '../../extension/engine/runtime/split-model';
import { LatentDiffError } from '../../extension/engine/errors';
import { asF32, copyModel, feeds, FIXTURE, fixtureTensors, loadCausalFixture, loadFixture, logProbRelError, maxRelError } from './gemma2-fixture';
import { cpSync } from 'node:fs';

const TOLERANCE = 1e-4;
const fixture = loadFixture();
const causal = loadCausalFixture();
const V = 512;

const session = (g: Gemma2Graph) => ort.InferenceSession.create(g.path!, withGraphDefaults());
const createSession = (src: unknown) => (typeof src === 'string' ? ort.InferenceSession.create(src, withGraphDefaults()) : Promise.reject(new Error('expected a placed graph')));
const i64 = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), (v) => BigInt(v)), [rows.length, rows[0].length]);
const topK = (k: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(k)), [1]);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('Gemma 2 to logits vs transformers', () => {
  let model: ReturnType<typeof copyModel>;
  let gen: ReturnType<typeof copyModel>;
  before(() => {
    model = copyModel();
    gen = copyModel();
    cpSync(join(FIXTURE, 'gen-model'), gen.dir, { recursive: true });
  });
  after(() => {
    model.cleanup();
    gen.cleanup();
  });
  const opts = (root: string, o: Partial<Gemma2BuildOptions>): Gemma2BuildOptions => ({ layer: 1, cacheDir: join(root, 'cache'), ...o });

  test('full-depth log-probs match transformers within 1e-4 on unpadded, left- and right-padded batches', async () => {
    assert.deepEqual([...causal.logProbs.keys()], fixture.cases.map((c) => c.name));
    const first = await session(buildGemma2Graph(model.dir, opts(model.root, {})));
    const second = await session(buildGemma2Graph(model.dir, opts(model.root, { half: 'second', head: { logProbs: true } })));
    try {
      for (const c of fixture.cases) {
        const resid = (await first.run(feeds(c))).resid;
        const out = await second.run({ resid, attention_mask: feeds(c).attention_mask, [NEXT_TOKEN.topK]: topK(3) });
        const ref = causal.logProbs.get(c.name)!;
        const ours = out[NEXT_TOKEN.logProbs].data as Float32Array;
        const err = logProbRelError(ours, ref.data, c.attention_mask, V);
        assert.ok(err < TOLERANCE, `${c.name}: relative error ${err}`);
        // the graph's argmax and top-1 log-prob are those of its own full log-probs
        const argmax = out[NEXT_TOKEN.argmax].data as Int32Array;
        const top = out[NEXT_TOKEN.topLogProbs].data as Float32Array;
        for (let p = 0; p < argmax.length; p++) assert.equal(top[p * 3], ours[p * V + argmax[p]]);
      }
    } finally {
      await Promise.all([first.release(), second.release()]);
    }
  });

  test('the halfway split: the second half from a given residual after block 1 matches transformers with that block\'s output replaced', async () => {
    const m = await Gemma2SplitModel.open('fixture', model.dir, { layer: causal.split.layer, cacheDir: join(model.root, 'cache') }, createSession);
    try {
      assert.equal(m.hasSecondHalf, true);
      const { next } = await m.secondHalf(causal.split.replacement, undefined, { logProbs: true, topK: 4 });
      const T = causal.split.shape[1];
      const err = logProbRelError(next.logProbs!, causal.split.logProbs, [new Array(T).fill(1)], V);
      assert.ok(err < TOLERANCE, `relative error ${err}`);
      for (let t = 0; t < T; t++) {
        const row = causal.split.logProbs.subarray(t * V, (t + 1) * V);
        const ranked = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 4);
        assert.deepEqual([...next.topIds.subarray(t * 4, t * 4 + 4)], ranked);
        assert.equal(next.argmax[t], ranked[0]);
      }
    } finally {
      await m.dispose();
    }
  });

  test('greedy generation of 32 tokens through Gemma2SplitModel (one decode step per token) equals transformers\' generate()', async () => {
    const run = causal.generate.runs.find((r) => r.name === 'single')!;
    const prompt = run.input_ids[0];
    assert.ok(prompt.length > causal.generate.sliding_window && causal.generate.max_new_tokens === 32);
    assert.ok(run.min_logit_gap > 1e-3, 'the reference path has no near-ties');
    const m = await Gemma2SplitModel.open('gen', gen.dir, { layer: 1, cacheDir: join(gen.root, 'cache') }, createSession);
    try {
      // transformers 5 wrote this config.json: RoPE's base is only under rope_parameters, and lm_head is untied
      assert.equal(m.config.ropeTheta, 1000);
      assert.equal(m.config.tieWordEmbeddings, false);
      let a = await m.firstHalf(prompt);
      let b = await m.secondHalf(a.resid, undefined, {});
      const ids = [b.next.argmax[prompt.length - 1]];
      while (ids.length < 32) {
        a = await m.firstHalf([ids.at(-1)!], a.cache);
        b = await m.secondHalf(a.resid, b.cache, {});
        assert.equal(b.next.argmax.length, 1);
        ids.push(b.next.argmax[0]);
      }
      assert.equal(b.cache.length, prompt.length + 31);
      assert.deepEqual(ids, run.new_ids[0]);
    } finally {
      await m.dispose();
    }
  });

  test('a left-padded batch decoded through the key/value graphs (windowed pasts for sliding blocks) generates what transformers does', async () => {
    const run = causal.generate.runs.find((r) => r.name === 'left_padded')!;
    assert.ok(run.attention_mask.some((row) => row[0] === 0));
    const firstG = buildGemma2Graph(gen.dir, opts(gen.root, { kv: true }));
    const secondG = buildGemma2Graph(gen.dir, opts(gen.root, { half: 'second', kv: true }));
    const [first, second] = await Promise.all([session(firstG), session(secondG)]);
    try {
      const config = firstG.config;
      const B = run.input_ids.length;
      const row = config.numKvHeads * config.headDim;
      const caches = new Map<string, Float32Array>(); // [B, P, row] per past input name
      const past = (name: string, P: number, keep: number) => {
        const all = caches.get(name) ?? new Float32Array(0);
        const k = Math.min(keep, P);
        const out = new Float32Array(B * k * row);
        for (let b = 0; b < B; b++) out.set(all.subarray((b * P + P - k) * row, (b * P + P) * row), b * k * row);
        return new ort.Tensor('float32', out, [B, k, config.numKvHeads, config.headDim]);
      };
      const append = (name: string, P: number, fresh: Float32Array, T: number) => {
        const all = caches.get(name) ?? new Float32Array(0);
        const out = new Float32Array(B * (P + T) * row);
        for (let b = 0; b < B; b++) {
          out.set(all.subarray(b * P * row, (b + 1) * P * row), b * (P + T) * row);
          out.set(fresh.subarray(b * T * row, (b + 1) * T * row), (b * (P + T) + P) * row);
        }
        caches.set(name, out);
      };
      const step = async (g: Gemma2Graph, s: ort.InferenceSession, input: Record<string, ort.Tensor>, mask: number[][], T: number) => {
        const P = mask[0].length - T;
        const f: Record<string, ort.Tensor> = { ...input, attention_mask: i64(mask) };
        for (const i of g.kvBlocks) {
          const keep = config.slidingLayers[i] ? config.slidingWindow - 1 : P;
          f[pastKeyName(i)] = past(pastKeyName(i), P, keep);
          f[pastValueName(i)] = past(pastValueName(i), P, keep);
        }
        const out = await s.run(f);
        for (const i of g.kvBlocks) {
          append(pastKeyName(i), P, out[newKeyName(i)].data as Float32Array, T);
          append(pastValueName(i), P, out[newValueName(i)].data as Float32Array, T);
        }
        return out;
      };
      let mask = run.attention_mask.map((r) => [...r]);
      let tokens = run.input_ids;
      const generated: number[][] = run.input_ids.map(() => []);
      for (let n = 0; n < 32; n++) {
        const T = tokens[0].length;
        const resid = (await step(firstG, first, { input_ids: i64(tokens) }, mask, T)).resid;
        const argmax = (await step(secondG, second, { resid, [NEXT_TOKEN.topK]: topK(1) }, mask, T))[NEXT_TOKEN.argmax].data as Int32Array;
        tokens = generated.map((g, b) => {
          g.push(argmax[b * T + T - 1]);
          return [g.at(-1)!];
        });
        mask = mask.map((r) => [...r, 1]);
      }
      assert.deepEqual(generated, run.new_ids);
    } finally {
      await Promise.all([first.release(), second.release()]);
    }
  });
});

describe('Gemma 2 key/value cache', () => {
  let model: ReturnType<typeof copyModel>;
  let m: Gemma2SplitModel;
  const ids = fixture.cases[0].input_ids[0];
  const other = [7, 300, 42, 511, 3, 99, 250, 18, 64, 401];
  before(async () => {
    model = copyModel();
    m = await Gemma2SplitModel.open('fixture', model.dir, { layer: 1, cacheDir: join(model.root, 'cache') }, createSession);
  });
  after(async () => {
    await m.dispose();
    model.cleanup();
  });

  /** Runs `chunks` one after another over the caches; returns the concatenated residuals and log-probs. */
  async function run(chunks: number[][], start?: { a: KvCache; b: KvCache }) {
    let a = start?.a;
    let b = start?.b;
    const resid: Float32Array[] = [];
    const logp: Float32Array[] = [];
    for (const chunk of chunks) {
      const x = await m.firstHalf(chunk, a);
      const y = await m.secondHalf(x.resid, b, { logProbs: true, topK: 2 });
      a = x.cache;
      b = y.cache;
      resid.push(x.resid);
      logp.push(y.next.logProbs!);
    }
    const cat = (xs: Float32Array[]) => Float32Array.from(xs.flatMap((x) => [...x]));
    return { resid: cat(resid), logp: cat(logp), a: a!, b: b! };
  }

  test('decoding one token at a time over the cache equals one full forward (residual and log-probs)', async () => {
    const full = await run([ids]);
    assert.ok(maxRelError(fixture.cases[0], 2, full.resid) < TOLERANCE);
    const steps = await run([ids.slice(0, 5), ...ids.slice(5, 17).map((t) => [t]), ids.slice(17)]);
    assert.equal(steps.a.length, ids.length);
    assert.ok(maxAbsDiff(steps.resid, full.resid) < 1e-5 * 10, `residual differs by ${maxAbsDiff(steps.resid, full.resid)}`);
    assert.ok(maxAbsDiff(steps.logp, full.logp) < 1e-4, `log-probs differ by ${maxAbsDiff(steps.logp, full.logp)}`);
  });

  test('truncate(n) + continue equals a fresh run, also past the sliding window and after the longer cache was extended', async () => {
    const full = await run([ids]);
    for (const n of [0, 3, 9, 19]) {
      const branch = await run([other.slice(0, 4), other.slice(4, 5)], { a: full.a.truncate(n), b: full.b.truncate(n) });
      const fresh = await run([[...ids.slice(0, n), ...other.slice(0, 5)]]);
      const tail = fresh.logp.subarray(n * V);
      assert.ok(maxAbsDiff(branch.logp, tail) < 1e-4, `truncate(${n}): log-probs differ by ${maxAbsDiff(branch.logp, tail)}`);
    }
    // the longer cache is still intact and can be extended twice, each time as if fresh
    for (const t of [5, 6]) {
      const cont = await run([[t]], { a: full.a, b: full.b });
      const fresh = await run([[...ids, t]]);
      assert.ok(maxAbsDiff(cont.logp, fresh.logp.subarray(ids.length * V)) < 1e-4);
    }
    assert.throws(() => full.a.truncate(ids.length + 1), RangeError);
    await assert.rejects(m.secondHalf(new Float32Array(64), full.a, {}), /another model or to the other half/);
  });
});

describe('Gemma 2 folders and graph variants', () => {
  test('a folder that ends at block `layer` opens: the first half works, the second names the folder and the missing tensors', async () => {
    const cut = copyModel();
    try {
      const tensors = asF32(fixtureTensors());
      for (const name of Object.keys(tensors)) if (/^model\.layers\.[23]\.|^model\.norm\./.test(name)) delete tensors[name];
      writeSafetensors(join(cut.dir, 'model.safetensors'), tensors);
      const m = await Gemma2SplitModel.open('cut', cut.dir, { layer: 1, cacheDir: join(cut.root, 'cache') }, createSession);
      try {
        assert.equal(m.hasSecondHalf, false);
        assert.equal(m.weightBytes.second, undefined);
        const { resid } = await m.firstHalf(fixture.cases[0].input_ids[0]);
        assert.ok(maxRelError(fixture.cases[0], 2, resid) < TOLERANCE);
        await assert.rejects(m.secondHalf(resid, undefined, {}), (e: unknown) => {
          assert.ok(e instanceof LatentDiffError && e.code === 'missing-tensor' && e.file === cut.dir, String(e));
          for (const name of ['"model.layers.2.*"', '"model.layers.3.*"', '"model.norm.weight"', '23 tensors']) assert.ok(e.message.includes(name), `${e.message} should name ${name}`);
          return true;
        });
      } finally {
        await m.dispose();
      }
    } finally {
      cut.cleanup();
    }
  });

  test('every graph variant (half, key/value cache, log-probs, KL) is a graph of its own in the cache', () => {
    const m = copyModel();
    try {
      const cacheDir = join(m.root, 'cache');
      const variants: Partial<Gemma2BuildOptions>[] = [
        {}, { kv: true }, { allLayers: true },
        { half: 'second' }, { half: 'second', kv: true }, { half: 'second', head: { logProbs: true } }, { half: 'second', head: { kl: true } }, { half: 'second', kv: true, head: { logProbs: true, kl: true } },
      ];
      const paths = variants.map((v) => buildGemma2Graph(m.dir, { layer: 1, cacheDir, ...v }));
      assert.equal(new Set(paths.map((g) => g.path)).size, variants.length);
      variants.forEach((v, i) => {
        const again = buildGemma2Graph(m.dir, { layer: 1, cacheDir, ...v });
        assert.equal(again.fromCache, true);
        assert.equal(again.path, paths[i].path);
        assert.deepEqual(again.inputNames, paths[i].inputNames);
      });
      assert.ok(paths[7].inputNames.includes(NEXT_TOKEN.klReference) && paths[7].inputNames.includes(pastKeyName(3)) && !paths[7].inputNames.includes(pastKeyName(1)));
    } finally {
      m.cleanup();
    }
  });
});
