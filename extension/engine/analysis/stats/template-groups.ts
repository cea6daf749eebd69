/**
 * Token groups of the paper's template statistics (method.md 7, `SA: scripts/latents_template_stats.py`),
 * counted on chat sequences only (the paper uses LMSYS sequences): ctrl = template tokens, ctrl_1..ctrl_10 =
 * the i-th template token of a user+model turn pair, non_ctrl = everything else but BOS, assistant = model
 * turn contents + their <end_of_turn>, user = non-template, non-assistant, non-BOS tokens, bos = position 0.
 */
export const GROUPS = ['ctrl', 'non_ctrl', 'bos', 'assistant', 'user', ...Array.from({ length: 10 }, (_, i) => `ctrl_${i + 1}`)] as const;
export type GroupName = (typeof GROUPS)[number];
export const GROUP_COUNT = GROUPS.length;
export const G_CTRL = 0;
export const G_NON_CTRL = 1;
export const G_BOS = 2;
export const G_ASSISTANT = 3;
export const G_USER = 4;
/** Group index of ctrl_k (k = 1..10). */
export const gCtrlK = (k: number) => 4 + k;

/** An activation counts for the template statistics only above this (as in the reference). */
export const TEMPLATE_ACTIVE_THRESHOLD = 1e-3;

/** Writes the groups of token t into out (at most 3) and returns how many. */
export function tokenGroups(t: number, isBos: boolean, ctrl: number, assistant: number, out: Int32Array): number {
  if (t === 0 && isBos) {
    out[0] = G_BOS;
    return 1;
  }
  if (ctrl > 0) {
    out[0] = G_CTRL;
    out[1] = gCtrlK(ctrl);
    return 2;
  }
  out[0] = G_NON_CTRL;
  out[1] = assistant ? G_ASSISTANT : G_USER;
  return 2;
}
