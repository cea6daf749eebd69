/**
 * The divergence highlight and the logit effects on a bundle (what the inference worker's `divergence` and
 * `logitEffects` requests run): a document tokenised as analyze() tokenises it, then per token
 * KL(P_chat || P_base) and both models' top next tokens (divergence.ts); a latent's decoder vectors through
 * each model's unembedding (logit-effects.ts).
 */
import { bundleChatTemplate } from '../../text/chat-template';
import { tokenizeDocument } from '../../text/document';
import type { TokenInfo } from '../../types';
import { divergence, type DivergenceOptions, type DivergenceResult } from './divergence';
import type { KlParts } from './kl-job';
import { logitEffects, type LogitEffects } from './logit-effects';

export interface DivergenceRequest extends Pick<DivergenceOptions, 'topK'> {
  mode?: 'auto' | 'plain' | 'chat';
  /** Names the document in errors. */
  docName?: string;
}

export interface DocumentDivergence extends DivergenceResult {
  tokens: TokenInfo[];
}

export async function documentDivergence(parts: KlParts, text: string, req: DivergenceRequest, checkpoint?: () => Promise<void>): Promise<DocumentDivergence> {
  const doc = tokenizeDocument(parts.tokenizer, text, { mode: req.mode ?? 'auto', docName: req.docName, template: bundleChatTemplate(parts.bundle.tokenizer.chatTemplate) });
  const result = await divergence({ base: parts.pair.base, chat: parts.pair.chat }, doc.tokens.map((x) => x.id), { topK: req.topK, checkpoint });
  return { tokens: doc.tokens, ...result };
}

export function bundleLogitEffects(parts: KlParts, latent: number, k?: number): Promise<LogitEffects> {
  return logitEffects({ base: parts.pair.base, chat: parts.pair.chat }, parts.bundle.crosscoder, latent, k);
}
