/**
 * The positions the patching experiment scores (method.md 8, `SA: scripts/evaluate_interventions_effects.py`):
 * - assistant mask: the tokens of each model turn's (trimmed) content plus its `<end_of_turn>`;
 * - all: assistant-prediction positions, pred[t] = assistant[t + 1], so the last position is never scored
 *   (and BOS, never followed by an assistant token, is not either);
 * - k_first: the first K_FIRST positions of each contiguous run of `all`, then without the positions whose
 *   token is a chat-template ("ctrl") token, so the `\n` after `model` counts toward the 10 but is dropped;
 * - post_k_first: every other position of `all` (that `\n` included).
 */
import type { TokenInfo } from '../../types';

export const K_FIRST = 10;
export const POSITION_SUBSETS = ['all', 'k_first', 'post_k_first'] as const;
export type PositionSubset = (typeof POSITION_SUBSETS)[number];

/** 1 where a position is in the subset, per token of one sequence. */
export type PositionMasks = Record<PositionSubset, Uint8Array>;

/** The ids of the turn markers (Gemma 2: 106 and 107). */
export interface TurnMarkerIds {
  startOfTurn: number;
  endOfTurn: number;
}

/**
 * Assistant mask of one tokenised sequence: after a template `<start_of_turn>` whose role (the template
 * tokens up to the newline) is `model` or `assistant`, the content tokens and the closing `<end_of_turn>`.
 */
export function assistantMask(tokens: readonly TokenInfo[], ids: TurnMarkerIds): Uint8Array {
  const mask = new Uint8Array(tokens.length);
  let t = 0;
  while (t < tokens.length) {
    if (!(tokens[t].id === ids.startOfTurn && tokens[t].template)) {
      t++;
      continue;
    }
    let role = '';
    t++;
    while (t < tokens.length && tokens[t].template && !role.includes('\n')) role += tokens[t++].text;
    if (!['model', 'assistant'].includes(role.trim())) continue;
    while (t < tokens.length && tokens[t].id !== ids.startOfTurn) {
      mask[t] = 1;
      if (tokens[t++].id === ids.endOfTurn) break;
    }
  }
  return mask;
}

/** The three scored subsets from an assistant mask and the per-token ctrl flags. */
export function positionMasks(assistant: Uint8Array, ctrl: ArrayLike<boolean | number>): PositionMasks {
  const T = assistant.length;
  const all = new Uint8Array(T);
  for (let t = 1; t + 1 < T; t++) all[t] = assistant[t + 1];
  const kFirst = new Uint8Array(T);
  const post = new Uint8Array(T);
  let run = 0;
  for (let t = 0; t < T; t++) {
    run = all[t] ? run + 1 : 0;
    if (!all[t]) continue;
    if (run <= K_FIRST && !ctrl[t]) kFirst[t] = 1;
    else post[t] = 1;
  }
  return { all, k_first: kFirst, post_k_first: post };
}

/** Masks of one tokenised chat; `undefined` when it has no assistant-prediction position. */
export function scoredPositions(tokens: readonly TokenInfo[], ids: TurnMarkerIds): PositionMasks | undefined {
  const masks = positionMasks(assistantMask(tokens, ids), tokens.map((t) => t.template));
  return masks.all.some((v) => v === 1) ? masks : undefined;
}
