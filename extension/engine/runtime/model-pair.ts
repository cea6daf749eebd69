/**
 * A bundle's model pair, opened once: both models as SplitModels (first half to the residual after block
 * `layer`, second half to next-token predictions) and the crosscoder that encodes and decodes their
 * residuals. Every ORT session of a bundle's models is made here, with the provider choice shared by all.
 */
import * as ort from 'onnxruntime-node';
import type { Bundle, ModelSource } from '../bundle/bundle';
import { LatentDiffError } from '../errors';
import type { LatentMetrics, ProviderInUse, ProviderSetting } from '../types';
import { CrosscoderRunner, type CrosscoderRunnerOptions } from './crosscoder-runner';
import { Gemma2SplitModel } from './gemma2-split-model';
import { withGraphDefaults } from './graph-session';
import { LogitsHeadSession } from './logits-head-session';
import { OnnxResidualModel } from './model-runner';
import { OnnxUnembedding } from './onnx-unembedding';
import { createSession, type ProviderChoice, type SessionSource } from './providers';
import { RecomputingSplitModel } from './recomputing-split-model';
import type { SplitModel } from './split-model';

export type ModelRole = 'base' | 'chat';

export interface ModelPairOptions {
  provider: ProviderSetting;
  /** Graphs go here when the bundle's folders are read-only. */
  cacheDir: string;
  /** ORT's disable_prepacking for graphs over external weights (default true: memory-mapped, fast to load). */
  disablePrepacking?: boolean;
  /** ORT intra-op threads of each CPU session (default: one per physical core, cpu-threads.ts). */
  cpuThreads?: number;
  /** Shared with the caller so that sessions it makes itself use the same provider. */
  choice?: ProviderChoice;
  onProgress?: (stage: string, message: string, fraction?: number) => void;
}

export class ModelPair {
  private readonly runners = new Map<string, Promise<CrosscoderRunner>>();

  private constructor(
    readonly bundle: Bundle,
    readonly base: SplitModel,
    readonly chat: SplitModel,
    readonly choice: ProviderChoice,
    private readonly opts: ModelPairOptions,
  ) {}

  /** Opens both models (the crosscoder's sessions open on first use); nothing stays open when one fails. */
  static async open(bundle: Bundle, opts: ModelPairOptions): Promise<ModelPair> {
    const choice = opts.choice ?? {};
    const progress = opts.onProgress ?? (() => {});
    progress('base', `Loading ${bundle.base.name}`, 0.3);
    const base = await openSplitModel(bundle, bundle.base, opts, choice);
    try {
      progress('chat', `Loading ${bundle.chat.name}`, 0.5);
      const chat = await openSplitModel(bundle, bundle.chat, opts, choice);
      return new ModelPair(bundle, base, chat, choice, opts);
    } catch (e) {
      await base.dispose().catch(() => undefined);
      throw e;
    }
  }

  get provider(): ProviderInUse {
    return this.choice.current ?? 'cpu';
  }

  model(role: ModelRole): SplitModel {
    return role === 'base' ? this.base : this.chat;
  }

  /** Session options for graphs made after the models: the provider that worked for them. */
  sessionOptions(): ort.InferenceSession.SessionOptions {
    return { ...graphOptions(this.opts), executionProviders: [this.provider] };
  }

  /**
   * The crosscoder's runner for these encode outputs and top-k, made once per configuration: encode
   * (scaled activations, top-k, raw codes, reconstructions) and decode latents.
   */
  crosscoder(metrics: LatentMetrics, config: Pick<CrosscoderRunnerOptions, 'topK' | 'outputs' | 'chunkTokens'>): Promise<CrosscoderRunner> {
    const key = JSON.stringify(config);
    let r = this.runners.get(key);
    if (!r) {
      r = CrosscoderRunner.create(this.bundle.crosscoder, metrics, { ...config, cacheDir: this.opts.cacheDir, sessionOptions: this.sessionOptions() });
      this.runners.set(key, r);
      r.catch(() => this.runners.delete(key));
    }
    return r;
  }

  async dispose(): Promise<void> {
    await this.base.dispose();
    await this.chat.dispose();
    for (const r of this.runners.values()) await (await r.catch(() => undefined))?.dispose();
    this.runners.clear();
  }
}

/** The thread count the caller chose for CPU sessions, if any (else withCpuThreads picks one). */
function threadOptions(opts: Pick<ModelPairOptions, 'cpuThreads'>): ort.InferenceSession.SessionOptions {
  const n = opts.cpuThreads;
  if (n === undefined) return {};
  if (!(Number.isInteger(n) && n >= 1)) throw new LatentDiffError(undefined, `the CPU thread count must be a positive integer, got ${n}`, 'invalid-setting');
  return { intraOpNumThreads: n };
}

/** Session options for graphs built over external weights (the Hugging Face model, the crosscoder). */
export function graphOptions(opts: Pick<ModelPairOptions, 'disablePrepacking' | 'cpuThreads'>): ort.InferenceSession.SessionOptions {
  const prepack = opts.disablePrepacking === false ? '0' : '1';
  return withGraphDefaults({ ...threadOptions(opts), extra: { session: { disable_prepacking: prepack } } });
}

async function openSplitModel(bundle: Bundle, source: ModelSource, opts: ModelPairOptions, choice: ProviderChoice): Promise<SplitModel> {
  const make = (s: SessionSource, options: ort.InferenceSession.SessionOptions) => createSession(s, opts.provider, choice, options);
  if (source.kind === 'hf') {
    const onProgress = (stage: string, fraction: number) => opts.onProgress?.('model', `${source.name}: ${stage.replace('-', ' ')}`, fraction);
    return Gemma2SplitModel.open(source.name, source.dir, { layer: bundle.layer, cacheDir: opts.cacheDir, onProgress }, (s) => make(s, graphOptions(opts)));
  }
  let session: ort.InferenceSession;
  try {
    session = await make(source.path, threadOptions(opts));
  } catch (e) {
    throw new LatentDiffError(source.path, `ONNX Runtime cannot load this model: ${(e as Error).message.split('\n')[0]}`, 'model-load');
  }
  const second = source.secondHalf ? new LogitsHeadSession(source.secondHalf, opts.cacheDir, (s) => make(s, threadOptions(opts))) : undefined;
  const unembedding = source.unembedding ? new OnnxUnembedding(source.unembedding, bundle.dModel, opts.cacheDir, (s) => make(s, threadOptions(opts))) : undefined;
  return new RecomputingSplitModel(new OnnxResidualModel(source, session, bundle.dModel), bundle.dModel, second, source.path, unembedding);
}
