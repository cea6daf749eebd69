/**
 * The runtime seam on the demo bundle's ONNX models (real onnxruntime-node): ModelPair opens both models as
 * SplitModels; running a sequence in pieces over the caches equals one run over the whole sequence, for the
 * first half (residuals) and the second half (argmax, top-k, log-probs, KL); the in-graph next-token outputs
 * are checked against a float64 log-softmax / KL computed here from the returned log-probs. Also the
 * bundle.json validation of "secondHalf".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { LatentDiffError } from '../../extension/engine/errors';
import { ModelPair } from '../../extension/engine/runtime/model-pair';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';

const DEMO = resolve(__dirname, '../../models/demo');
const cacheDir = mkdtempSync(join(tmpdir(), 'ld-split-'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('pieces over the caches equal one run; next-token outputs match a float64 log-softmax and KL', async () => {
  const bundle = loadBundle(DEMO);
  const pair = await ModelPair.open(bundle, { provider: 'cpu', cacheDir });
  try {
    const tok = GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config);
    const ids = tok.encode('<start_of_turn>user\nHow many days are in 2024?<end_of_turn>\n<start_of_turn>model\nSure! Happy to', { addBos: true });
    const T = ids.length;
    const d = bundle.dModel;
    for (const m of [pair.base, pair.chat]) {
      assert.ok(m.hasSecondHalf);
      assert.equal(m.vocabSize, 256_000);
      const V = m.vocabSize;
      const whole = await m.firstHalf(ids);
      assert.equal(whole.cache.length, T);
      const cuts = [0, 5, 6, T - 3, T];
      const pieces = new Float32Array(T * d);
      let cache = undefined;
      for (let i = 0; i + 1 < cuts.length; i++) {
        const r = await m.firstHalf(ids.slice(cuts[i], cuts[i + 1]), cache);
        pieces.set(r.resid, cuts[i] * d);
        cache = r.cache;
      }
      assert.ok(maxAbsDiff(pieces, whole.resid) <= 1e-5);
      // Truncating a cache and running the rest again gives the same residuals.
      const again = await m.firstHalf(ids.slice(7), whole.cache.truncate(7));
      assert.ok(maxAbsDiff(again.resid, whole.resid.subarray(7 * d)) <= 1e-5);

      const full = await m.secondHalf(whole.resid, undefined, { topK: 5, logProbs: true });
      assert.equal(full.next.argmax.length, T);
      let second = undefined;
      const argmax: number[] = [];
      const logProbs = new Float32Array(T * V);
      for (let i = 0; i + 1 < cuts.length; i++) {
        const r = await m.secondHalf(whole.resid.slice(cuts[i] * d, cuts[i + 1] * d), second, { topK: 5, logProbs: true });
        argmax.push(...r.next.argmax);
        logProbs.set(r.next.logProbs!, cuts[i] * V);
        second = r.cache;
      }
      assert.deepEqual(argmax, Array.from(full.next.argmax));
      assert.ok(maxAbsDiff(logProbs, full.next.logProbs!) <= 1e-4);
      const last = await m.secondHalf(whole.resid, undefined, { topK: 5, lastOnly: true });
      assert.deepEqual(Array.from(last.next.argmax), [full.next.argmax[T - 1]]);

      // log-probs normalise; top-k are the k largest; KL against the other model's distribution.
      const lp = full.next.logProbs!;
      for (const t of [0, T - 1]) {
        const row = lp.subarray(t * V, (t + 1) * V);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(row[v]);
        // ORT sums 256,000 exponentials in float32: the normaliser is good to a few 1e-4.
        assert.ok(Math.abs(z - 1) < 1e-3, `sum of probabilities ${z}`);
        const sorted = Array.from(row.keys()).sort((a, b) => row[b] - row[a]).slice(0, 5);
        assert.deepEqual(Array.from(full.next.topIds.subarray(t * 5, t * 5 + 5)), sorted);
        assert.equal(full.next.argmax[t], sorted[0]);
      }
      const ref = await (m === pair.base ? pair.chat : pair.base).secondHalf(whole.resid, undefined, { logProbs: true });
      const kl = await m.secondHalf(whole.resid, undefined, { klReference: ref.next.logProbs! });
      for (let t = 0; t < T; t++) {
        let want = 0;
        for (let v = 0; v < V; v++) {
          const p = Math.exp(ref.next.logProbs![t * V + v]);
          want += p * (ref.next.logProbs![t * V + v] - lp[t * V + v]);
        }
        assert.ok(Math.abs(kl.next.kl![t] - want) <= 1e-4 * (1 + want), `KL at ${t}: ${kl.next.kl![t]} vs ${want}`);
      }
    }
    // A cache made by one half cannot be fed to the other.
    const { cache } = await pair.chat.firstHalf(ids.slice(0, 3));
    await assert.rejects(pair.chat.secondHalf(new Float32Array(d), cache, {}), /another model or half/);
  } finally {
    await pair.dispose();
  }
});

test('bundle.json "secondHalf" is validated: file, input, output and a fixed vocabulary', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ld-split-bundle-'));
  const base = JSON.parse(readFileSync(join(DEMO, 'bundle.json'), 'utf8'));
  for (const role of ['base', 'chat']) {
    base[role].onnx = join(DEMO, base[role].onnx);
    base[role].secondHalf.onnx = join(DEMO, base[role].secondHalf.onnx);
  }
  base.tokenizer.json = join(DEMO, base.tokenizer.json);
  base.tokenizer.config = join(DEMO, base.tokenizer.config);
  base.crosscoder = join(DEMO, base.crosscoder);
  delete base.stats;
  delete base.examples;
  const tryWith = (edit: (j: typeof base) => void): LatentDiffError => {
    const j = structuredClone(base);
    edit(j);
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(j));
    try {
      loadBundle(dir);
    } catch (e) {
      assert.ok(e instanceof LatentDiffError);
      return e;
    }
    assert.fail('the bundle loaded');
  };
  writeFileSync(join(dir, 'bundle.json'), JSON.stringify(base));
  const ok = loadBundle(dir);
  assert.equal(ok.chat.kind === 'onnx' && ok.chat.secondHalf?.vocabSize, 256_000);
  assert.match(tryWith((j) => (j.chat.secondHalf.onnx = 'missing.onnx')).message, /chat\.secondHalf\.onnx/);
  assert.match(tryWith((j) => (j.chat.secondHalf.input = 'x')).message, /no input named "x".*chat\.secondHalf\.input/);
  assert.match(tryWith((j) => (j.chat.secondHalf.output = 'y')).message, /no output named "y".*chat\.secondHalf\.output/);
  assert.match(tryWith((j) => delete j.chat.secondHalf.output).message, /chat\.secondHalf\.output.*missing/);
  // The first-half graph is not a second half: it reads token ids, not a residual.
  const e = tryWith((j) => (j.base.secondHalf = { onnx: j.base.onnx, input: 'input_ids', output: 'resid' }));
  assert.equal(e.file, join(DEMO, 'base.onnx'));
  assert.match(e.message, /element type 7; the residual is float32/);
});
