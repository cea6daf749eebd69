/**
 * Generation and steering on the embedded demo bundle (real onnxruntime-node, real Gemma 2 tokenizer),
 * checked against the demo's ground truth (models/demo/ground-truth.json "behaviour"): greedy answers of
 * both models, the steered answers it predicts, streaming order, sampling determinism for a seed, and bad
 * input (chat not ending with a user turn, non-finite strength, latent out of range, a model without a
 * second half). The steering vector is checked against a float64 sum over the decoder tensor read here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import type { GenerationEvent } from '../../extension/engine/analysis/generate/generate-request';
import { steeringVector } from '../../extension/engine/analysis/generate/steering';
import { loadLatentStats } from '../../extension/engine/analysis/latent-stats';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { readTensorF32 } from '../../extension/engine/bundle/safetensors';
import { LatentDiffError } from '../../extension/engine/errors';
import { CrosscoderRunner } from '../../extension/engine/runtime/crosscoder-runner';

const DEMO = resolve(__dirname, '../../models/demo');
const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));
const behaviour = truth.behaviour;
const cacheDir = mkdtempSync(join(tmpdir(), 'ld-gen-'));
const open = (dir = DEMO) => Analyzer.open(dir, { provider: 'cpu', cacheDir });
const CHAT = JSON.stringify({ messages: [{ role: 'user', content: 'What is the capital of France?' }] });
const roleOf = (role: string) => Number(Object.entries(truth.latents as Record<string, { role: string; concept: string }>).find(([, v]) => v.role === 'robust-chat-only' && v.concept === role)![0]);

test('greedy answers of both models are the ground truth ones, streamed in order with their top latents', async () => {
  const a = open();
  try {
    const events: GenerationEvent[] = [];
    const r = await a.generate(CHAT, { model: 'both', maxNew: 20 }, (e) => events.push(e));
    assert.equal(r.outputs.length, 2);
    const [chat, base] = r.outputs;
    assert.equal(chat.model, 'chat');
    assert.deepEqual(chat.ids, behaviour.chatAnswer.ids);
    assert.equal(chat.text, behaviour.chatAnswer.text);
    assert.equal(chat.stop, 'end-of-turn');
    assert.deepEqual(base.ids, behaviour.baseAnswer.ids);
    assert.equal(base.text, behaviour.baseAnswer.text);
    assert.deepEqual(events.filter((e) => e.output === 0).map((e) => e.token.id), chat.ids);
    assert.deepEqual(events.filter((e) => e.output === 1).map((e) => e.index), base.ids.map((_, i) => i));
    // Every chat answer token lies in the model turn: the planted model-turn latent fires on it.
    const modelTurn = roleOf('model-turn');
    for (const t of chat.tokens) assert.ok(t.top.some((l) => l.latent === modelTurn && l.act > 1), `model-turn latent missing at ${t.text}`);
    assert.ok(chat.tokens.every((t) => t.logProb <= 0 && t.logProb > -1));
    // The prompt ends with the generation prompt <start_of_turn>model\n.
    assert.deepEqual(r.promptIds.slice(-3), [106, 2516, 108]);
  } finally {
    await a.dispose();
  }
});

test('steering the planted robust chat-only latents changes the chat answer as the ground truth predicts', async () => {
  const a = open();
  try {
    for (const s of behaviour.steering) {
      const r = await a.generate(CHAT, { maxNew: 20, steer: [{ latent: s.latent, strength: s.strength }], steerOn: s.on }, () => {});
      assert.equal(r.outputs.length, 2, 'default and steered');
      assert.deepEqual(r.outputs[0].steer, []);
      assert.deepEqual(r.outputs[0].ids, behaviour.chatAnswer.ids);
      assert.deepEqual(r.outputs[1].steer, [{ latent: s.latent, strength: s.strength }]);
      assert.deepEqual(r.outputs[1].ids, s.ids, s.effect);
    }
    // Steering the prompt only: the first answer token is predicted at the last prompt position, so ending the turn still happens.
    const end = behaviour.steering[0];
    const prompt = await a.generate(CHAT, { maxNew: 20, steer: [{ latent: end.latent, strength: end.strength }], steerOn: 'prompt' }, () => {});
    assert.deepEqual(prompt.outputs[1].ids, end.ids);
  } finally {
    await a.dispose();
  }
});

test('sampling is deterministic for a seed; default and steered runs share it; cancelling stops at a step', async () => {
  const a = open();
  try {
    const req = { maxNew: 8, temperature: 1.5, topP: 0.9, seed: 7 };
    const r1 = await a.generate(CHAT, req, () => {});
    const r2 = await a.generate(CHAT, req, () => {});
    assert.deepEqual(r1.outputs[0].ids, r2.outputs[0].ids);
    const other = await a.generate(CHAT, { ...req, seed: 8 }, () => {});
    assert.equal(other.outputs[0].tokens.length, other.outputs[0].ids.length);
    // A zero-strength steer changes nothing: the steered run draws the same tokens from the same seed.
    const zero = await a.generate(CHAT, { ...req, steer: [{ latent: roleOf('template'), strength: 0 }] }, () => {});
    assert.deepEqual(zero.outputs[1].ids, zero.outputs[0].ids);
    assert.deepEqual(zero.outputs[0].ids, r1.outputs[0].ids);

    let seen = 0;
    let calls = 0;
    await assert.rejects(
      a.generate(CHAT, { maxNew: 20 }, () => seen++, async () => {
        if (++calls > 3) throw new Error('cancelled by the test');
      }),
      /cancelled by the test/,
    );
    assert.ok(seen >= 1 && seen < behaviour.chatAnswer.ids.length, `${seen} tokens before the cancel`);
  } finally {
    await a.dispose();
  }
});

test('the steering vector is sum_j strength_j * max_act_j * d_j^chat / ||d_j^chat|| (float64 over the decoder tensor)', async () => {
  const bundle = loadBundle(DEMO);
  const ckpt = bundle.crosscoder;
  const stats = loadLatentStats(join(DEMO, 'feature_df.csv'), ckpt.dictSize);
  const a = open();
  const metrics = await a.metrics();
  await a.dispose();
  const runner = await CrosscoderRunner.create(ckpt, metrics, { cacheDir, topK: 1 });
  try {
    const steer = [{ latent: roleOf('template'), strength: 0.7 }, { latent: 3, strength: -1.3 }, { latent: 100, strength: 2 }];
    const got = await steeringVector(runner, steer, stats.maxAct!);
    const W = readTensorF32(ckpt.decoderWeight); // [2, D, d], chat = index 1
    const { dModel: d, dictSize: D } = ckpt;
    const want = new Float64Array(d);
    for (const { latent, strength } of steer) {
      const row = Array.from({ length: d }, (_, k) => W[D * d + latent * d + k]);
      const norm = Math.sqrt(row.reduce((s, x) => s + x * x, 0));
      for (let k = 0; k < d; k++) want[k] += (strength * stats.maxAct![latent] * row[k]) / norm;
    }
    for (let k = 0; k < d; k++) assert.ok(Math.abs(got[k] - want[k]) <= 1e-5 * (1 + Math.abs(want[k])), `component ${k}: ${got[k]} vs ${want[k]}`);
  } finally {
    await runner.dispose();
  }
});

test('bad input: not a user turn, non-finite strength, latent out of range, bad settings, no second half', async () => {
  const a = open();
  const dir = mkdtempSync(join(tmpdir(), 'ld-gen-bundle-'));
  const json = JSON.parse(readFileSync(join(DEMO, 'bundle.json'), 'utf8'));
  json.base.onnx = join(DEMO, json.base.onnx);
  json.chat.onnx = join(DEMO, json.chat.onnx);
  json.base.secondHalf.onnx = join(DEMO, json.base.secondHalf.onnx);
  delete json.chat.secondHalf;
  delete json.chat.unembedding;
  json.tokenizer.json = join(DEMO, json.tokenizer.json);
  json.tokenizer.config = join(DEMO, json.tokenizer.config);
  json.crosscoder = join(DEMO, json.crosscoder);
  json.stats = join(DEMO, json.stats);
  delete json.examples;
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(json));
  const noSecond = open(dir);
  const fails = async (p: Promise<unknown>, re: RegExp, code: string) => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof LatentDiffError, `expected a LatentDiffError, got ${e}`);
    assert.equal(e.code, code);
    assert.match(e.message, re);
    return e;
  };
  try {
    const modelTurn = JSON.stringify({ messages: [{ role: 'user', content: 'Hi?' }, { role: 'assistant', content: 'Hello.' }] });
    await fails(a.generate(modelTurn, { docName: 'chat.json' }, () => {}), /ends with a "assistant" turn, not a user turn.*continue/, 'not-a-user-turn');
    await fails(a.generate('<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello', {}, () => {}), /"model" turn, not a user turn/, 'not-a-user-turn');
    await fails(a.generate('Just some text.', {}, () => {}), /not a chat.*--continue/, 'not-a-user-turn');
    // Continuing the text as it stands: "." is followed by <end_of_turn> in the planted answers.
    const plain = await a.generate('Just some text.', { continuation: true, maxNew: 5 }, () => {});
    assert.equal(plain.promptIds[0], 2);
    assert.deepEqual(plain.outputs[0].ids, [107]);
    const literal = await a.generate('<start_of_turn>user\nWhat is the capital of France?', { maxNew: 20 }, () => {});
    assert.deepEqual(literal.outputs[0].ids, behaviour.chatAnswer.ids);
    for (const strength of [NaN, Infinity, -Infinity]) await fails(a.generate(CHAT, { steer: [{ latent: 1, strength }] }, () => {}), /finite/, 'invalid-input');
    await fails(a.generate(CHAT, { steer: [{ latent: truth.dictSize, strength: 1 }] }, () => {}), /does not exist/, 'invalid-input');
    await fails(a.generate(CHAT, { latents: [-1] }, () => {}), /does not exist/, 'invalid-input');
    await fails(a.generate(CHAT, { temperature: -1 }, () => {}), /temperature/, 'invalid-input');
    await fails(a.generate(CHAT, { topP: 0 }, () => {}), /top-p/, 'invalid-input');
    await fails(a.generate(CHAT, { maxNew: 0 }, () => {}), /max new tokens/, 'invalid-input');
    const e = await fails(noSecond.generate(CHAT, {}, () => {}), /no second half/, 'no-second-half');
    assert.equal(e.file, join(DEMO, 'chat.onnx'));
    // The first half still analyses, and the base model (which has its second half) still generates.
    assert.ok((await noSecond.analyze('Hello there.')).tokens.length > 1);
    assert.deepEqual((await noSecond.generate(CHAT, { model: 'base', maxNew: 20 }, () => {})).outputs[0].ids, behaviour.baseAnswer.ids);
  } finally {
    await a.dispose();
    await noSecond.dispose();
  }
});
