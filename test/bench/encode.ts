/**
 * Crosscoder encode at the paper's size (d=2304 x 2 models, D=73,728, fp32, random weights) against a bare ORT
 * MatMul [T,2d] x [2d,D] over the SAME external weights and session options, in the same process, runs
 * interleaved. Budget (SPEC 9): encode throughput >= 0.85 x MatMul throughput.
 *
 * `npm run bench encode [-- --dict N] [--prepack] [--reps N]`. The parent only orchestrates; children write the
 * ~2.7 GB weights (a temp folder, deleted afterwards, also on error or Ctrl-C), measure, and measure the encode
 * session's peak memory alone, so each peak RSS belongs to one job.
 */
import { readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { getTensor, readSafetensorsHeader, writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { buildEncodeGraph } from '../../extension/engine/graphs/crosscoder-graph';
import { openGraphSession, type SessionOptions } from '../../extension/engine/runtime/graph-session';
import { DT, GraphBuilder } from '../../extension/engine/graphs/onnx-builder';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import type { CrosscoderCheckpoint, LatentMetrics } from '../../extension/engine/types';
import { fillUniform, median, peakRssMiB, runStagesInChildren, type Bench } from './bench';

const D_MODEL = 2304;
const TOKENS = [1, 32, 256];
const TOP_K = 10;
const SELECT = [0, 1, 2, 3, 100, 1000, 5000, 9999];

interface Options {
  dictSize: number;
  prepack: boolean;
  reps: number;
}

function parseOptions(args: string[]): Options {
  const o: Options = { dictSize: 73728, prepack: false, reps: 5 };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--dict') o.dictSize = Number(args[++i]);
    else if (args[i] === '--prepack') o.prepack = true;
    else if (args[i] === '--reps') o.reps = Number(args[++i]);
    else throw new Error(`encode bench: unknown argument ${args[i]}`);
  }
  if (!(Number.isInteger(o.dictSize) && o.dictSize >= 10000)) throw new Error('encode bench: --dict needs an integer >= 10000');
  return o;
}

function sessionOptions(o: Options): SessionOptions {
  return { executionProviders: ['cpu'], extra: { session: { disable_prepacking: o.prepack ? '0' : '1' } } };
}

function rssBreakdown(): string {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string) => Number(/^(\w+):\s+(\d+)/m.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[2] ?? NaN);
  return `RssAnon ${(kb('RssAnon') / 1024).toFixed(0)} MiB, RssFile ${(kb('RssFile') / 1024).toFixed(0)} MiB`;
}

// ---- child: write the weights and the metrics cache ---------------------------------------------------

function checkpointAt(dir: string, dictSize: number): CrosscoderCheckpoint {
  const file = join(dir, 'model.safetensors');
  const st = readSafetensorsHeader(file);
  return {
    dir, file, format: 'dictionary_learning', kind: 'relu', dModel: D_MODEL, dictSize, codeNormalization: 'crosscoder',
    encoderWeight: getTensor(st, 'encoder.weight'), encoderBias: getTensor(st, 'encoder.bias'),
    decoderWeight: getTensor(st, 'decoder.weight'), decoderLayout: 'LDd', decoderBias: getTensor(st, 'decoder.bias'),
    identity: `bench-random-${dictSize}`,
  };
}

async function writeWeights(dir: string, o: Options): Promise<void> {
  const d = D_MODEL;
  const D = o.dictSize;
  let t = performance.now();
  // Uniform weights with the variance of N(0, 1/(2d)); bias -2.5 so ~1% of pre-activations are positive.
  const encScale = Math.sqrt(3 / (2 * d));
  writeSafetensors(join(dir, 'model.safetensors'), {
    'encoder.weight': { dtype: 'F32', shape: [2, d, D], data: fillUniform(new Float32Array(2 * d * D), 1, encScale) },
    'encoder.bias': { dtype: 'F32', shape: [D], data: fillUniform(new Float32Array(D), 2, 0.5, -2.5) },
    'decoder.weight': { dtype: 'F32', shape: [2, D, d], data: fillUniform(new Float32Array(2 * D * d), 3, Math.sqrt(3 / d)) },
    'decoder.bias': { dtype: 'F32', shape: [2, d], data: fillUniform(new Float32Array(2 * d), 4, 0.1) },
  });
  const ckpt = checkpointAt(dir, D);
  const size = readSafetensorsHeader(ckpt.file).fileSize;
  console.log(`wrote ${(size / 2 ** 30).toFixed(2)} GiB of random weights with writeSafetensors in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const back = readSafetensorsHeader(ckpt.file);
  if (getTensor(back, 'decoder.weight').byteLength !== 2 * D * d * 4) throw new Error('safetensors read-back mismatch');
  t = performance.now();
  await loadOrComputeLatentMetrics(ckpt, { cacheDir: join(dir, 'cache'), sessionOptions: sessionOptions(o) });
  console.log(`static latent metrics (ORT reduction over all ${(size / 2 ** 30).toFixed(2)} GiB): ${((performance.now() - t) / 1000).toFixed(2)} s, peak RSS ${peakRssMiB().toFixed(0)} MiB (this child also generated the weights)`);
}

// ---- child: measure --------------------------------------------------------------------------------------

function matmulGraph(ckpt: CrosscoderCheckpoint): { bytes: Uint8Array; weightFiles: string[] } {
  const g = new GraphBuilder('bare-matmul');
  const x = g.input('x', DT.FLOAT, ['T', 2 * ckpt.dModel]);
  const w = g.external({
    location: basename(ckpt.file), offset: ckpt.encoderWeight.offset, length: ckpt.encoderWeight.byteLength,
    elemType: DT.FLOAT, dims: [2 * ckpt.dModel, ckpt.dictSize],
  });
  g.op('MatMul', [x, w], {}, 'y');
  g.output('y', DT.FLOAT, ['T', ckpt.dictSize]);
  return { bytes: g.toBytes(), weightFiles: [ckpt.file] };
}

async function setup(dir: string, o: Options): Promise<{ ckpt: CrosscoderCheckpoint; metrics: LatentMetrics }> {
  const ckpt = checkpointAt(dir, o.dictSize);
  const metrics = await loadOrComputeLatentMetrics(ckpt, { cacheDir: join(dir, 'cache'), sessionOptions: sessionOptions(o) });
  return { ckpt, metrics };
}

function encodeFeeds(T: number, seed: number): Record<string, ort.Tensor> {
  return {
    x_base: new ort.Tensor('float32', fillUniform(new Float32Array(T * D_MODEL), seed, 1.7), [T, D_MODEL]),
    x_chat: new ort.Tensor('float32', fillUniform(new Float32Array(T * D_MODEL), seed + 1, 1.7), [T, D_MODEL]),
    select: new ort.Tensor('int64', BigInt64Array.from(SELECT, BigInt), [SELECT.length]),
  };
}

async function timeRun(session: ort.InferenceSession, feeds: Record<string, ort.Tensor>): Promise<number> {
  const t = performance.now();
  await session.run(feeds);
  return performance.now() - t;
}

async function measure(dir: string, o: Options): Promise<void> {
  const { ckpt, metrics } = await setup(dir, o);
  const opts = sessionOptions(o);
  const cacheDir = join(dir, 'cache');
  let t = performance.now();
  const mm = await openGraphSession(matmulGraph(ckpt), 'bench-matmul', cacheDir, opts);
  const mmOpen = performance.now() - t;
  t = performance.now();
  const relu = await openGraphSession(buildEncodeGraph(ckpt, metrics, { topK: TOP_K }), 'crosscoder-encode', cacheDir, opts);
  const reluOpen = performance.now() - t;
  // A BatchTopK variant of the same weights, threshold at ~TOP_K active latents per token.
  const probe = await relu.run(encodeFeeds(32, 77));
  const kth = probe.top_values.data as Float32Array;
  let threshold = 0;
  for (let i = TOP_K - 1; i < kth.length; i += TOP_K) threshold += kth[i] / 32;
  const btk = await openGraphSession(buildEncodeGraph({ ...ckpt, kind: 'batchtopk', threshold }, metrics, { topK: TOP_K }), 'crosscoder-encode', cacheDir, opts);
  console.log(`sessions opened: MatMul ${mmOpen.toFixed(0)} ms, encode ${reluOpen.toFixed(0)} ms; prepacking ${o.prepack ? 'on' : 'off (weights memory-mapped)'}; ${o.reps} runs per cell (x4 at T=1), interleaved`);
  console.log('ms and GFLOP/s are medians; ratio = encode throughput / MatMul throughput from medians (and from minima, less sensitive to other load)');
  console.log('   T | MatMul ms  GFLOP/s | ReLU encode ms  GFLOP/s  ratio (min) | BatchTopK ms  GFLOP/s  ratio (min)');
  for (const T of TOKENS) {
    const feeds = encodeFeeds(T, T);
    const x = new Float32Array(T * 2 * D_MODEL);
    x.set(feeds.x_base.data as Float32Array);
    x.set(feeds.x_chat.data as Float32Array, T * D_MODEL);
    const mmFeeds = { x: new ort.Tensor('float32', x, [T, 2 * D_MODEL]) };
    const times: Record<'mm' | 'relu' | 'btk', number[]> = { mm: [], relu: [], btk: [] };
    await timeRun(mm, mmFeeds);
    await timeRun(relu, feeds);
    await timeRun(btk, feeds);
    const reps = T === 1 ? o.reps * 4 : o.reps;
    for (let r = 0; r < reps; r++) {
      times.mm.push(await timeRun(mm, mmFeeds));
      times.relu.push(await timeRun(relu, feeds));
      times.btk.push(await timeRun(btk, feeds));
    }
    const flop = 2 * T * 2 * D_MODEL * o.dictSize;
    const [mmMs, reluMs, btkMs] = [median(times.mm), median(times.relu), median(times.btk)];
    const mmMin = Math.min(...times.mm);
    const gf = (ms: number) => (flop / ms / 1e6).toFixed(0).padStart(7);
    const ratio = (ms: number, all: number[]) => `${(mmMs / ms).toFixed(3).padStart(6)} (${(mmMin / Math.min(...all)).toFixed(3)})`;
    console.log(
      `${String(T).padStart(4)} | ${mmMs.toFixed(1).padStart(9)} ${gf(mmMs)} | ${reluMs.toFixed(1).padStart(14)} ${gf(reluMs)} ${ratio(reluMs, times.relu)} | ${btkMs.toFixed(1).padStart(12)} ${gf(btkMs)} ${ratio(btkMs, times.btk)}`,
    );
  }
  console.log(`peak RSS of this process (three sessions mapping the same encoder weights): ${peakRssMiB().toFixed(0)} MiB; now ${rssBreakdown()}`);
  await Promise.all([mm.release(), relu.release(), btk.release()]);
}

/** Peak memory of one encode session alone at T=256: what the analysis pays for the crosscoder. */
async function measureRss(dir: string, o: Options): Promise<void> {
  const { ckpt, metrics } = await setup(dir, o);
  const session = await openGraphSession(buildEncodeGraph(ckpt, metrics, { topK: TOP_K }), 'crosscoder-encode', join(dir, 'cache'), sessionOptions(o));
  await session.run(encodeFeeds(256, 5));
  const encoderMiB = ckpt.encoderWeight.byteLength / 2 ** 20;
  console.log(`encode session alone, T=256: peak RSS ${peakRssMiB().toFixed(0)} MiB (encoder weights ${encoderMiB.toFixed(0)} MiB); ${rssBreakdown()}`);
  await session.release();
}

// ---- parent ------------------------------------------------------------------------------------------------

const SELF = fileURLToPath(import.meta.url);

async function runEncodeBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  await runStagesInChildren(SELF, 'encode', args, async (child, dir) => {
    console.log(`d=${D_MODEL} x 2 models, D=${o.dictSize}, top-k ${TOP_K}, ${SELECT.length} selected latents; temp folder ${dir}`);
    await child('write');
    await child('measure');
    await child('rss');
  });
}

export const bench: Bench = {
  name: 'encode',
  description: 'crosscoder encode graph vs a bare ORT MatMul of the same shape (SPEC 9: ratio >= 0.85)',
  default: true,
  run: runEncodeBench,
};

const CHILD_MODES: Record<string, (dir: string, o: Options) => Promise<void>> = { write: writeWeights, measure, rss: measureRss };

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const fn = CHILD_MODES[mode];
  if (!fn || !dir) {
    console.error('run through `npm run bench encode`');
    process.exit(2);
  }
  fn(dir, parseOptions(rest)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
