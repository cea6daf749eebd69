/**
 * The paper's patching experiment (method.md 9): for each chat, per-token KL(P_chat || P_patched) at
 * assistant-prediction positions, where P_chat is the chat model's unpatched forward and P_patched the chat
 * model's second half continuing from an edited residual (interventions.ts), summarised over the
 * all / k_first / post_k_first positions (positions.ts).
 *
 * Each document runs in chunks of positions over the models' caches, so vocabulary-sized tensors never exceed
 * chunk x vocab floats: per chunk the chat model's reference log-probs leave its graph once and go back into
 * every intervention's second half as its KL reference (the KL itself is computed in the graph).
 */
import { LatentDiffError } from '../../errors';
import { secondHalfChunk, type KvCache, type SplitModel } from '../../runtime/split-model';
import { klSummary, type KlSummary } from './kl-summary';
import { editedResidual, restrictCodes, type Intervention } from './interventions';
import type { PatchCrosscoder } from './patch-crosscoder';
import { POSITION_SUBSETS, type PositionMasks, type PositionSubset } from './positions';

export interface PatchingModels {
  base: SplitModel;
  chat: SplitModel;
  crosscoder: PatchCrosscoder;
}

export interface PatchingDocument {
  ids: number[];
  masks: PositionMasks;
}

export interface PerTokenKl {
  /** Index of the document in the order given. */
  document: number;
  /** Token position in the document (the prediction made there is of token position + 1). */
  position: number;
  kl: number;
}

export interface InterventionResult {
  name: string;
  latents: number[];
  kl: Record<PositionSubset, KlSummary>;
  /** Every scored ('all') position. */
  perToken: PerTokenKl[];
}

export interface PatchingResult {
  documents: number;
  /** Scored positions over all documents. */
  tokens: number;
  interventions: InterventionResult[];
}

export interface PatchingOptions {
  /**
   * Positions per second-half call (default: secondHalfChunk, 64 over key/value caches): bounds the reference
   * log-probs to chunk x vocab floats.
   */
  chunkTokens?: number;
  /** Called between documents and chunks: throws to cancel. */
  checkpoint?: () => Promise<void>;
  /** After each document: documents done, scored tokens so far. */
  progress?: (documents: number, tokens: number) => void;
}

export function checkPatchingModels(m: PatchingModels, interventions: readonly Intervention[]): void {
  if (!m.chat.hasSecondHalf) throw new LatentDiffError(m.chat.name, 'the chat model has no layers after the crosscoder\'s layer, so it cannot continue from a patched residual', 'no-second-half');
  for (const model of [m.base, m.chat]) {
    if (model.dModel !== m.crosscoder.dModel) throw new LatentDiffError(model.name, `d_model ${model.dModel} does not match the crosscoder's ${m.crosscoder.dModel}`, 'bad-shape');
  }
  const D = m.crosscoder.dictSize;
  for (const iv of interventions) {
    for (const j of iv.latents) {
      if (!(Number.isInteger(j) && j >= 0 && j < D)) throw new LatentDiffError(undefined, `latent ${j} (intervention "${iv.name}") does not exist: this crosscoder has latents 0..${D - 1}`, 'invalid-input');
    }
  }
}

/** Per-position KL(P_chat || P_patched) [T] of one token sequence, one array per intervention. */
export async function documentKl(m: PatchingModels, ids: number[], interventions: readonly Intervention[], opts: PatchingOptions = {}): Promise<Float32Array[]> {
  const T = ids.length;
  const chunk = secondHalfChunk(m.chat, T, opts.chunkTokens);
  const d = m.chat.dModel;
  const D = m.crosscoder.dictSize;
  const hBase = (await m.base.firstHalf(ids)).resid;
  const hChat = (await m.chat.firstHalf(ids)).resid;
  const out = interventions.map(() => new Float32Array(T));
  const caches: (KvCache | undefined)[] = interventions.map(() => undefined);
  const needCodes = interventions.some((iv) => iv.kind !== 'none');
  let refCache: KvCache | undefined;
  for (let t0 = 0; t0 < T; t0 += chunk) {
    await opts.checkpoint?.();
    const n = Math.min(chunk, T - t0);
    const hb = hBase.subarray(t0 * d, (t0 + n) * d);
    const hc = hChat.subarray(t0 * d, (t0 + n) * d);
    const ref = await m.chat.secondHalf(hc, refCache, { logProbs: true });
    refCache = ref.cache;
    const f = needCodes ? await m.crosscoder.encodeRaw(hb, hc, n) : undefined;
    let deltaAll: Float32Array | undefined;
    for (let i = 0; i < interventions.length; i++) {
      const iv = interventions[i];
      let delta: Float32Array | undefined;
      if (iv.kind === 'all' || iv.kind === 'chat-error') delta = deltaAll ??= await m.crosscoder.decoderDifference(f!, n);
      else if (iv.kind === 'latents') delta = await m.crosscoder.decoderDifference(restrictCodes(f!, n, D, iv.latents), n);
      const r = await m.chat.secondHalf(editedResidual(iv.kind, hb, hc, delta), caches[i], { klReference: ref.next.logProbs });
      caches[i] = r.cache;
      out[i].set(r.next.kl!, t0);
    }
  }
  return out;
}

/** Runs every intervention over every document and summarises per position subset. */
export async function runPatchingExperiment(
  m: PatchingModels,
  docs: Iterable<PatchingDocument> | AsyncIterable<PatchingDocument>,
  interventions: readonly Intervention[],
  opts: PatchingOptions = {},
): Promise<PatchingResult> {
  checkPatchingModels(m, interventions);
  const values = interventions.map(() => POSITION_SUBSETS.map(() => [] as number[]));
  const perToken = interventions.map(() => [] as PerTokenKl[]);
  let documents = 0;
  let tokens = 0;
  for await (const doc of asAsync(docs)) {
    await opts.checkpoint?.();
    const kl = await documentKl(m, doc.ids, interventions, opts);
    for (let i = 0; i < interventions.length; i++) {
      POSITION_SUBSETS.forEach((s, k) => doc.masks[s].forEach((on, t) => on && values[i][k].push(kl[i][t])));
      doc.masks.all.forEach((on, t) => on && perToken[i].push({ document: documents, position: t, kl: kl[i][t] }));
    }
    tokens += doc.masks.all.reduce((a, v) => a + v, 0);
    documents++;
    opts.progress?.(documents, tokens);
  }
  return {
    documents,
    tokens,
    interventions: interventions.map((iv, i) => ({
      name: iv.name,
      latents: iv.latents,
      kl: Object.fromEntries(POSITION_SUBSETS.map((s, k) => [s, klSummary(values[i][k])])) as Record<PositionSubset, KlSummary>,
      perToken: perToken[i],
    })),
  };
}

function asAsync<T>(docs: Iterable<T> | AsyncIterable<T>): AsyncIterable<T> {
  if (Symbol.asyncIterator in docs) return docs;
  return (async function* () {
    yield* docs;
  })();
}
