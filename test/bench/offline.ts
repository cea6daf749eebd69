/**
 * Offline statistics throughput (SPEC 5).
 * 1. Demo bundle: `runStatsJob` over models/demo/dataset.jsonl, both passes; tokens/s per pass and the share of
 *    the time spent in the models + crosscoder (ORT) versus the statistics themselves (JS).
 * 2. Paper-size crosscoder (d=2304 x 2, D=73,728, fp32, random weights, ~100 active latents per token): per
 *    256-token batch, the raw-code encode (ORT) and the two passes' accumulation (scan: frequency, max,
 *    template groups, Latent Scaling over active latents; examples: bins + bottom-k), as tokens/s. The models
 *    are left out at this size (random residuals stand in for them).
 * `npm run bench offline [-- --dict N] [--skip-paper]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { getTensor, readSafetensorsHeader, writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { loadBundle } from '../../extension/engine/bundle/bundle';
import { CrosscoderRunner } from '../../extension/engine/runtime/crosscoder-runner';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { runStatsJob } from '../../extension/engine/analysis/stats/stats-job';
import { openSequenceEncoder, type SequenceEncoder } from '../../extension/engine/analysis/stats/sequence-encoder';
import { emptyScan, ScanAccumulator } from '../../extension/engine/analysis/stats/scan-accumulator';
import { emptyExamples, ExamplesSampler } from '../../extension/engine/analysis/stats/examples-sampler';
import { loadDecoderWeights } from '../../extension/engine/analysis/stats/decoder-weights';
import type { Sequence } from '../../extension/engine/analysis/stats/sequences';
import type { CrosscoderCheckpoint } from '../../extension/engine/types';
import { fillUniform, median, peakRssMiB, type Bench } from './bench';

const ROOT = join(__dirname, '..', '..');

async function demo(): Promise<void> {
  const bundleDir = join(ROOT, 'models', 'demo');
  const out = mkdtempSync(join(tmpdir(), 'ld-bench-offline-'));
  try {
    const cacheDir = join(out, 'cache');
    const bundle = loadBundle(bundleDir);
    const inner = await openSequenceEncoder(bundle, await loadOrComputeLatentMetrics(bundle.crosscoder, { cacheDir }), { provider: 'cpu', cacheDir });
    let inferMs = 0;
    const encoder: SequenceEncoder = {
      provider: inner.provider,
      dispose: () => inner.dispose(),
      encode: async (ids) => {
        const t = performance.now();
        const r = await inner.encode(ids);
        inferMs += performance.now() - t;
        return r;
      },
    };
    const tokens: Record<string, number> = {};
    const phaseMs: Record<string, number> = {};
    const t0 = performance.now();
    let phaseStart = t0;
    let phase = '';
    let inferAtPhase = 0;
    const inferShare: Record<string, number> = {};
    await runStatsJob(
      { data: [join(bundleDir, 'dataset.jsonl')], out: join(out, 'run'), bundle: bundleDir, cacheDir, provider: 'cpu' },
      {
        encoder,
        onProgress: (p) => {
          if (p.phase !== phase) {
            const now = performance.now();
            if (phase) {
              phaseMs[phase] = now - phaseStart;
              inferShare[phase] = (inferMs - inferAtPhase) / (now - phaseStart);
            }
            phase = p.phase;
            phaseStart = now;
            inferAtPhase = inferMs;
          }
          tokens[p.phase] = p.tokens;
        },
      },
    );
    const end = performance.now();
    phaseMs[phase] = end - phaseStart;
    inferShare[phase] = (inferMs - inferAtPhase) / (end - phaseStart);
    await inner.dispose();
    console.log(`demo bundle (d=${bundle.dModel}, D=${bundle.crosscoder.dictSize}), dataset.jsonl, CPU, whole job ${((end - t0) / 1000).toFixed(1)} s (tokenizer load included):`);
    for (const p of ['scan', 'examples']) {
      console.log(`  ${p.padEnd(8)} ${tokens[p]} tokens in ${(phaseMs[p] / 1000).toFixed(2)} s: ${(tokens[p] / (phaseMs[p] / 1000)).toFixed(0)} tokens/s; models + crosscoder (ORT) ${(100 * inferShare[p]).toFixed(0)}% of the pass`);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function paperSize(dictSize: number): Promise<void> {
  const d = 2304;
  const D = dictSize;
  const T = 256;
  const dir = mkdtempSync(join(tmpdir(), 'ld-bench-offline-cc-'));
  try {
    let t = performance.now();
    writeSafetensors(join(dir, 'model.safetensors'), {
      'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: fillUniform(new Float32Array(2 * d * D), 1, Math.sqrt(3 / (2 * d))) },
      // bias about -3 so that ~100 latents per token fire (BatchTopK's k in the paper)
      'encoder.bias': { dtype: 'F32', shape: [D], data: fillUniform(new Float32Array(D), 2, 0.3, -3.0) },
      'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: fillUniform(new Float32Array(2 * D * d), 3, Math.sqrt(3 / d)) },
      'decoder.bias': { dtype: 'F32', shape: [2, d], data: fillUniform(new Float32Array(2 * d), 4, 0.1) },
    });
    const file = join(dir, 'model.safetensors');
    const st = readSafetensorsHeader(file);
    const ckpt: CrosscoderCheckpoint = {
      dir, file, format: 'dictionary_learning', kind: 'relu', dModel: d, dictSize: D, codeNormalization: 'crosscoder',
      encoderWeight: getTensor(st, 'encoder.weight'), encoderBias: getTensor(st, 'encoder.bias'),
      decoderWeight: getTensor(st, 'decoder.weight'), decoderLayout: 'LDd', decoderBias: getTensor(st, 'decoder.bias'),
      identity: `bench-offline-${D}`,
    };
    console.log(`paper-size crosscoder: wrote ${(st.fileSize / 2 ** 30).toFixed(2)} GiB of random weights in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const cacheDir = join(dir, 'cache');
    const metrics = await loadOrComputeLatentMetrics(ckpt, { cacheDir, sessionOptions: { executionProviders: ['cpu'] } });
    const runner = await CrosscoderRunner.create(ckpt, metrics, {
      cacheDir, topK: 1, chunkTokens: T, sessionOptions: { executionProviders: ['cpu'] },
      outputs: { top: false, summary: false, selected: false, raw: true, recon: false },
    });
    t = performance.now();
    const dec = loadDecoderWeights(ckpt);
    console.log(`  decoder into memory for Latent Scaling: ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const scan = emptyScan(D);
    const acc = new ScanAccumulator(scan, dec, metrics.scale, 2);
    const ctrl = new Uint8Array(T);
    for (let i = 1; i < T; i += 12) ctrl[i] = ((i / 12) % 10) + 1;
    const enc: number[] = [], sc: number[] = [], ex: number[] = [];
    let active = 0;
    const reps = 5;
    for (let r = 0; r <= reps; r++) {
      const xBase = fillUniform(new Float32Array(T * d), 10 + r, 1.7);
      const xChat = fillUniform(new Float32Array(T * d), 20 + r, 1.7);
      const ids = Int32Array.from({ length: T }, (_, i) => (i === 0 ? 2 : 1000 + ((i * 7919 + r) % 5000)));
      const seq: Sequence = { index: r, ids, ctrl, assistant: new Uint8Array(T), chat: true };
      t = performance.now();
      const f = (await runner.encode(xBase, xChat, T)).raw!;
      const tEnc = performance.now() - t;
      if (r === 0) {
        active = f.reduce((n, v) => n + (v > 0 ? 1 : 0), 0) / T;
        // pass-1 maxima before any binning, as the job has them
        acc.addSequence(seq, f, xBase, xChat);
        continue;
      }
      t = performance.now();
      acc.addSequence(seq, f, xBase, xChat);
      const tScan = performance.now() - t;
      const sampler = new ExamplesSampler(emptyExamples(), scan.maxAct, metrics.scale, 20, 42);
      t = performance.now();
      sampler.addSequence(seq, f);
      const tEx = performance.now() - t;
      enc.push(tEnc);
      sc.push(tScan);
      ex.push(tEx);
    }
    await runner.dispose();
    const rate = (ms: number) => (T / (ms / 1000)).toFixed(0);
    const [e, s, x] = [median(enc), median(sc), median(ex)];
    console.log(`  D=${D}, ${active.toFixed(0)} active latents per token, T=${T} per batch, ${reps} batches, median, CPU:`);
    console.log(`  encode to raw codes (ORT)           ${e.toFixed(0).padStart(6)} ms  ${rate(e).padStart(6)} tokens/s`);
    console.log(`  scan accumulation (JS)              ${s.toFixed(0).padStart(6)} ms  ${rate(s).padStart(6)} tokens/s  (${(s / e).toFixed(2)} x encode)`);
    console.log(`  examples accumulation (JS)          ${x.toFixed(0).padStart(6)} ms  ${rate(x).padStart(6)} tokens/s  (${(x / e).toFixed(2)} x encode)`);
    console.log(`  crosscoder part of the two passes: ${rate(2 * e + s + x)} tokens/s (encode twice + both accumulations); peak RSS ${peakRssMiB().toFixed(0)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const bench: Bench = {
  name: 'offline',
  description: 'offline statistics throughput: demo bundle job, and the paper-size crosscoder part (random weights)',
  default: true,
  async run(args) {
    let dict = 73728;
    let paper = true;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--dict') dict = Number(args[++i]);
      else if (args[i] === '--skip-paper') paper = false;
      else throw new Error(`offline bench: unknown argument ${args[i]}`);
    }
    await demo();
    if (paper) await paperSize(dict);
  },
};
