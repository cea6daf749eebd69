/**
 * Where do the two models disagree? Per position of a token sequence, KL(P_chat || P_base) of the next-token
 * prediction (each model's own full forward; KL computed in the base model's graph against the chat model's
 * log-probs) and each model's top next tokens with probabilities. Runs in chunks of positions over the
 * models' caches, like the patching experiment.
 */
import { LatentDiffError } from '../../errors';
import { secondHalfChunk, type KvCache, type SplitModel } from '../../runtime/split-model';

export interface DivergenceResult {
  /** [T] KL(P_chat || P_base) in nats; position t predicts token t + 1. */
  kl: Float32Array;
  topK: number;
  /** [T * topK] ids and probabilities, most likely first. */
  chatTopIds: Int32Array;
  chatTopProbs: Float32Array;
  baseTopIds: Int32Array;
  baseTopProbs: Float32Array;
}

export interface DivergenceOptions {
  /** Top next tokens per model and position (default 5). */
  topK?: number;
  /** Positions per second-half call (default: secondHalfChunk, 64 over key/value caches). */
  chunkTokens?: number;
  checkpoint?: () => Promise<void>;
}

export async function divergence(models: { base: SplitModel; chat: SplitModel }, ids: number[], opts: DivergenceOptions = {}): Promise<DivergenceResult> {
  const { base, chat } = models;
  for (const m of [base, chat]) if (!m.hasSecondHalf) throw new LatentDiffError(m.name, 'the model has no layers after the crosscoder\'s layer, so it cannot predict next tokens', 'no-second-half');
  if (base.vocabSize !== chat.vocabSize) throw new LatentDiffError(base.name, `vocabulary of ${base.vocabSize} tokens, but the chat model has ${chat.vocabSize}`, 'bad-shape');
  const k = opts.topK ?? 5;
  const T = ids.length;
  const chunk = Math.min(secondHalfChunk(chat, T, opts.chunkTokens), secondHalfChunk(base, T, opts.chunkTokens));
  const d = chat.dModel;
  const hBase = (await base.firstHalf(ids)).resid;
  const hChat = (await chat.firstHalf(ids)).resid;
  const out: DivergenceResult = {
    kl: new Float32Array(T), topK: k,
    chatTopIds: new Int32Array(T * k), chatTopProbs: new Float32Array(T * k),
    baseTopIds: new Int32Array(T * k), baseTopProbs: new Float32Array(T * k),
  };
  let chatCache: KvCache | undefined;
  let baseCache: KvCache | undefined;
  for (let t0 = 0; t0 < T; t0 += chunk) {
    await opts.checkpoint?.();
    const n = Math.min(chunk, T - t0);
    const c = await chat.secondHalf(hChat.subarray(t0 * d, (t0 + n) * d), chatCache, { logProbs: true, topK: k });
    const b = await base.secondHalf(hBase.subarray(t0 * base.dModel, (t0 + n) * base.dModel), baseCache, { klReference: c.next.logProbs, topK: k });
    chatCache = c.cache;
    baseCache = b.cache;
    out.kl.set(b.next.kl!, t0);
    out.chatTopIds.set(c.next.topIds, t0 * k);
    out.baseTopIds.set(b.next.topIds, t0 * k);
    out.chatTopProbs.set(c.next.topLogProbs.map(Math.exp), t0 * k);
    out.baseTopProbs.set(b.next.topLogProbs.map(Math.exp), t0 * k);
  }
  return out;
}
