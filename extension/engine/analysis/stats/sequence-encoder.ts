/**
 * Token ids -> what the statistics need per token: both models' residuals and the crosscoder's raw codes f
 * (after the BatchTopK threshold). Each sequence runs on its own, so its numbers never depend on which other
 * sequences a run or shard holds.
 */
import type { Bundle } from '../../bundle/bundle';
import { LatentDiffError } from '../../errors';
import { CrosscoderRunner } from '../../graphs/crosscoder-runner';
import { withGraphDefaults } from '../../graphs/graph-session';
import { Gemma2ResidualModel } from '../../runtime/gemma2-residual-model';
import { createSession, type ProviderChoice } from '../../worker/providers';
import type { LatentMetrics, ProviderSetting } from '../../types';
import { checkFiniteActivations } from '../finite-activations';
import { OnnxResidualModel, type ResidualModel } from '../model-runner';

export interface EncodedSequence {
  xBase: Float32Array;
  xChat: Float32Array;
  /** [T x D] raw codes. */
  f: Float32Array;
}

export interface SequenceEncoder {
  encode(ids: Int32Array): Promise<EncodedSequence>;
  readonly provider: string;
  dispose(): Promise<void>;
}

async function residualModel(bundle: Bundle, role: 'base' | 'chat', provider: ProviderSetting, choice: ProviderChoice, cacheDir: string): Promise<ResidualModel> {
  const source = bundle[role];
  if (source.kind === 'hf') {
    return Gemma2ResidualModel.open(source.name, source.dir, { layer: bundle.layer, cacheDir }, (s) => createSession(s, provider, choice, withGraphDefaults()));
  }
  try {
    return new OnnxResidualModel(source, await createSession(source.path, provider, choice), bundle.dModel);
  } catch (e) {
    throw new LatentDiffError(source.path, `ONNX Runtime cannot load this model: ${(e as Error).message.split('\n')[0]}`, 'model-load');
  }
}

export async function openSequenceEncoder(bundle: Bundle, metrics: LatentMetrics, opts: { provider: ProviderSetting; cacheDir: string }): Promise<SequenceEncoder> {
  const choice: ProviderChoice = {};
  const base = await residualModel(bundle, 'base', opts.provider, choice, opts.cacheDir);
  const chat = await residualModel(bundle, 'chat', opts.provider, choice, opts.cacheDir);
  const runner = await CrosscoderRunner.create(bundle.crosscoder, metrics, {
    cacheDir: opts.cacheDir,
    topK: 1,
    outputs: { top: false, summary: false, selected: false, raw: true, recon: false },
    ...(choice.current && choice.current !== 'cpu' ? { sessionOptions: { executionProviders: [choice.current] } } : {}),
  });
  return {
    provider: choice.current ?? 'cpu',
    async encode(ids) {
      const list = Array.from(ids);
      const tokenLabel = (t: number) => `token ${t} (id ${list[t]}) of a dataset sequence`;
      const xBase = await base.residual(list);
      checkFiniteActivations(xBase, bundle.dModel, bundle.base, tokenLabel);
      const xChat = await chat.residual(list);
      checkFiniteActivations(xChat, bundle.dModel, bundle.chat, tokenLabel);
      const r = await runner.encode(xBase, xChat, ids.length);
      return { xBase, xChat, f: r.raw! };
    },
    async dispose() {
      await base.dispose();
      await chat.dispose();
      await runner.dispose();
    },
  };
}
