/**
 * The vscode-free parts of the generation panel, against values written out in the test: the answer is
 * inserted as one model turn (turns written out, JSON chat) or appended (continuation); steering and sampling
 * input are parsed or refused with a sentence; the panel's columns colour generated tokens with the same
 * series an independent per-token computation gives (exact vectors, top-k fallback, chat-specificity sum);
 * the panel's messages are validated (column and latent ranges, no extra fields); the patching table and the
 * per-token KL placed on the predicted tokens, against values written out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GeneratedToken } from '../../extension/engine/analysis/generate/generator';
import type { BundleInfo } from '../../extension/engine/types';
import { generationView, type AnswerState, type GenerationState } from '../../extension/presentation/generation-view';
import { parseSampling, parseSteering } from '../../extension/presentation/generation-input';
import { answerInsertion } from '../../extension/presentation/model-turn';
import { divergenceByToken, klTableMarkdown, perTokenKl } from '../../extension/presentation/kl-table';
import { DEFAULT_THRESHOLDS } from '../../extension/protocol/latent-verdict';
import { ProtocolError, parseGenerationMessage } from '../../extension/protocol/validate';
import { seededRandom } from '../../extension/engine/random';

const apply = (text: string, r: { start: number; end: number; text: string }) => text.slice(0, r.start) + r.text + text.slice(r.end);

test('the answer becomes one model turn after the last user turn, closed or not', () => {
  const closed = '<start_of_turn>user\nHi?<end_of_turn>\n';
  assert.equal(apply(closed, answerInsertion(closed, 'Hello!', false)), '<start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n');
  const open = '<start_of_turn>user\nHi?  \n\n';
  assert.equal(apply(open, answerInsertion(open, 'Hello!', false)), '<start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n');
  const plain = 'Once upon a time';
  assert.equal(apply(plain, answerInsertion(plain, ', a cat.', true)), 'Once upon a time, a cat.');
  const modelLast = '<start_of_turn>user\nHi?<end_of_turn>\n<start_of_turn>model\nYes<end_of_turn>\n';
  assert.throws(() => answerInsertion(modelLast, 'x', false, 'chat.txt'), /chat\.txt: .*no longer ends with a user turn/);
});

test('in a JSON chat the answer is one more message with the chat\'s own role name and indentation', () => {
  const json = '{\n  "messages": [\n    {"role": "user", "content": "Hi \\"there\\"?"}\n  ]\n}\n';
  const out = apply(json, answerInsertion(json, 'Hello <b>!', false));
  assert.deepEqual(JSON.parse(out), { messages: [{ role: 'user', content: 'Hi "there"?' }, { role: 'assistant', content: 'Hello <b>!' }] });
  assert.match(out, /^\{\n {2}"messages"/);
  assert.ok(out.endsWith('}\n'));
  const gemma = '[{"role":"user","content":"a"},{"role":"model","content":"b"},{"role":"user","content":"c"}]';
  assert.equal(JSON.parse(apply(gemma, answerInsertion(gemma, 'd', false))).at(-1).role, 'model');
  const jsonl = '{"messages":[{"role":"user","content":"a"}]}\n{"messages":[{"role":"user","content":"b"}]}\n';
  assert.throws(() => answerInsertion(jsonl, 'x', false), /JSONL/);
});

test('steering input: LATENT:STRENGTH pairs, or a sentence naming the bad one', () => {
  assert.deepEqual(parseSteering('12:1, #7:-0.5', 100), [{ latent: 12, strength: 1 }, { latent: 7, strength: -0.5 }]);
  assert.match(parseSteering('12:abc', 100) as string, /strength of latent 12 must be a finite number/);
  assert.match(parseSteering('12:Infinity', 100) as string, /finite/);
  assert.match(parseSteering('12:NaN', 100) as string, /finite/);
  assert.match(parseSteering('100:1', 100) as string, /latent 100 does not exist: this crosscoder has latents 0\.\.99/);
  assert.match(parseSteering('12', 100) as string, /not LATENT:STRENGTH/);
  assert.match(parseSteering('  ', 100) as string, /at least one/);
});

test('sampling input overrides the settings it names and refuses out-of-range values', () => {
  const base = { maxNewTokens: 64, temperature: 0, topP: 1, seed: 0, compareBase: true };
  assert.deepEqual(parseSampling('temperature=0.7 top-p=0.9 seed=3', base), { ...base, temperature: 0.7, topP: 0.9, seed: 3 });
  assert.deepEqual(parseSampling('max=5', base), { ...base, maxNewTokens: 5 });
  assert.match(parseSampling('top-p=0', base) as string, /top-p/);
  assert.match(parseSampling('temperature=-1', base) as string, />= 0/);
  assert.match(parseSampling('max=0', base) as string, /1 to 4096/);
  assert.match(parseSampling('seed=1.5', base) as string, /seed/);
  assert.match(parseSampling('beam=4', base) as string, /not one of/);
});

const BUNDLE: BundleInfo = { name: 'demo', dir: '/x', layer: 1, dModel: 8, dictSize: 50, baseModel: 'b', chatModel: 'c', crosscoderKind: 'relu', crosscoderIdentity: 'id' };

function randomAnswer(seed: number, exact: number[]): AnswerState {
  const r = seededRandom(seed);
  const tokens: GeneratedToken[] = Array.from({ length: 23 }, (_, i) => {
    const top = Array.from({ length: 4 }, () => ({ latent: Math.floor(r() * 50), act: r() * 3 }))
      .filter((x, k, all) => all.findIndex((y) => y.latent === x.latent) === k).sort((a, b) => b.act - a.act);
    return { id: 1000 + i, text: `t${i}`, logProb: -r(), top, acts: exact.map(() => r() * 2) };
  });
  return { model: 'chat', steer: [], steerOn: 'all', tokens, exactLatents: exact, status: 'end-of-turn', tokensPerSecond: 10, text: 'x' };
}

function state(answers: AnswerState[]): GenerationState {
  return { run: 3, title: 't', settings: 's', promptTokens: 5, state: 'done', error: '', insertLabel: 'Insert as model turn', answers, bundle: BUNDLE, provider: 'cpu' };
}

const facts = { metrics: undefined, stats: undefined, label: () => '' };

test('generated tokens are coloured by the same series as analysed text: exact vectors, else top-k, max in the text', () => {
  const exact = randomAnswer(1, [5, 9]);
  const topOnly = randomAnswer(2, []);
  const latent = topOnly.tokens[4].top[0].latent;
  const view = generationView(state([exact, topOnly]), { request: { mode: 'latents', latents: [9] }, chatSet: undefined, norm: { mode: 'text-max', value: 1 }, stats: undefined, facts, thresholds: DEFAULT_THRESHOLDS });
  const s0 = view.columns[0].highlight.series[0];
  const want0 = exact.tokens.map((t) => t.acts![1]);
  assert.deepEqual(Array.from(new Float32Array(s0.acts)), Array.from(Float32Array.from(want0)));
  assert.equal(s0.max, Math.fround(Math.max(...want0)));
  assert.equal(s0.approximate, false);

  const view2 = generationView(state([topOnly]), { request: { mode: 'latents', latents: [latent] }, chatSet: undefined, norm: { mode: 'number', value: 2.5 }, stats: undefined, facts, thresholds: DEFAULT_THRESHOLDS });
  const s1 = view2.columns[0].highlight.series[0];
  const want1 = topOnly.tokens.map((t) => t.top.find((x) => x.latent === latent)?.act ?? 0);
  assert.deepEqual(Array.from(new Float32Array(s1.acts)), Array.from(Float32Array.from(want1)));
  assert.equal(s1.max, 2.5);
  assert.equal(s1.approximate, true);
  assert.equal(view2.columns[0].texts.join(''), topOnly.tokens.map((t) => t.text).join(''));
  assert.deepEqual(Array.from(new Int32Array(view2.columns[0].ids)), topOnly.tokens.map((t) => t.id));
});

test('chat-specificity over generated tokens sums the set\'s activations per token', () => {
  const a = randomAnswer(4, [3, 7, 11]);
  const chatSet = { latents: [3, 7, 11], note: 'robust set' };
  const view = generationView(state([a]), { request: { mode: 'chat-specificity' }, chatSet, norm: { mode: 'text-max', value: 1 }, stats: undefined, facts, thresholds: DEFAULT_THRESHOLDS });
  const s = view.columns[0].highlight.series[0];
  const want = a.tokens.map((t) => t.acts!.reduce((x, y) => x + y, 0));
  const got = Array.from(new Float32Array(s.acts));
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-5, `token ${i}: ${got[i]} vs ${w}`));
  assert.equal(s.latent, null);
  assert.equal(view.columns[0].highlight.note, 'robust set');
});

test('generation panel messages: column and latent ranges, exact fields', () => {
  const limits = { dictSize: 50, tokens: 0, evidence: 0, columns: 2 };
  for (const m of [{ type: 'ready' }, { type: 'cancel', run: 4 }, { type: 'insert', run: 4, column: 1 }, { type: 'steerLatent', latent: 49 }, { type: 'highlightLatent', latent: 0, slot: 1 }, { type: 'openLatent', latent: 3 }]) {
    assert.deepEqual(parseGenerationMessage(m, limits), m);
  }
  const rejects = (m: unknown, path: RegExp) => assert.throws(() => parseGenerationMessage(m, limits), (e: unknown) => e instanceof ProtocolError && path.test(e.path));
  rejects({ type: 'insert', run: 4, column: 2 }, /column/);
  rejects({ type: 'insert', run: -1, column: 0 }, /run/);
  rejects({ type: 'steerLatent', latent: 50 }, /latent/);
  rejects({ type: 'steerLatent', latent: 1, strength: 3 }, /strength/);
  rejects({ type: 'insert', run: 1, column: 0, text: '<script>' }, /text/);
  rejects({ type: 'exportHtml' }, /type/);
  assert.throws(() => parseGenerationMessage({ type: 'insert', run: 1, column: 0 }, { ...limits, columns: undefined }), ProtocolError);
});

const report = {
  provider: 'cpu', documents: 1, tokens: 3, documentNames: ['chat#1'], skipped: [],
  interventions: [
    { name: 'none', latents: [], kl: { all: { mean: 1.5, ci95: 0.25, n: 3 }, k_first: { mean: 2, ci95: 0, n: 1 }, post_k_first: { mean: 1.25, ci95: 0.5, n: 2 } }, perToken: [{ document: 0, position: 4, kl: 2 }, { document: 0, position: 5, kl: 1 }, { document: 0, position: 6, kl: 1.5 }] },
    { name: 'robust', latents: [3, 9], kl: { all: { mean: 0.01, ci95: 0.002, n: 3 }, k_first: { mean: 0, ci95: 0, n: 0 }, post_k_first: { mean: 0.01, ci95: 0.002, n: 2 } }, perToken: [] },
  ],
};

test('the comparison table has one row per intervention with mean ± 95% interval per position subset', () => {
  const md = klTableMarkdown(report, 'chat.txt');
  assert.match(md, /\| intervention \| all \| k_first \| post_k_first \|/);
  assert.match(md, /\| none \| 1\.5000 ± 0\.2500 \(n=3\) \| 2\.0000 ± 0\.0000 \(n=1\) \| 1\.2500 ± 0\.5000 \(n=2\) \|/);
  assert.match(md, /\| robust \(2 latents: #3, #9\) \| 0\.0100 ± 0\.0020 \(n=3\) \| – \| 0\.0100 ± 0\.0020 \(n=2\) \|/);
});

test('per-token KL lands on the predicted token (position + 1); several conversations or a misfit give none', () => {
  assert.deepEqual(Array.from(perTokenKl(report, 0, 9)!), [0, 0, 0, 0, 0, 2, 1, 1.5, 0]);
  assert.equal(perTokenKl(report, 0, 7), undefined, 'position 6 predicts token 7, beyond 7 tokens');
  assert.equal(perTokenKl({ ...report, documents: 2 }, 0, 9), undefined);
  assert.deepEqual(Array.from(divergenceByToken(Float32Array.from([0.5, 2, 3]))), [0, 0.5, 2]);
});
