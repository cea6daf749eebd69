/**
 * Generation (issue 8): a model answers from prompt ids, token by token over its caches (n decode steps,
 * not n full forwards), greedy or sampled, optionally steered, each new token with its top latents (both
 * models' residuals at the new position through the crosscoder, like analysed text). Streams through a
 * callback and stops at <end_of_turn>/<eos>, after maxNew tokens, or when the checkpoint throws (cancel).
 */
import { seededRandom } from '../../random';
import type { CrosscoderRunner } from '../../runtime/crosscoder-runner';
import type { ModelPair, ModelRole } from '../../runtime/model-pair';
import type { KvCache, NextTokenResult } from '../../runtime/split-model';
import type { GemmaTokenizer } from '../../text/tokenizer';
import type { SteerSpec } from './steering';
import { sampleToken, type SamplingOptions } from './token-sampler';

export interface GeneratedToken {
  id: number;
  /** Display string of the token. */
  text: string;
  /** The generating model's log-probability of this token (before temperature and top-p). */
  logProb: number;
  /** Top latents at this token, scaled activations as in analysis. */
  top: { latent: number; act: number }[];
  /** Scaled activations of the requested latents, in request order. */
  acts?: number[];
}

export interface GenerationOutput {
  model: ModelRole;
  steer: SteerSpec[];
  /** Generated ids, the stop token included when one ended the answer. */
  ids: number[];
  /** Decoded answer without the stop token. */
  text: string;
  tokens: GeneratedToken[];
  stop: 'end-of-turn' | 'eos' | 'max-new';
  /** Decode steps per second (the prompt's forward pass excluded). */
  tokensPerSecond: number;
}

export interface GenerationRun extends SamplingOptions {
  model: ModelRole;
  steer: SteerSpec[];
  /** [d] added to the residual after block `layer` (zero vector: none). */
  steerVector?: Float32Array;
  steerOn: 'all' | 'prompt';
  maxNew: number;
  seed: number;
  topK: number;
  latents: number[];
}

export interface GenerationContext {
  pair: ModelPair;
  tokenizer: GemmaTokenizer;
  crosscoder: CrosscoderRunner;
  checkpoint: () => Promise<void>;
  onToken: (token: GeneratedToken, index: number) => void;
}

function addRows(resid: Float32Array, v: Float32Array | undefined): Float32Array {
  if (!v) return resid;
  const out = Float32Array.from(resid);
  for (let i = 0; i < out.length; i++) out[i] += v[i % v.length];
  return out;
}

export async function generateOne(ctx: GenerationContext, promptIds: number[], run: GenerationRun): Promise<GenerationOutput> {
  const { pair, tokenizer: tok } = ctx;
  const gen = pair.model(run.model);
  const other = pair.model(run.model === 'chat' ? 'base' : 'chat');
  const stops = new Map([[tok.tokenToId('<end_of_turn>'), 'end-of-turn' as const], [tok.tokenToId('<eos>'), 'eos' as const]]);
  const rand = seededRandom(run.seed);
  const sampled = run.temperature > 0;

  let { resid, cache: genFirst } = await gen.firstHalf(promptIds);
  let { cache: otherFirst } = await other.firstHalf(promptIds);
  await ctx.checkpoint();
  const request = sampled ? { logProbs: true } : { topK: 1 };
  let step = await gen.secondHalf(addRows(resid, run.steerVector), undefined, { ...request, lastOnly: true });
  let genSecond: KvCache = step.cache;
  const tokens: GeneratedToken[] = [];
  const ids: number[] = [];
  let stop: GenerationOutput['stop'] = 'max-new';
  const started = performance.now();
  while (ids.length < run.maxNew) {
    await ctx.checkpoint();
    const { id, logProb } = pick(step.next, gen.vocabSize, sampled ? run : undefined, rand);
    ids.push(id);
    const first = await gen.firstHalf([id], genFirst);
    const otherStep = await other.firstHalf([id], otherFirst);
    genFirst = first.cache;
    otherFirst = otherStep.cache;
    resid = run.steerOn === 'all' ? addRows(first.resid, run.steerVector) : first.resid;
    const [xBase, xChat] = run.model === 'chat' ? [otherStep.resid, resid] : [resid, otherStep.resid];
    const token = await describeToken(ctx, id, logProb, xBase, xChat, run);
    tokens.push(token);
    ctx.onToken(token, tokens.length - 1);
    const stopKind = stops.get(id);
    if (stopKind) {
      stop = stopKind;
      break;
    }
    if (ids.length >= run.maxNew) break;
    step = await gen.secondHalf(resid, genSecond, request);
    genSecond = step.cache;
  }
  const seconds = (performance.now() - started) / 1000;
  const textIds = stop === 'max-new' ? ids : ids.slice(0, -1);
  return { model: run.model, steer: run.steer, ids, text: tok.decode(textIds), tokens, stop, tokensPerSecond: seconds > 0 ? ids.length / seconds : 0 };
}

/** The next token from the last position's predictions: the graph's argmax when greedy, else a draw. */
function pick(next: NextTokenResult, vocab: number, sampling: SamplingOptions | undefined, rand: () => number): { id: number; logProb: number } {
  if (!sampling) {
    const k = next.topIds.length / next.argmax.length;
    return { id: next.argmax[next.argmax.length - 1], logProb: next.topLogProbs[next.topLogProbs.length - k] };
  }
  const last = next.logProbs!.subarray(next.logProbs!.length - vocab);
  const id = sampleToken(last, sampling, rand);
  return { id, logProb: last[id] };
}

async function describeToken(ctx: GenerationContext, id: number, logProb: number, xBase: Float32Array, xChat: Float32Array, run: GenerationRun): Promise<GeneratedToken> {
  const enc = await ctx.crosscoder.encode(xBase, xChat, 1, run.latents);
  const top: { latent: number; act: number }[] = [];
  for (let k = 0; k < enc.topValues.length && top.length < run.topK; k++) {
    if (enc.topValues[k] > 0) top.push({ latent: enc.topIndices[k], act: enc.topValues[k] });
  }
  return {
    id,
    text: ctx.tokenizer.decode([id]),
    logProb,
    top,
    ...(run.latents.length ? { acts: enc.selected.map((s) => s[0]) } : {}),
  };
}
