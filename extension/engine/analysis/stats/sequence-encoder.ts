/**
 * Token ids -> what the statistics need per token: both models' residuals and the crosscoder's raw codes f
 * (after the BatchTopK threshold). Each sequence runs on its own, so its numbers never depend on which other
 * sequences a run or shard holds.
 */
import type { Bundle } from '../../bundle/bundle';
import { ModelPair } from '../../runtime/model-pair';
import type { LatentMetrics, ProviderSetting } from '../../types';
import { checkFiniteActivations } from '../finite-activations';

export interface EncodedSequence {
  xBase: Float32Array;
  xChat: Float32Array;
  /** [T x D] raw codes. */
  f: Float32Array;
}

export interface SequenceEncoder {
  encode(ids: Int32Array): Promise<EncodedSequence>;
  readonly provider: string;
  /** Why a preferred provider was not used. */
  readonly providerNote?: string;
  dispose(): Promise<void>;
}

export async function openSequenceEncoder(bundle: Bundle, metrics: LatentMetrics, opts: { provider: ProviderSetting; cacheDir: string; cpuThreads?: number }): Promise<SequenceEncoder> {
  const pair = await ModelPair.open(bundle, opts);
  try {
    const runner = await pair.crosscoder(metrics, { topK: 1, outputs: { top: false, summary: false, selected: false, raw: true, recon: false } });
    return {
      provider: pair.provider,
      get providerNote() {
        return pair.choice.fallbackReason;
      },
      async encode(ids) {
        const list = Array.from(ids);
        const tokenLabel = (t: number) => `token ${t} (id ${list[t]}) of a dataset sequence`;
        const { resid: xBase } = await pair.base.firstHalf(list);
        checkFiniteActivations(xBase, bundle.dModel, bundle.base, tokenLabel);
        const { resid: xChat } = await pair.chat.firstHalf(list);
        checkFiniteActivations(xChat, bundle.dModel, bundle.chat, tokenLabel);
        const r = await runner.encode(xBase, xChat, ids.length);
        return { xBase, xChat, f: r.raw! };
      },
      dispose: () => pair.dispose(),
    };
  } catch (e) {
    await pair.dispose();
    throw e;
  }
}
