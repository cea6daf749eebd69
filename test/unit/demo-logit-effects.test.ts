/**
 * Logit effects on ONNX-file bundles (bundle.json "unembedding"), with the real onnxruntime-node:
 * - the embedded demo: each model's top/bottom 10 tokens for planted and background latents equal d_j^m @ W_U^T
 *   computed here in float64, where W_U is read off the bundle's own second-half graph (run directly, without
 *   Latent Diff's graph code) on small residuals eps * e_i, at which its logits are linear (the gated successor
 *   terms are zero); the chat model's template latent promotes <end_of_turn>, as the ground truth's steering
 *   entry says it does;
 * - a safetensors unembedding on a random matrix, against float64;
 * - bad "unembedding" fields give a LatentDiffError naming bundle.json and the field, or (a value computed
 *   from the graph's input, or of the wrong shape) the second-half file and the field when first used.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { logitEffects, decoderVectors, type LogitEffects } from '../../extension/engine/analysis/patching/logit-effects';
import { loadBundle, type Bundle } from '../../extension/engine/bundle/bundle';
import { writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { LatentDiffError } from '../../extension/engine/errors';
import { ModelPair } from '../../extension/engine/runtime/model-pair';
import { demoBundleJsonElsewhere, randomFloats } from './bundle-fixtures';

const DEMO = resolve(__dirname, '../../models/demo');
const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));
const K = 10;

/** W_U [V, d] (row-major, float64) of a demo second half: its logits at residual eps * e_i, divided by eps. */
async function linearReadout(bundle: Bundle, role: 'base' | 'chat'): Promise<{ W: Float64Array; V: number }> {
  const src = bundle[role];
  assert.ok(src.kind === 'onnx' && src.secondHalf);
  const d = bundle.dModel;
  const eps = 0.5;
  const resid = new Float32Array(d * d);
  for (let i = 0; i < d; i++) resid[i * d + i] = eps;
  const session = await ort.InferenceSession.create(src.secondHalf.path);
  try {
    const out = await session.run({ [src.secondHalf.input]: new ort.Tensor('float32', resid, [1, d, d]) });
    const logits = out[src.secondHalf.output].data as Float32Array;
    const V = logits.length / d;
    const W = new Float64Array(V * d);
    for (let i = 0; i < d; i++) for (let v = 0; v < V; v++) W[v * d + i] = logits[i * V + v] / eps;
    return { W, V };
  } finally {
    await session.release();
  }
}

/** v @ W^T in float64. */
function reference(W: Float64Array, V: number, v: Float32Array): Float64Array {
  const d = v.length;
  const out = new Float64Array(V);
  for (let t = 0; t < V; t++) {
    let s = 0;
    for (let i = 0; i < d; i++) s += v[i] * W[t * d + i];
    out[t] = s;
  }
  return out;
}

/**
 * Rank by rank, the returned value equals the float64 k-th largest (smallest) within rel. error 1e-4, and so
 * does the float64 value of the returned id (ids may differ from a float64 sort only between near-ties).
 */
function assertSide(got: LogitEffects['base'], ref: Float64Array, what: string): void {
  const order = [...ref.keys()].sort((a, b) => ref[b] - ref[a]);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.abs(b) + 1e-7;
  for (const [list, ids] of [[got.promoted, order.slice(0, K)], [got.suppressed, order.slice(-K).reverse()]] as const) {
    assert.equal(list.length, K, what);
    list.forEach((e, i) => {
      assert.ok(close(e.logit, ref[ids[i]]), `${what} rank ${i}: ${e.logit} vs float64 ${ref[ids[i]]}`);
      assert.ok(close(e.logit, ref[e.id]), `${what} rank ${i}: token ${e.id} has ${ref[e.id]} in float64, returned ${e.logit}`);
      const tie = Math.abs(ref[ids[i]] - ref[e.id]) <= 1e-4 * Math.abs(ref[ids[i]]);
      assert.ok(e.id === ids[i] || tie, `${what} rank ${i}: token ${e.id}, float64 says ${ids[i]}`);
    });
  }
}

test('demo: logit effects equal d_j @ W_U^T in float64 (top and bottom 10, both models); the template latent promotes <end_of_turn>', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'ld-logit-effects-'));
  const bundle = loadBundle(DEMO);
  const pair = await ModelPair.open(bundle, { provider: 'cpu', cacheDir });
  try {
    const planted = (concept: string, role: string) => Number(Object.entries(truth.latents as Record<string, { concept: string; role: string }>).find(([, l]) => l.concept === concept && l.role === role)![0]);
    const template = planted('template', 'robust-chat-only');
    const background = [...Array(bundle.crosscoder.dictSize).keys()].filter((j) => !(String(j) in truth.latents)).slice(0, 2);
    const latents = [template, planted('role-name', 'complete-shrinkage'), planted('question', 'decoupling-partner'), ...background];
    const readouts = { base: await linearReadout(bundle, 'base'), chat: await linearReadout(bundle, 'chat') };
    for (const j of latents) {
      const got = await logitEffects(pair, bundle.crosscoder, j, K);
      const v = decoderVectors(bundle.crosscoder, j);
      for (const m of ['base', 'chat'] as const) assertSide(got[m], reference(readouts[m].W, readouts[m].V, v[m]), `latent ${j} ${m}`);
    }
    const endOfTurn = truth.behaviour.steering.find((s: { latent: number }) => s.latent === template).ids[0];
    const effects = await logitEffects(pair, bundle.crosscoder, template, K);
    assert.equal(effects.chat.promoted[0].id, endOfTurn);
    assert.ok(effects.chat.promoted[0].logit > 5 * effects.chat.promoted[1].logit, 'the planted <end_of_turn> readout dominates');
    assert.notEqual(effects.base.promoted[0].id, endOfTurn, 'the base model has no <end_of_turn> readout');
  } finally {
    await pair.dispose();
    rmSync(cacheDir, { recursive: true, force: true });
  }
});

/** Writes a bundle reusing the demo's files, edited, and loads it (or returns the LatentDiffError it gives). */
function bundleWith(dir: string, edit: (j: Record<string, any>) => void): Bundle | LatentDiffError {
  const json = demoBundleJsonElsewhere(DEMO);
  json.tokenizer.json = join(DEMO, json.tokenizer.json);
  json.tokenizer.config = join(DEMO, json.tokenizer.config);
  edit(json);
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  try {
    return loadBundle(dir);
  } catch (e) {
    assert.ok(e instanceof LatentDiffError, String(e));
    return e;
  }
}

function loadError(dir: string, edit: (j: Record<string, any>) => void): LatentDiffError {
  const r = bundleWith(dir, edit);
  assert.ok(r instanceof LatentDiffError, 'the bundle loaded');
  return r;
}

test('a safetensors unembedding: logit effects equal v @ W^T in float64', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-unembed-st-'));
  try {
    const d = 64;
    const V = 300;
    const W = randomFloats(V * d, 9);
    writeSafetensors(join(dir, 'unembed.safetensors'), { 'lm_head.weight': { dtype: 'F32', shape: [V, d], data: W } });
    const bundle = bundleWith(dir, (j) => {
      for (const role of ['base', 'chat']) {
        delete j[role].secondHalf;
        j[role].unembedding = { safetensors: 'unembed.safetensors', tensor: 'lm_head.weight' };
      }
    });
    assert.ok(!(bundle instanceof LatentDiffError), String(bundle));
    const pair = await ModelPair.open(bundle, { provider: 'cpu', cacheDir: join(dir, 'cache') });
    try {
      const j = 5;
      const got = await logitEffects(pair, bundle.crosscoder, j, K);
      const v = decoderVectors(bundle.crosscoder, j);
      for (const m of ['base', 'chat'] as const) assertSide(got[m], reference(Float64Array.from(W), V, v[m]), `safetensors ${m}`);
    } finally {
      await pair.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad "unembedding" fields: clear errors naming bundle.json and the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-unembed-bad-'));
  try {
    const secondHalf = join(DEMO, 'base-second-half.onnx');
    const graph = onnx.ModelProto.decode(readFileSync(secondHalf)).graph!;
    const smallWeight = graph.initializer!.find((t) => t.dims!.length === 2)!;
    const expectBundleError = (edit: (j: Record<string, any>) => void, pattern: RegExp) => {
      const e = loadError(dir, edit);
      assert.equal(e.file, join(dir, 'bundle.json'));
      assert.match(e.message, pattern);
    };
    expectBundleError((j) => (j.base.unembedding = 'no_such_value'), /field "base\.unembedding".*no initializer or node output named "no_such_value"/);
    expectBundleError((j) => (j.base.unembedding = 'resid'), /field "base\.unembedding".*"resid" is an input/);
    expectBundleError((j) => (j.chat.unembedding = smallWeight.name), /field "chat\.unembedding".*has shape \[\d+, \d+\]; the unembedding is \[vocab, dModel\] = \[256000, 64\]/);
    expectBundleError((j) => {
      delete j.base.secondHalf;
      j.base.unembedding = 'unembedding';
    }, /field "base\.unembedding".*no "secondHalf"/);
    expectBundleError((j) => (j.base.unembedding = 42), /field "base\.unembedding".*should be an object/);
    expectBundleError((j) => (j.base = { name: 'gemma', hf: DEMO, unembedding: 'w' }), /field "base\.unembedding".*is for ONNX-file models/);
    expectBundleError((j) => (j.base.unembedding = { safetensors: 'missing.safetensors', tensor: 'w' }), /field "base\.unembedding\.safetensors".*not found/);
    writeSafetensors(join(dir, 'u.safetensors'), { w: { dtype: 'F32', shape: [10, 63], data: new Float32Array(630) }, ids: { dtype: 'I32', shape: [2, 2], data: new Int32Array(4) } });
    expectBundleError((j) => (j.base.unembedding = { safetensors: 'u.safetensors', tensor: 'ids' }), /field "base\.unembedding\.tensor".*dtype I32/);
    expectBundleError((j) => (j.base.unembedding = { safetensors: 'u.safetensors', tensor: 'x' }), /field "base\.unembedding\.tensor".*no tensor "x"/);
    expectBundleError((j) => (j.base.unembedding = { safetensors: 'u.safetensors', tensor: 'w' }), /field "base\.unembedding".*\[10, 63\].*\[256000, 64\]/);
    expectBundleError((j) => (j.base.unembedding = { safetensors: 'u.safetensors' }), /field "base\.unembedding\.tensor".*missing/);

    // A node output passes the load-time check (its shape is only known when it runs): the first use says what is wrong.
    const bundle = bundleWith(dir, (j) => (j.base.unembedding = 'logits'));
    assert.ok(!(bundle instanceof LatentDiffError), String(bundle));
    const pair = await ModelPair.open(bundle, { provider: 'cpu', cacheDir: join(dir, 'cache') });
    try {
      await assert.rejects(logitEffects(pair, bundle.crosscoder, 0, K), (e: unknown) => {
        assert.ok(e instanceof LatentDiffError);
        assert.equal(e.file, secondHalf);
        assert.match(e.message, /"base\.unembedding" in bundle\.json.*depends on the graph's input "resid"/);
        return true;
      });
    } finally {
      await pair.dispose();
    }
    const without = bundleWith(dir, (j) => delete j.chat.unembedding);
    assert.ok(!(without instanceof LatentDiffError));
    const pair2 = await ModelPair.open(without, { provider: 'cpu', cacheDir: join(dir, 'cache') });
    try {
      await assert.rejects(logitEffects(pair2, without.crosscoder, 0, K), /model "demo-chat" names no unembedding: add "unembedding" to its entry in bundle\.json/);
    } finally {
      await pair2.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
