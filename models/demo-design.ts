/**
 * The planted design of the embedded demo bundle: which concepts the tiny base and chat models write into
 * their residual stream, how strongly, and which crosscoder latents encode them. The generator builds the
 * models and the crosscoder from this table; the ground-truth file is derived from it.
 *
 * Why each artifact shows up as the paper describes (method.md 4.3, with d = d_j^chat):
 * - robust chat-only: the concept exists only in the chat residual, so neither the base error nor the base
 *   reconstruction contains it: nu_eps ~ 0 and nu_r ~ 0.
 * - complete shrinkage: the base residual also carries the concept (weaker), but the latent's base decoder
 *   has shrunk to ~0, so the base ERROR keeps the direction: nu_eps ~ base/chat magnitude (0.8).
 * - latent decoupling: both residuals carry the concept; the chat side is decoded by the "chat-only" latent,
 *   the base side by a separate partner latent that looks base-only, so the base RECONSTRUCTION contains
 *   the direction: nu_r ~ 1, nu_eps ~ 0.
 */
export type Role =
  | 'robust-chat-only'
  | 'complete-shrinkage'
  | 'latent-decoupling'
  | 'decoupling-partner'
  | 'shared'
  | 'base-only'
  | 'background';

/** How a concept's indicator is computed from the token ids (in the ONNX graph). */
export type Trigger =
  | { kind: 'tokens'; tokens: string[] }
  | { kind: 'model-turn' };

export interface Concept {
  name: string;
  description: string;
  trigger: Trigger;
  /** Magnitude of the concept direction in each model's residual when the concept is present. */
  magnitude: { base: number; chat: number };
}

export interface PlantedLatent {
  concept: string;
  role: Exclude<Role, 'background'>;
  /** Which model's residual the encoder reads. */
  reads: 'base' | 'chat' | 'both';
  /** Decoder norms per model (direction = the concept's). */
  decoder: { base: number; chat: number };
}

const SHRUNK = 0.02;

export const CONCEPTS: Concept[] = [
  { name: 'template', description: 'chat-template structure tokens (<start_of_turn>, <end_of_turn>)', trigger: { kind: 'tokens', tokens: ['<start_of_turn>', '<end_of_turn>'] }, magnitude: { base: 0, chat: 3.0 } },
  { name: 'model-turn', description: 'inside a model turn (from the role name to <end_of_turn>)', trigger: { kind: 'model-turn' }, magnitude: { base: 0, chat: 2.0 } },
  { name: 'role-name', description: 'the role names "user" and "model"', trigger: { kind: 'tokens', tokens: ['user', 'model'] }, magnitude: { base: 2.0, chat: 2.5 } },
  { name: 'question', description: 'question marks', trigger: { kind: 'tokens', tokens: ['?', '▁?'] }, magnitude: { base: 1.5, chat: 1.5 } },
  { name: 'digit', description: 'digits', trigger: { kind: 'tokens', tokens: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] }, magnitude: { base: 1.0, chat: 1.0 } },
  { name: 'punctuation', description: 'sentence punctuation . , ; :', trigger: { kind: 'tokens', tokens: ['.', ',', ';', ':'] }, magnitude: { base: 1.0, chat: 1.0 } },
  { name: 'code-keyword', description: 'code keywords (def, return, function, const, import)', trigger: { kind: 'tokens', tokens: ['▁def', 'def', '▁return', 'return', '▁function', 'function', '▁const', 'const', '▁import', 'import'] }, magnitude: { base: 1.2, chat: 1.2 } },
  { name: 'article', description: 'English articles (the, a, an)', trigger: { kind: 'tokens', tokens: ['▁the', 'the', '▁The', 'The', '▁a', '▁an'] }, magnitude: { base: 1.0, chat: 0 } },
];

export const PLANTED: PlantedLatent[] = [
  { concept: 'template', role: 'robust-chat-only', reads: 'chat', decoder: { base: SHRUNK * 3.0, chat: 3.0 } },
  { concept: 'model-turn', role: 'robust-chat-only', reads: 'chat', decoder: { base: SHRUNK * 2.0, chat: 2.0 } },
  { concept: 'role-name', role: 'complete-shrinkage', reads: 'chat', decoder: { base: SHRUNK * 2.5, chat: 2.5 } },
  { concept: 'question', role: 'latent-decoupling', reads: 'chat', decoder: { base: SHRUNK * 1.5, chat: 1.5 } },
  { concept: 'question', role: 'decoupling-partner', reads: 'base', decoder: { base: 1.5, chat: SHRUNK * 1.5 } },
  { concept: 'digit', role: 'shared', reads: 'both', decoder: { base: 1.0, chat: 1.0 } },
  { concept: 'punctuation', role: 'shared', reads: 'both', decoder: { base: 1.0, chat: 1.0 } },
  { concept: 'code-keyword', role: 'shared', reads: 'both', decoder: { base: 1.2, chat: 1.2 } },
  { concept: 'article', role: 'base-only', reads: 'base', decoder: { base: 1.0, chat: SHRUNK * 1.0 } },
];

export const DESIGN = {
  seed: 20250402,
  dModel: 64,
  /** Dimensions reserved for planted concept directions; the rest hold background atoms. */
  conceptDims: 16,
  dictSize: 512,
  /** Background atoms = background latents; each token id hashes to `atomsPerToken` of them. */
  atomsPerToken: 2,
  attentionHeadDim: 16,
  attentionScale: 0.05,
  layer: 0,
  contextWindow: 1024,
};
