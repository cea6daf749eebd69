/**
 * One generate request (issue 8 sections 3-4): checks the settings, builds the prompt, and runs each asked
 * model, default and (when steering) steered, every run from the same seed.
 */
import type { Bundle } from '../../bundle/bundle';
import { LatentDiffError } from '../../errors';
import type { ModelPair, ModelRole } from '../../runtime/model-pair';
import type { GemmaTokenizer } from '../../text/tokenizer';
import type { LatentMetrics, ProviderInUse } from '../../types';
import { generateOne, type GeneratedToken, type GenerationOutput } from './generator';
import { generationPrompt } from './generation-prompt';
import { checkSteering, steeringVector, type SteerSpec } from './steering';

export interface GenerateRequest {
  /** Which model answers; 'both' runs the chat model, then the base model on the same prompt. */
  model?: ModelRole | 'both';
  maxNew?: number;
  /** 0 (default): greedy. */
  temperature?: number;
  topP?: number;
  seed?: number;
  steer?: SteerSpec[];
  steerOn?: 'all' | 'prompt';
  /** Latents whose activation each generated token reports. */
  latents?: number[];
  /** Top latents per generated token (default 10). */
  topK?: number;
  /** Continue the text as it stands instead of answering its last user turn. */
  continuation?: boolean;
  /** Names the document in errors. */
  docName?: string;
}

export interface GenerationEvent {
  /** Index of the output (in GenerationResult.outputs) the token belongs to. */
  output: number;
  model: ModelRole;
  steered: boolean;
  /** Position of the token in its output. */
  index: number;
  token: GeneratedToken;
}

export interface GenerationResult {
  provider: ProviderInUse;
  /** Why a preferred provider was not used. */
  providerNote?: string;
  promptIds: number[];
  outputs: GenerationOutput[];
}

export interface GenerationDeps {
  bundle: Bundle;
  pair: ModelPair;
  tokenizer: GemmaTokenizer;
  metrics: LatentMetrics;
  /** max_act per latent from the bundle's statistics, and the file it came from. */
  maxAct(): { values?: Float32Array; file?: string };
  checkpoint(): Promise<void>;
}

const DEFAULT_MAX_NEW = 64;
const MAX_NEW_LIMIT = 4096;
const DEFAULT_TOP_K = 10;
const GRAPH_TOP_K = 32;

function invalid(problem: string): LatentDiffError {
  return new LatentDiffError(undefined, problem, 'invalid-input');
}

export async function runGeneration(deps: GenerationDeps, text: string, req: GenerateRequest, onToken: (e: GenerationEvent) => void): Promise<GenerationResult> {
  const { bundle, pair } = deps;
  const D = bundle.crosscoder.dictSize;
  const maxNew = req.maxNew ?? DEFAULT_MAX_NEW;
  if (!(Number.isInteger(maxNew) && maxNew >= 1 && maxNew <= MAX_NEW_LIMIT)) throw invalid(`max new tokens must be an integer from 1 to ${MAX_NEW_LIMIT}, got ${maxNew}`);
  const temperature = req.temperature ?? 0;
  if (!(Number.isFinite(temperature) && temperature >= 0)) throw invalid(`temperature must be a finite number >= 0, got ${temperature}`);
  const topP = req.topP ?? 1;
  if (!(Number.isFinite(topP) && topP > 0 && topP <= 1)) throw invalid(`top-p must be in (0, 1], got ${topP}`);
  const seed = req.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw invalid(`the seed must be an integer, got ${seed}`);
  const topK = req.topK ?? DEFAULT_TOP_K;
  if (!(Number.isInteger(topK) && topK >= 1 && topK <= GRAPH_TOP_K)) throw invalid(`top-k must be an integer from 1 to ${GRAPH_TOP_K}, got ${topK}`);
  const steerOn = req.steerOn ?? 'all';
  if (steerOn !== 'all' && steerOn !== 'prompt') throw invalid(`steering applies to "all" tokens or the "prompt" only, got ${JSON.stringify(steerOn)}`);
  const latents = req.latents ?? [];
  for (const j of latents) if (!(Number.isInteger(j) && j >= 0 && j < D)) throw invalid(`latent ${j} does not exist: this crosscoder has latents 0..${D - 1}`);
  const steer = req.steer ?? [];
  const stats = steer.length ? deps.maxAct() : {};
  checkSteering(steer, D, stats.values, stats.file);
  const roles: ModelRole[] = req.model === 'both' ? ['chat', 'base'] : [req.model ?? 'chat'];
  for (const role of roles) {
    if (role !== 'chat' && role !== 'base') throw invalid(`the model is "chat", "base" or "both", got ${JSON.stringify(role)}`);
    const m = pair.model(role);
    if (!m.hasSecondHalf) {
      const source = bundle[role];
      // A Hugging Face folder's own error names the missing tensors.
      if (source.kind === 'hf') await m.secondHalf(new Float32Array(m.dModel), undefined, {});
      const where = source.kind === 'onnx' ? source.path : source.dir;
      throw new LatentDiffError(where, `the ${role} model "${source.name}" ends at block ${bundle.layer} (no second half to the logits): it cannot generate; add its "secondHalf" to ${bundle.file}`, 'no-second-half');
    }
  }

  const promptIds = generationPrompt(deps.tokenizer, text, { continuation: req.continuation, chatTemplate: bundle.tokenizer.chatTemplate, docName: req.docName });
  const crosscoder = await pair.crosscoder(deps.metrics, { topK: GRAPH_TOP_K });
  const steerVector = steer.length ? await steeringVector(crosscoder, steer, stats.values!) : undefined;
  const outputs: GenerationOutput[] = [];
  for (const model of roles) {
    for (const steered of steer.length ? [false, true] : [false]) {
      const output = outputs.length;
      outputs.push(
        await generateOne(
          { pair, tokenizer: deps.tokenizer, crosscoder, checkpoint: deps.checkpoint, onToken: (token, index) => onToken({ output, model, steered, index, token }) },
          promptIds,
          { model, steer: steered ? steer : [], steerVector: steered ? steerVector : undefined, steerOn, maxNew, seed, topK, latents, temperature, topP },
        ),
      );
    }
  }
  return { provider: pair.provider, ...(pair.choice.fallbackReason ? { providerNote: pair.choice.fallbackReason } : {}), promptIds, outputs };
}
