/**
 * GPU benchmark: the full-size random Gemma-2-2B-shaped pair (blocks 0..13, fp32, from Hugging Face-style
 * folders) and a 73,728-latent crosscoder; a 256-token analysis on every provider that works here: the cpu as
 * the reference, then cuda, webgpu on a hardware adapter, dml on Windows. Prints session creation, first run
 * and median per stage, and each provider's ratio to the cpu measured in the same run; each provider runs in
 * its own child process. Then decode tokens/s of the whole chat model (all 26 blocks, split after block 13,
 * both halves over the key/value caches as generation runs it; real-decode.ts's startDecoding) per provider,
 * again against the cpu, each in its own child process.
 *
 * `npm run bench -- gpu [--tokens N] [--reps N] [--decode-steps N] [--demo] [--allow-software]`, or
 * `./run.sh [...]` in the folder scripts/assemble-gpu-bench.sh makes. --demo: tiny models instead (the demo
 * bundle's for the analysis, the 4-block Gemma 2 test fixture for decoding: a smoke run of the bench itself);
 * --allow-software: also WebGPU on a software adapter (lavapipe), which is no GPU; --decode-steps 0: no decode.
 * Skips, saying why, where no GPU provider works. Needs ~25 GB of free disk in the temp folder (not --demo).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { CrosscoderRunner } from '../../extension/engine/runtime/crosscoder-runner';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { withCpuThreads } from '../../extension/engine/runtime/cpu-threads';
import { DT, GraphBuilder } from '../../extension/engine/graphs/onnx-builder';
import { buildGemma2Graph } from '../../extension/engine/graphs/gemma2/gemma2-build';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { createSession, type ProviderChoice } from '../../extension/engine/runtime/providers';
import type { ProviderInUse } from '../../extension/engine/types';
import { describeAdapter, preferredAdapter, probeWebGpu } from '../../extension/engine/runtime/webgpu-adapter';
import { median, peakRssMiB, runStagesInChildren, type Bench } from './bench';
import { startDecoding } from './real-decode';
import { DICT_SIZE, GEMMA2_2B, writeCrosscoderFolder, writeGemma2Folder } from './real-weights';

const LAYER = 13;
const TOP_K = 32;
const STAGES = ['base', 'chat', 'crosscoder'] as const;
// Under `npm run bench` this file is test/bench/gpu.ts; in the carried folder it is dist/bench-gpu.js.
const DEMO = [join(__dirname, '..', '..', 'models', 'demo'), join(__dirname, '..', 'models', 'demo')].find((d) => existsSync(join(d, 'base.onnx')));
/** --demo's decoding model: the 4-block Gemma 2 test fixture (models/gemma2-tiny in the carried folder), split after block 1. */
const TINY_GEMMA2 = [join(__dirname, '..', 'fixtures', 'gemma2', 'model'), join(__dirname, '..', 'models', 'gemma2-tiny')].find((d) => existsSync(join(d, 'config.json')));
const TINY_LAYER = 1;
const WARMUP_STEPS = 2;

interface Options {
  tokens: number;
  reps: number;
  decodeSteps: number;
  demo: boolean;
  allowSoftware: boolean;
}

function parseOptions(args: string[]): Options {
  const o: Options = { tokens: 256, reps: 5, decodeSteps: 32, demo: false, allowSoftware: false };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tokens') o.tokens = Number(args[++i]);
    else if (args[i] === '--reps') o.reps = Number(args[++i]);
    else if (args[i] === '--decode-steps') o.decodeSteps = Number(args[++i]);
    else if (args[i] === '--demo') o.demo = true;
    else if (args[i] === '--allow-software') o.allowSoftware = true;
    else throw new Error(`gpu bench: unknown argument ${args[i]}`);
  }
  if (!(Number.isInteger(o.tokens) && o.tokens >= 1)) throw new Error('gpu bench: --tokens needs a positive integer');
  if (!(Number.isInteger(o.reps) && o.reps >= 1)) throw new Error('gpu bench: --reps needs a positive integer');
  if (!(Number.isInteger(o.decodeSteps) && o.decodeSteps >= 0)) throw new Error('gpu bench: --decode-steps needs a non-negative integer');
  if (o.demo && !DEMO) throw new Error('gpu bench: --demo needs models/demo (npm run build)');
  if (o.demo && o.decodeSteps > 0 && !TINY_GEMMA2) throw new Error('gpu bench: --demo decoding needs the Gemma 2 test fixture (test/fixtures/gemma2/model)');
  return o;
}

interface ProviderResult {
  provider: string;
  adapter?: string;
  openMs: number;
  first: Record<string, number>;
  median: Record<string, number>;
  peakRssMiB: number;
}

interface DecodeResult {
  provider: string;
  openMs: number;
  prefillMs: number;
  warmupMs: number[];
  medianMs: number;
  peakRssMiB: number;
}

/** A one-op graph: enough to see whether a provider creates a session here. */
function tinyModel(): Uint8Array {
  const g = new GraphBuilder('probe');
  const x = g.input('x', DT.FLOAT, [1, 4]);
  g.op('Relu', [x], {}, 'y');
  g.output('y', DT.FLOAT, [1, 4]);
  return g.toBytes();
}

/** The GPU providers that run here, and why each other one does not. */
async function gpuProviders(o: Options): Promise<{ usable: ProviderInUse[]; skipped: string[] }> {
  const usable: ProviderInUse[] = [];
  const skipped: string[] = [];
  for (const p of ['cuda', 'webgpu', ...(process.platform === 'win32' ? ['dml' as const] : [])] as ProviderInUse[]) {
    if (p === 'webgpu' && !o.allowSoftware && !(await probeWebGpu(true)).works) {
      skipped.push(`webgpu: no hardware adapter (${(await probeWebGpu(true)).problem ?? 'none'}); --allow-software measures a software one`);
      continue;
    }
    const choice: ProviderChoice = {};
    const s = await createSession({ bytes: tinyModel() }, p, choice);
    await s.release();
    if (choice.current === p) usable.push(p);
    else skipped.push(choice.fallbackReason ?? `${p}: did not start`);
  }
  return { usable, skipped };
}

async function writeAll(dir: string, o: Options): Promise<void> {
  if (o.demo) return;
  const t = performance.now();
  writeGemma2Folder(join(dir, 'base'), LAYER, 'F32', 1000);
  // The chat model whole (the analysis reads its blocks 0..LAYER, decoding all of it).
  writeGemma2Folder(join(dir, 'chat'), o.decodeSteps > 0 ? GEMMA2_2B.layers - 1 : LAYER, 'F32', 2000);
  writeCrosscoderFolder(join(dir, 'crosscoder'), 3000);
  console.log(`wrote random weights (Gemma-2-2B shapes, base blocks 0..${LAYER}, chat ${o.decodeSteps > 0 ? `all ${GEMMA2_2B.layers} blocks` : `blocks 0..${LAYER}`}, fp32; crosscoder ${DICT_SIZE} latents) in ${((performance.now() - t) / 1000).toFixed(0)} s`);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}

/** One provider: open both models and the crosscoder, then analyse T tokens once plus `reps` times. */
async function measure(dir: string, o: Options, provider: ProviderInUse): Promise<void> {
  const T = o.tokens;
  const cacheDir = join(dir, 'cache');
  const opts = withGraphDefaults({ executionProviders: [provider], extra: { session: { disable_prepacking: '1' } } });
  const ids = Array.from({ length: T }, (_, i) => 2 + ((i * 7919) % (o.demo ? 255_000 : GEMMA2_2B.vocab - 2)));
  const models: { session: ort.InferenceSession; output: string; mask: boolean }[] = [];
  let openMs = 0;
  for (const m of ['base', 'chat'] as const) {
    const path = o.demo ? join(DEMO!, `${m}.onnx`) : buildGemma2Graph(join(dir, m), { layer: LAYER, cacheDir }).path!;
    const [session, ms] = await timed(() => ort.InferenceSession.create(path, o.demo ? withCpuThreads({ executionProviders: [provider] }) : opts));
    openMs += ms;
    models.push({ session, output: o.demo ? 'resid' : session.outputNames[0], mask: session.inputNames.includes('attention_mask') });
  }
  const ckpt = loadCrosscoderCheckpoint(o.demo ? join(DEMO!, 'crosscoder') : join(dir, 'crosscoder'));
  const metrics = await loadOrComputeLatentMetrics(ckpt, { cacheDir, sessionOptions: withGraphDefaults({ executionProviders: ['cpu'] }) });
  const [runner, runnerMs] = await timed(() => CrosscoderRunner.create(ckpt, metrics, { cacheDir: join(cacheDir, provider), sessionOptions: opts, topK: Math.min(TOP_K, ckpt.dictSize) }));
  openMs += runnerMs;
  const feeds = (mask: boolean) => ({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, T]),
    ...(mask ? { attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]) } : {}),
  });
  const runs: Record<string, number[]> = { base: [], chat: [], crosscoder: [], total: [] };
  const first: Record<string, number> = {};
  for (let r = 0; r <= o.reps; r++) {
    const [xBase, tb] = await timed(async () => (await models[0].session.run(feeds(models[0].mask), [models[0].output]))[models[0].output].data as Float32Array);
    const [xChat, tc] = await timed(async () => (await models[1].session.run(feeds(models[1].mask), [models[1].output]))[models[1].output].data as Float32Array);
    const [, te] = await timed(() => runner.encode(xBase, xChat, T));
    const row = { base: tb, chat: tc, crosscoder: te, total: tb + tc + te };
    if (r === 0) Object.assign(first, row);
    else for (const [k, v] of Object.entries(row)) runs[k].push(v);
  }
  const adapter = provider === 'webgpu' ? describeAdapter(preferredAdapter((await probeWebGpu(!o.allowSoftware)).adapters)) : undefined;
  const result: ProviderResult = {
    provider, ...(adapter ? { adapter } : {}), openMs, first,
    median: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])),
    peakRssMiB: peakRssMiB(),
  };
  writeFileSync(join(dir, `result-${provider}.json`), JSON.stringify(result));
  await Promise.all([...models.map((m) => m.session.release()), runner.dispose()]);
}

/** One provider: `decodeSteps` greedy steps of the whole chat model after a prompt and WARMUP_STEPS steps. */
async function measureDecode(dir: string, o: Options, provider: ProviderInUse): Promise<void> {
  const folder = o.demo ? TINY_GEMMA2! : join(dir, 'chat');
  const options = withGraphDefaults({ executionProviders: [provider] });
  const d = await startDecoding(folder, join(dir, 'cache'), o.demo ? TINY_LAYER : LAYER, options);
  const warmupMs: number[] = [];
  for (let i = 0; i < WARMUP_STEPS; i++) warmupMs.push(await d.step());
  const stepMs: number[] = [];
  for (let i = 0; i < o.decodeSteps; i++) stepMs.push(await d.step());
  const result: DecodeResult = { provider, openMs: d.openMs, prefillMs: d.prefillMs, warmupMs, medianMs: median(stepMs), peakRssMiB: peakRssMiB() };
  writeFileSync(join(dir, `decode-${provider}.json`), JSON.stringify(result));
  await d.model.dispose();
}

function reportDecode(results: DecodeResult[], o: Options): void {
  const cpu = results.find((r) => r.provider === 'cpu')!;
  const what = o.demo ? `the 4-block Gemma 2 test fixture split after block ${TINY_LAYER} (a smoke run, not a measurement)` : `the whole Gemma-2-2B-shaped chat model (${GEMMA2_2B.layers} blocks, fp32, random weights) split after block ${LAYER}`;
  console.log(`
decode: ${what}; prompt 32 tokens, then median of ${o.decodeSteps} greedy steps after ${WARMUP_STEPS} warm-up steps; x cpu = cpu step / provider step (same run)`);
  console.log('provider   open ms  prefill ms  warm-up ms     step ms  tokens/s   x cpu');
  for (const r of results) {
    console.log(`${r.provider.padEnd(10)} ${r.openMs.toFixed(0).padStart(7)} ${r.prefillMs.toFixed(1).padStart(11)} ${r.warmupMs.map((x) => x.toFixed(0)).join('/').padStart(11)} ${r.medianMs.toFixed(1).padStart(11)} ${(1000 / r.medianMs).toFixed(2).padStart(9)} ${(cpu.medianMs / r.medianMs).toFixed(2).padStart(7)}   peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
  }
}

function report(results: ProviderResult[], o: Options): void {
  const cpu = results.find((r) => r.provider === 'cpu')!;
  const what = o.demo ? 'the demo bundle (tiny models: a smoke run, not a measurement)' : `Gemma-2-2B shapes up to block ${LAYER} (fp32), crosscoder ${DICT_SIZE} latents, top-k ${TOP_K}`;
  console.log(`\n${o.tokens} tokens, ${what}; median of ${o.reps} analyses after a first run; ratio = cpu median / provider median (same run)`);
  console.log('provider   stage        first ms   median ms   x cpu');
  for (const r of results) {
    for (const s of [...STAGES, 'total']) {
      console.log(`${r.provider.padEnd(10)} ${s.padEnd(12)} ${r.first[s].toFixed(1).padStart(8)} ${r.median[s].toFixed(1).padStart(11)} ${(cpu.median[s] / r.median[s]).toFixed(2).padStart(7)}`);
    }
    console.log(`${r.provider.padEnd(10)} sessions opened in ${r.openMs.toFixed(0)} ms; ${(o.tokens / (r.median.total / 1000)).toFixed(0)} tokens/s analysed; peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.adapter ? `; adapter ${r.adapter}` : ''}`);
  }
}

async function runGpuBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  ensureRuntimeDir();
  const { usable, skipped } = await gpuProviders(o);
  for (const s of skipped) console.log(`not measured: ${s}`);
  if (!usable.length) {
    console.log('gpu bench skipped: no GPU provider works here (see docs/gpu.md)');
    return;
  }
  await runStagesInChildren(__filename, 'gpu', args, async (child, dir) => {
    await child('write');
    for (const p of ['cpu', ...usable]) await child(`measure-${p}`);
    report(['cpu', ...usable].map((p) => JSON.parse(readFileSync(join(dir, `result-${p}.json`), 'utf8')) as ProviderResult), o);
    if (o.decodeSteps === 0) return;
    for (const p of ['cpu', ...usable]) await child(`decode-${p}`);
    reportDecode(['cpu', ...usable].map((p) => JSON.parse(readFileSync(join(dir, `decode-${p}.json`), 'utf8')) as DecodeResult), o);
  });
}

/** Mesa's Vulkan drivers want a private runtime folder. */
function ensureRuntimeDir(): void {
  if (process.platform !== 'linux' || process.env.XDG_RUNTIME_DIR) return;
  const dir = `/tmp/latent-diff-xdg-${userInfo().uid}`;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  process.env.XDG_RUNTIME_DIR = dir;
}

export const bench: Bench = {
  name: 'gpu',
  description: 'Gemma-2-2B-shaped pair + 73,728-latent crosscoder, 256 tokens, and the whole chat model\'s decode tokens/s on every GPU provider that works here, against the cpu',
  default: false,
  run: runGpuBench,
};

const CHILD_MODES: Record<string, (dir: string, o: Options) => Promise<void>> = {
  write: writeAll,
  'measure-cpu': (dir, o) => measure(dir, o, 'cpu'),
  'measure-cuda': (dir, o) => measure(dir, o, 'cuda'),
  'measure-webgpu': (dir, o) => measure(dir, o, 'webgpu'),
  'measure-dml': (dir, o) => measure(dir, o, 'dml'),
  'decode-cpu': (dir, o) => measureDecode(dir, o, 'cpu'),
  'decode-cuda': (dir, o) => measureDecode(dir, o, 'cuda'),
  'decode-webgpu': (dir, o) => measureDecode(dir, o, 'webgpu'),
  'decode-dml': (dir, o) => measureDecode(dir, o, 'dml'),
};

if (process.argv[1] && resolve(process.argv[1]) === __filename) {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const fn = mode in CHILD_MODES ? CHILD_MODES[mode] : undefined;
  // Run directly (the carried folder's run.sh): the arguments are the bench's own.
  const work = fn && dir ? fn(dir, parseOptions(rest)) : runGpuBench(process.argv.slice(2));
  work.catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
