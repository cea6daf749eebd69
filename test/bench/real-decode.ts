/**
 * Decoding with the whole Gemma-2-2B-shaped chat model (all 26 blocks, final norm, tied 256k unembedding;
 * random float32 weights) through Gemma2SplitModel split after block 13, as generation runs it: each step is
 * one first-half and one second-half call over the key/value caches. A decode step is a chain of
 * matrix-vector products, so its floor is memory traffic: the bytes of weights a step reads over the memory
 * bandwidth, measured in the same run (bandwidthProbe). Also peak RSS against the bytes of weights the steps map.
 */
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { withGraphDefaults } from '../../extension/engine/runtime/graph-session';
import { A, DT, GraphBuilder } from '../../extension/engine/graphs/onnx-builder';
import { Gemma2SplitModel } from '../../extension/engine/runtime/gemma2-split-model';
import type { KvCache } from '../../extension/engine/runtime/split-model';
import { fillUniform, median, peakRssMiB } from './bench';
import { GEMMA2_2B } from './real-weights';

const GiB = 2 ** 30;
const PROBE_COLUMNS = 57344; // 2304 x 57344 float32 = 504 MiB, far beyond any cache
const sessionOptions = () => withGraphDefaults({ executionProviders: ['cpu'] });

/**
 * Streams 504 MiB of float32 through ORT, 5 times, median ms. 'sum': ReduceSum of a tensor fed as an input
 * (a plain read: the memory bandwidth). 'gemm': a one-row Gemm against a constant stored [N, K] and used
 * with transB, which is what every linear layer of a decode step does (PyTorch's weight layout, memory-mapped,
 * prepacking off), so its rate is the best the model's own kernel can stream weights at.
 */
export async function bandwidthProbe(kind: 'sum' | 'gemm'): Promise<{ bytes: number; run: () => Promise<number>; release: () => Promise<void> }> {
  const K = GEMMA2_2B.hidden;
  const weights = fillUniform(new Float32Array(K * PROBE_COLUMNS), 5, 0.01);
  const g = new GraphBuilder(`bandwidth-${kind}`);
  const x = g.input('x', DT.FLOAT, [1, K]);
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', new Float32Array(K).fill(0.5), [1, K]) };
  if (kind === 'gemm') {
    g.op('Gemm', [x, g.floats(weights, [PROBE_COLUMNS, K])], { transB: A.i(1) }, 'y');
    g.output('y', DT.FLOAT, [1, PROBE_COLUMNS]);
  } else {
    feeds.w = new ort.Tensor('float32', weights, [PROBE_COLUMNS, K]);
    g.op('Add', [g.op('ReduceSum', [g.input('w', DT.FLOAT, [PROBE_COLUMNS, K])], { keepdims: A.i(0) }), g.op('ReduceSum', [x], { keepdims: A.i(0) })], {}, 'y');
    g.output('y', DT.FLOAT, []);
  }
  const session = await ort.InferenceSession.create(g.toBytes(), sessionOptions());
  await session.run(feeds);
  return {
    bytes: K * PROBE_COLUMNS * 4,
    run: async () => {
      const ms: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t = performance.now();
        await session.run(feeds);
        ms.push(performance.now() - t);
      }
      return median(ms);
    },
    release: () => session.release(),
  };
}

/** A chat model split after `layer`, prefilled with a prompt; each `step()` decodes one greedy token and returns its ms. */
export interface Decoding {
  model: Gemma2SplitModel;
  openMs: number;
  prefillMs: number;
  promptLength: number;
  step(): Promise<number>;
}

/**
 * Opens `folder` as generation does (both halves over the key/value caches, sessions with `options`) and
 * prefills a 32-token prompt. Shared by this bench (CPU, against the memory-bandwidth floor) and gpu.ts
 * (per provider, against the CPU).
 */
export async function startDecoding(folder: string, cacheDir: string, layer: number, options: ort.InferenceSession.SessionOptions): Promise<Decoding> {
  const t0 = performance.now();
  const model = await Gemma2SplitModel.open('chat', folder, { layer, cacheDir }, (src) => ort.InferenceSession.create(src as string, options));
  const openMs = performance.now() - t0;
  if (!model.hasSecondHalf) throw model.secondHalfError;
  const prompt = Array.from({ length: 32 }, (_, i) => 2 + ((i * 7919) % (model.vocabSize - 2)));
  const t1 = performance.now();
  let a = await model.firstHalf(prompt);
  let b = await model.secondHalf(a.resid, undefined, { topK: 1 });
  const prefillMs = performance.now() - t1;
  let next = b.next.argmax[prompt.length - 1];
  return {
    model, openMs, prefillMs, promptLength: prompt.length,
    async step() {
      const t = performance.now();
      const x = await model.firstHalf([next], a.cache as KvCache);
      const y = await model.secondHalf(x.resid, b.cache, { topK: 1 });
      a = x;
      b = y;
      next = y.next.argmax[0];
      return performance.now() - t;
    },
  };
}

export async function decodeBench(folder: string, cacheDir: string, layer: number, steps: number): Promise<void> {
  const { model, openMs, prefillMs, promptLength, step } = await startDecoding(folder, cacheDir, layer, sessionOptions());
  const firstSteps: number[] = [];
  for (let i = 0; i < 2; i++) firstSteps.push(await step()); // the first steps also page the weights in
  const probe = await bandwidthProbe('sum');
  const gemm = await bandwidthProbe('gemm');
  const probeMs = [await probe.run()];
  const gemmMs = [await gemm.run()];
  const stepMs: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < steps; i++) {
    const f = process.resourceUsage().majorPageFault;
    stepMs.push(await step());
    faults.push(process.resourceUsage().majorPageFault - f);
    if (i % 8 === 7) {
      probeMs.push(await probe.run());
      gemmMs.push(await gemm.run());
    }
  }
  probeMs.push(await probe.run());
  gemmMs.push(await gemm.run());
  await Promise.all([probe.release(), gemm.release()]);

  const { hidden, vocab } = GEMMA2_2B;
  const embedBytes = vocab * hidden * 4;
  const w = model.weightBytes;
  // the first half reads one embedding row per step; the second reads the whole matrix as its unembedding
  const readPerStep = w.first - embedBytes + hidden * 4 + w.second!;
  const mapped = w.first + w.second! - embedBytes; // the tied embedding is one byte range of one file
  const bandwidth = probe.bytes / (median(probeMs) / 1000);
  const floorMs = (readPerStep / bandwidth) * 1000;
  const ms = median(stepMs);
  const kvPerToken = model.config.numLayers * 2 * model.config.numKvHeads * model.config.headDim * 4;
  console.log(`\ndecode: whole Gemma-2-2B-shaped chat model (26 blocks, fp32, random weights), split after block ${layer}, ORT CPU, prepacking off; prompt ${promptLength} tokens then ${steps} greedy steps (median after 2 warm-up steps)`);
  console.log(`open ${openMs.toFixed(0)} ms; prefill ${prefillMs.toFixed(0)} ms; warm-up steps ${firstSteps.map((x) => x.toFixed(0)).join(' / ')} ms; step median ${ms.toFixed(0)} ms (range ${Math.min(...stepMs).toFixed(0)}-${Math.max(...stepMs).toFixed(0)}) = ${(1000 / ms).toFixed(2)} tokens/s`);
  const gemmRate = gemm.bytes / (median(gemmMs) / 1000);
  console.log(`memory bandwidth (ORT ReduceSum over a ${(probe.bytes / 2 ** 20).toFixed(0)} MiB input, probed before, every 8 steps and after) median ${(bandwidth / 1e9).toFixed(1)} GB/s, range ${(probe.bytes / Math.max(...probeMs) / 1e6).toFixed(1)}-${(probe.bytes / Math.min(...probeMs) / 1e6).toFixed(1)}; a one-row Gemm against the same bytes (the model's kernel) streams ${(gemmRate / 1e9).toFixed(1)} GB/s`);
  console.log(`weights read per step ${(readPerStep / GiB).toFixed(2)} GiB -> floor ${floorMs.toFixed(0)} ms = ${(1000 / floorMs).toFixed(2)} tokens/s; ratio step / floor ${(ms / floorMs).toFixed(2)} (against the Gemm rate ${(ms / ((readPerStep / gemmRate) * 1000)).toFixed(2)})`);
  console.log(`major page faults per step (weights read back from disk after the OS dropped them) median ${median(faults)}, range ${Math.min(...faults)}-${Math.max(...faults)}`);
  console.log(`memory: weights the steps map ${(mapped / GiB).toFixed(2)} GiB (first half ${(w.first / GiB).toFixed(2)}, second ${(w.second! / GiB).toFixed(2)}, shared embedding once); peak RSS ${(peakRssMiB() / 1024).toFixed(2)} GiB (ratio ${((peakRssMiB() * 2 ** 20) / mapped).toFixed(2)}, including the two ${(probe.bytes / GiB).toFixed(2)} GiB probes); key/value cache ${(kvPerToken / 1024).toFixed(0)} KiB per token (${((kvPerToken * 1024) / 2 ** 20).toFixed(0)} MiB for 1,024 tokens)`);
  await model.dispose();
}
