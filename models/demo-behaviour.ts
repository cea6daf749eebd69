/**
 * The demo's planted causal behaviour (issue 8): what each model's second half (residual after block
 * `layer` -> logits over the real Gemma 2 vocabulary) does, and why steering and patching act as the
 * ground-truth file predicts.
 *
 * - Token identity: the first half of both models writes, equally, a code for each answer token into spare
 *   concept dimensions (two of eight, so 28 codes): no latent reads or writes them, so the crosscoder leaves
 *   them in its error and no statistic changes. The second half reads the code back (ReLU(4 (s - 0.75)): 1
 *   for the token, 0 for tokens sharing one dimension) and predicts the token's successor in an answer.
 * - Base answer: both second halves continue BASE_ANSWER after "\n" (logit +BASE_WEIGHT per step).
 * - Chat answer: the chat second half continues CHAT_ANSWER with +CHAT_WEIGHT times the model-turn gate
 *   (the model-turn concept's readout, 1 in the chat residual of a model turn, 0 in the base residual). The
 *   model-turn latent is robust chat-only, so patching the robust latents into the base residual restores the
 *   gate and the chat answer; the Complete Shrinkage (role names) and Latent Decoupling (question marks)
 *   latents write directions the second half does not read, so patching them recovers nothing.
 * - Turn ends: the chat second half adds END_WEIGHT times the template concept's readout to <end_of_turn>.
 * - Steering (strength * max_act_j * d_j / ||d_j||): the template latent at strength 1 (readout ~1.02) makes
 *   <end_of_turn> win over the chat answer at once: the steered answer is empty. The model-turn latent at
 *   strength -1 closes the gate: the chat model gives the base answer.
 * - Everything else: low-rank logits from a seeded hash of the token id computed in the graph (sin features),
 *   a few tenths of a nat, so the full distribution is spread over the vocabulary like a real model's.
 */
export const BEHAVIOUR = {
  chatAnswer: 'Sure! Happy to help.',
  baseAnswer: 'I think so.',
  chatWeight: 19,
  baseWeight: 15,
  endWeight: 23,
  /** Rank of the hashed background logits. */
  backgroundRank: 8,
  backgroundScale: 0.15,
  /** Spare concept dimensions holding the token-identity codes. */
  codeDims: 8,
  seedOffset: 2,
};

export const NEWLINE = '\n';
