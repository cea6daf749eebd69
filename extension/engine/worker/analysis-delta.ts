/**
 * Analysis results cross from the worker to the extension host as deltas. Live analysis re-analyses the
 * document after every edit, and all tokens before the edit come back unchanged; copying their token and
 * top-latent objects again costs the host's thread time that grows with the document (structured-clone
 * deserialisation: 10-120 ms for 4,096 tokens' rows). The worker remembers the last result it sent; when the
 * client says it holds that one, only the tokens and rows after the part both share travel.
 */
import { randomUUID } from 'node:crypto';
import type { AnalysisResult, LatentActivation, TokenInfo } from '../types';

/** A result with `tokens` and `top` from index `keep` on; the first `keep` are those of result `base`. */
export interface AnalysisReply {
  id: string;
  base?: string;
  keep: number;
  result: AnalysisResult;
}

function sameToken(a: TokenInfo, b: TokenInfo): boolean {
  return a.id === b.id && a.text === b.text && a.start === b.start && a.end === b.end && a.template === b.template && a.special === b.special;
}

function sameRow(a: LatentActivation[], b: LatentActivation[]): boolean {
  return a.length === b.length && a.every((x, i) => x.latent === b[i].latent && Object.is(x.act, b[i].act));
}

/** How many leading tokens two results share, with their top-latent rows. */
export function sharedTokens(a: AnalysisResult, b: AnalysisResult): number {
  const n = Math.min(a.tokens.length, b.tokens.length);
  let i = 0;
  while (i < n && sameToken(a.tokens[i], b.tokens[i]) && sameRow(a.top[i], b.top[i])) i++;
  return i;
}

/** The worker's side: replies relative to the last result sent, when the client holds it. */
export class SentAnalyses {
  private last: { id: string; result: AnalysisResult } | undefined;

  reply(result: AnalysisResult, clientHolds: string | undefined): AnalysisReply {
    const id = randomUUID();
    const base = this.last && this.last.id === clientHolds ? this.last : undefined;
    this.last = { id, result };
    if (!base) return { id, keep: 0, result };
    const keep = sharedTokens(base.result, result);
    return { id, base: base.id, keep, result: { ...result, tokens: result.tokens.slice(keep), top: result.top.slice(keep) } };
  }
}

/** The client's side: the last whole result it received, which a reply may build on. */
export class HeldAnalyses {
  private last: { id: string; result: AnalysisResult } | undefined;

  /** The id to send with a request, and the result a reply to it may build on. */
  holding(): { id: string; result: AnalysisResult } | undefined {
    return this.last;
  }

  /** The whole result of `reply`, which answered a request sent while `held` was held. */
  accept(reply: AnalysisReply, held: { id: string; result: AnalysisResult } | undefined): AnalysisResult {
    let result = reply.result;
    if (reply.base !== undefined) {
      if (!held || held.id !== reply.base || reply.keep > held.result.tokens.length) throw new Error(`analysis reply builds on ${reply.base}, which this client does not hold`);
      const prefix = held.result;
      result = { ...result, tokens: [...prefix.tokens.slice(0, reply.keep), ...result.tokens], top: [...prefix.top.slice(0, reply.keep), ...result.top] };
    }
    this.last = { id: reply.id, result };
    return result;
  }

  forget(): void {
    this.last = undefined;
  }
}
