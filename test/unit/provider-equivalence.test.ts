/**
 * Provider equivalence: the same work on ONNX Runtime's WebGPU provider and on its CPU provider, compared
 * (relative error < 1e-4 against a floor of 1e-3 of the largest value; identical top-k sets except where
 * the values at the cut tie within that tolerance): the demo bundle's analysis, a statistics run on the demo
 * dataset, and random crosscoders of several sizes. Here WebGPU runs on Mesa's software Vulkan (lavapipe):
 * a real Dawn and real WGSL kernels, on the CPU. Under CI=true a WebGPU provider that does not start is a
 * failure; elsewhere these tests are skipped with the reason.
 */
import { before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Analyzer } from '../../extension/engine/analysis/analyzer';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { computeLatentMetrics } from '../../extension/engine/latents/metrics';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { runStatsJob } from '../../extension/engine/analysis/stats/stats-job';
import { openSequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';
import { readFeatureDf } from '../../extension/engine/analysis/feature-df';
import { CrosscoderRunner, type EncodeResult } from '../../extension/engine/runtime/crosscoder-runner';
import { createSession, type ProviderChoice } from '../../extension/engine/runtime/providers';
import { prng, randomTokens, writeFixture } from './crosscoder-graph-fixture';

const ROOT = resolve(__dirname, '../..');
const DEMO = join(ROOT, 'models/demo');
const TOL = 1e-4;
const root = mkdtempSync(join(tmpdir(), 'ld-equiv-'));
// Mesa wants a runtime folder; a fresh machine (CI) may have none.
if (!process.env.XDG_RUNTIME_DIR) {
  process.env.XDG_RUNTIME_DIR = join(root, 'xdg');
  mkdirSync(process.env.XDG_RUNTIME_DIR, { mode: 0o700 });
}

let webgpuProblem: string | undefined;
before(async () => {
  const choice: ProviderChoice = {};
  const session = await createSession(join(DEMO, 'base.onnx'), 'webgpu', choice);
  await session.release();
  if (choice.current !== 'webgpu') webgpuProblem = choice.fallbackReason ?? 'webgpu did not start';
});

/** False (and skipped, or failed under CI) when WebGPU cannot run here. */
function webgpuRuns(t: TestContext): boolean {
  if (!webgpuProblem) return true;
  const message = `WebGPU does not start here (${webgpuProblem}); see docs/gpu.md for the Vulkan driver`;
  if (process.env.CI === 'true') assert.fail(message);
  t.skip(message);
  return false;
}

function closeEnough(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: lengths`);
  let scale = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i])) scale = Math.max(scale, Math.abs(want[i]));
  const floor = 1e-3 * scale || 1e-12;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i]) && Number.isNaN(got[i])) continue;
    const err = Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), floor);
    assert.ok(err < TOL, `${what}[${i}]: ${got[i]} vs ${want[i]} (relative error ${err.toExponential(2)})`);
  }
}

/**
 * The same top-k per row: latents in one set and not the other must sit at the cut, tied within tolerance
 * with the k-th value; shared latents must have close values.
 */
function sameTopK(got: { ids: ArrayLike<number>; values: ArrayLike<number> }, want: { ids: ArrayLike<number>; values: ArrayLike<number> }, k: number, what: string): void {
  const rows = want.ids.length / k;
  let scale = 0;
  for (let i = 0; i < want.values.length; i++) scale = Math.max(scale, Math.abs(want.values[i]));
  const floor = 1e-3 * scale || 1e-12;
  const near = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), floor) < TOL;
  for (let r = 0; r < rows; r++) {
    const row = (s: typeof got) => new Map(Array.from({ length: k }, (_, j) => [s.ids[r * k + j], s.values[r * k + j]] as const).filter(([, v]) => v > 0));
    const g = row(got);
    const w = row(want);
    const cut = Math.min(...w.values(), ...g.values());
    for (const [id, v] of w) {
      if (g.has(id)) assert.ok(near(g.get(id)!, v), `${what} row ${r} latent ${id}: ${g.get(id)} vs ${v}`);
      else assert.ok(near(v, cut), `${what} row ${r}: latent ${id} (${v}) missing from the webgpu top-${k}, and not tied at the cut ${cut}`);
    }
    for (const [id, v] of g) if (!w.has(id)) assert.ok(near(v, cut), `${what} row ${r}: latent ${id} (${v}) only in the webgpu top-${k}, not tied at the cut ${cut}`);
  }
}

test('the demo analysis on webgpu matches the cpu', async (t) => {
  if (!webgpuRuns(t)) return;
  const text = readFileSync(join(ROOT, 'models/samples/hello-chat.txt'), 'utf8');
  const truth = JSON.parse(readFileSync(join(DEMO, 'ground-truth.json'), 'utf8'));
  const latents = Object.keys(truth.latents).map(Number).slice(0, 4);
  const results = [];
  for (const provider of ['cpu', 'webgpu'] as const) {
    const a = Analyzer.open(DEMO, { provider, cacheDir: join(root, `an-${provider}`) });
    try {
      results.push(await a.analyze(text, { topK: 10, latents, contributions: true }));
    } finally {
      await a.dispose();
    }
  }
  const [cpu, gpu] = results;
  assert.equal(gpu.provider, 'webgpu', gpu.providerNote);
  assert.match(gpu.adapter ?? '', /\(vendor 0x[0-9a-f]+, device 0x[0-9a-f]+, .*, Vulkan\)/);
  assert.deepEqual(gpu.tokens, cpu.tokens);
  const flat = (r: typeof cpu) => ({ ids: r.top.flatMap((row) => [...row.map((x) => x.latent), ...Array(10 - row.length).fill(-1)]), values: r.top.flatMap((row) => [...row.map((x) => x.act), ...Array(10 - row.length).fill(0)]) });
  sameTopK(flat(gpu), flat(cpu), 10, 'per-token top-10');
  for (let i = 0; i < latents.length; i++) {
    closeEnough(gpu.selected[i].acts, cpu.selected[i].acts, `latent ${latents[i]} activations`);
    closeEnough(gpu.selected[i].contributions!.chat, cpu.selected[i].contributions!.chat, `latent ${latents[i]} chat contributions`);
  }
  const byLatent = (r: typeof cpu) => new Map(Array.from(r.latents.latent, (j, i) => [j, r.latents.max[i]]));
  const g = byLatent(gpu);
  const c = byLatent(cpu);
  closeEnough([...c.keys()].map((j) => g.get(j) ?? 0), [...c.values()], 'per-latent max');
});

/** feature_df.csv ratio columns and the beta each divides by. */
const RATIO_OF: Record<string, string> = {
  beta_ratio_error: 'beta_error_chat', nu_eps: 'beta_error_chat',
  beta_ratio_reconstruction: 'beta_reconstruction_chat', nu_r: 'beta_reconstruction_chat',
  beta_activation_ratio: 'beta_activation_chat', beta_activation_no_bias_ratio: 'beta_activation_no_bias_chat',
};

function wellAwayFromZero(v: Float64Array): (i: number) => boolean {
  const scale = v.reduce((m, x) => (Number.isFinite(x) ? Math.max(m, Math.abs(x)) : m), 0);
  return (i) => Math.abs(v[i]) >= 1e-2 * scale;
}

test('a statistics run on webgpu matches the cpu (feature_df.csv numbers)', async (t) => {
  if (!webgpuRuns(t)) return;
  const bundle = loadBundle(DEMO);
  const cacheDir = join(root, 'stats-cache');
  const metrics = await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir });
  const tokenizer = GemmaTokenizer.fromFiles(bundle.tokenizer.json, bundle.tokenizer.config);
  const tables = [];
  for (const provider of ['cpu', 'webgpu'] as const) {
    const encoder = await openSequenceEncoder(bundle, metrics, { provider, cacheDir });
    try {
      assert.equal(encoder.provider, provider, encoder.providerNote);
      const r = await runStatsJob({ data: [join(DEMO, 'dataset.jsonl')], out: join(root, `stats-${provider}`), bundle: DEMO, tokens: 800, cacheDir }, { encoder, tokenizer });
      tables.push(readFeatureDf(r.featureDf!));
    } finally {
      await encoder.dispose();
    }
  }
  const [cpu, gpu] = tables;
  assert.deepEqual([...gpu.numbers.keys()], [...cpu.numbers.keys()]);
  assert.deepEqual(gpu.latents, cpu.latents);
  assert.deepEqual(gpu.strings, cpu.strings, 'tags and verdicts');
  let compared = 0;
  for (const [name, values] of cpu.numbers) {
    const denominator = RATIO_OF[name];
    // A ratio of two betas is only as exact as its denominator is large: compared where that is not near 0.
    const keep = denominator ? wellAwayFromZero(cpu.numbers.get(denominator)!) : () => true;
    const pick = (v: Float64Array) => v.filter((_, i) => keep(i));
    closeEnough(pick(gpu.numbers.get(name)!), pick(values), name);
    compared++;
  }
  assert.ok(compared >= 10, `${compared} numeric columns compared`);
});

test('random crosscoders of several sizes encode and decode alike on webgpu and cpu', async (t) => {
  if (!webgpuRuns(t)) return;
  const rand = prng(20261201);
  for (let c = 0; c < 4; c++) {
    const d = 8 + Math.floor(rand() * 120);
    const D = 16 + Math.floor(rand() * 1500);
    const T = 1 + Math.floor(rand() * 40);
    const K = 1 + Math.floor(rand() * Math.min(16, D));
    const dir = join(root, `cc-${c}`);
    mkdirSync(dir);
    const { ckpt } = writeFixture(dir, { d, D, seed: 100 + c, layout: c % 2 ? 'DLd' : 'LDd', kind: c === 3 ? 'batchtopk' : 'relu', threshold: 0.05 });
    const metrics = await computeLatentMetrics(ckpt, { cacheDir: join(dir, 'cache') });
    const x = randomTokens(T, d, 7 + c);
    const out: EncodeResult[] = [];
    const recon: Float32Array[] = [];
    for (const provider of ['cpu', 'webgpu']) {
      const runner = await CrosscoderRunner.create(ckpt, metrics, { cacheDir: join(dir, provider), topK: K, chunkTokens: 16, outputs: { raw: true, recon: true }, sessionOptions: { executionProviders: [provider] } });
      try {
        const r = await runner.encode(x.xBase, x.xChat, T);
        out.push(r);
        recon.push(r.reconChat!);
      } finally {
        await runner.dispose();
      }
    }
    const what = `d=${d} D=${D} T=${T} K=${K}`;
    closeEnough(out[1].raw!, out[0].raw!, `${what} raw activations`);
    closeEnough(out[1].latentMax, out[0].latentMax, `${what} latent max`);
    closeEnough(recon[1], recon[0], `${what} chat reconstruction`);
    sameTopK({ ids: out[1].topIndices, values: out[1].topValues }, { ids: out[0].topIndices, values: out[0].topValues }, K, `${what} top-${K}`);
  }
});
