/**
 * Generation through ModelPair on a bundle of Hugging Face Gemma 2 folders (Gemma2SplitModel: real key/value
 * caches, a decode step per token) against Hugging Face transformers: greedy generation of 32 tokens from the
 * committed fixture (test/fixtures/gemma2/causal.json "generate", a prompt longer than the sliding window)
 * must give transformers' tokens, with the model split after block 1 and a random crosscoder on the residual.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { generateOne } from '../../extension/engine/analysis/generate/generator';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { ModelPair } from '../../extension/engine/runtime/model-pair';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { FIXTURE, loadCausalFixture } from './gemma2-fixture';
import { writeGaussianCrosscoder } from './hf-bundle-fixture';

const DEMO = resolve(__dirname, '../../models/demo');

test('greedy generation over the Gemma 2 KV caches equals transformers generate (32 tokens)', async () => {
  const fixture = loadCausalFixture();
  const run = fixture.generate.runs.find((r) => r.name === 'single')!;
  const root = mkdtempSync(join(tmpdir(), 'ld-gen-hf-'));
  const d = 64;
  writeGaussianCrosscoder(root, 96, 3);
  cpSync(join(FIXTURE, fixture.generate.model), join(root, 'model'), { recursive: true });
  writeFileSync(join(root, 'bundle.json'), JSON.stringify({
    schemaVersion: '1.0', name: 'gen fixture', layer: 1, dModel: d,
    base: { name: 'base', hf: 'model' }, chat: { name: 'chat', hf: 'model' },
    tokenizer: { json: join(DEMO, 'tokenizer.json'), config: join(DEMO, 'tokenizer_config.json'), chatTemplate: 'builtin:gemma2' },
    crosscoder: 'crosscoder',
  }));
  const bundle = loadBundle(root);
  const pair = await ModelPair.open(bundle, { provider: 'cpu', cacheDir: join(root, 'cache') });
  try {
    assert.ok(pair.chat.hasSecondHalf);
    const metrics = await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir: join(root, 'cache') });
    const crosscoder = await pair.crosscoder(metrics, { topK: 32 });
    const tokenizer = GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config);
    const streamed: number[] = [];
    const prompt = run.input_ids[0];
    assert.ok(prompt.length > fixture.generate.sliding_window);
    const out = await generateOne(
      { pair, tokenizer, crosscoder, checkpoint: async () => {}, onToken: (t) => streamed.push(t.id) },
      prompt,
      { model: 'chat', steer: [], steerOn: 'all', maxNew: fixture.generate.max_new_tokens, seed: 0, topK: 5, latents: [0, 1], temperature: 0, topP: 1 },
    );
    assert.deepEqual(out.ids, run.new_ids[0]);
    assert.deepEqual(streamed, out.ids);
    assert.equal(out.stop, 'max-new');
    // Each token's latents come from both models' residuals at its position: here the two models are one,
    // so the crosscoder sees x_base = x_chat; a fresh first half over the whole sequence gives the same codes.
    const whole = await pair.chat.firstHalf([...prompt, ...out.ids]);
    const last = whole.resid.subarray((prompt.length + out.ids.length - 1) * d);
    const enc = await crosscoder.encode(last, last, 1, [0, 1]);
    assert.ok(Math.abs(enc.selected[0][0] - out.tokens.at(-1)!.acts![0]) <= 1e-4 * (1 + Math.abs(enc.selected[0][0])));
  } finally {
    await pair.dispose();
    rmSync(root, { recursive: true, force: true });
  }
});
