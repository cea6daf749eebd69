/**
 * The patching experiment on a bundle (what `latent-diff kl` and the inference worker's `kl` request run):
 * resolves the requested interventions (latent lists checked against the crosscoder, named sets from the
 * bundle's statistics), reads the chats from files or text, and runs them through the bundle's model pair.
 */
import type { Bundle } from '../../bundle/bundle';
import { LatentDiffError } from '../../errors';
import type { ModelPair } from '../../runtime/model-pair';
import { bundleChatTemplate } from '../../text/chat-template';
import type { GemmaTokenizer } from '../../text/tokenizer';
import type { LatentMetrics } from '../../types';
import { bundleStatsFile, loadLatentStats } from '../latent-stats';
import { chatDocumentsOfFiles, chatDocumentsOfText, noAssistantTurn, type NamedDocument } from './chat-documents';
import type { Intervention, InterventionKind } from './interventions';
import { latentSet, type LatentSetName, type NuRatios } from './latent-sets';
import { patchCrosscoder, RAW_CODES } from './patch-crosscoder';
import { runPatchingExperiment, type PatchingOptions, type PatchingResult } from './patching-experiment';

export interface KlRequest {
  /** Interventions without latents: none, all, chat-error (default: all three). */
  interventions?: Exclude<InterventionKind, 'latents'>[];
  /** User latent lists, one intervention each (named "latents"). */
  latentLists?: number[][];
  /** Named latent sets, one intervention each. */
  sets?: LatentSetName[];
  /** Positions per second-half call. */
  chunkTokens?: number;
}

export interface KlReport extends PatchingResult {
  provider: string;
  /** Why a preferred provider was not used. */
  providerNote?: string;
  /** Documents by name, in the order of PerTokenKl.document. */
  documentNames: string[];
  /** Conversations without a model turn, skipped. */
  skipped: string[];
}

export interface KlParts {
  bundle: Bundle;
  tokenizer: GemmaTokenizer;
  pair: ModelPair;
  metrics: LatentMetrics;
}

/** Ratios from the bundle's statistics (undefined when it has none or they lack the nu columns). */
function bundleNu(bundle: Bundle, dictSize: number): { nu: NuRatios | undefined; source: string | undefined } {
  const file = bundleStatsFile(bundle.dir, bundle.stats);
  if (!file) return { nu: undefined, source: bundle.file };
  const s = loadLatentStats(file, dictSize);
  return { nu: s.nuError && s.nuReconstruction ? { nuError: s.nuError, nuReconstruction: s.nuReconstruction } : undefined, source: file };
}

export function resolveInterventions(parts: Pick<KlParts, 'bundle' | 'metrics'>, req: KlRequest): Intervention[] {
  const D = parts.metrics.dictSize;
  const out: Intervention[] = (req.interventions ?? ['none', 'all', 'chat-error']).map((kind) => ({ name: kind, kind, latents: [] }));
  for (const list of req.latentLists ?? []) {
    for (const j of list) if (!(Number.isInteger(j) && j >= 0 && j < D)) throw new LatentDiffError(undefined, `latent ${j} does not exist: this crosscoder has latents 0..${D - 1}`, 'invalid-input');
    out.push({ name: 'latents', kind: 'latents', latents: [...new Set(list)].sort((a, b) => a - b) });
  }
  if (req.sets?.length) {
    const { nu, source } = bundleNu(parts.bundle, D);
    for (const name of req.sets) out.push({ name, kind: 'latents', latents: latentSet(name, parts.metrics, nu, source) });
  }
  if (out.length === 0) throw new LatentDiffError(undefined, 'no intervention to run', 'invalid-input');
  return out;
}

function templateOptions(bundle: Bundle) {
  return { template: bundleChatTemplate(bundle.tokenizer.chatTemplate) };
}

/** Runs the experiment on files (each a chat, JSONL of chats or a dataset) or, with `text`, on one document. */
export async function runKl(parts: KlParts, source: { files: string[] } | { text: string; name: string }, req: KlRequest, opts: PatchingOptions = {}): Promise<KlReport> {
  const interventions = resolveInterventions(parts, req);
  const skipped: string[] = [];
  const docOpts = { ...templateOptions(parts.bundle), onSkip: (n: string) => skipped.push(n) };
  let docs: Iterable<NamedDocument> | AsyncIterable<NamedDocument>;
  if ('files' in source) {
    docs = chatDocumentsOfFiles(parts.tokenizer, source.files, docOpts);
  } else {
    docs = chatDocumentsOfText(parts.tokenizer, source.text, source.name, docOpts);
    if ((docs as NamedDocument[]).length === 0) throw noAssistantTurn(source.name);
  }
  const documentNames: string[] = [];
  const named = (async function* () {
    for await (const d of docs) {
      documentNames.push(d.name);
      yield d;
    }
  })();
  const runner = await parts.pair.crosscoder(parts.metrics, RAW_CODES);
  const crosscoder = patchCrosscoder(runner, parts.bundle.crosscoder);
  const result = await runPatchingExperiment({ base: parts.pair.base, chat: parts.pair.chat, crosscoder }, named, interventions, { chunkTokens: req.chunkTokens, ...opts });
  return { ...result, provider: parts.pair.provider, ...(parts.pair.choice.fallbackReason ? { providerNote: parts.pair.choice.fallbackReason } : {}), documentNames, skipped };
}
