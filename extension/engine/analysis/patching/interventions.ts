/**
 * The interventions of the patching experiment (method.md 9). Each builds an edited residual h after block
 * `layer` from both models' residuals and the crosscoder's codes f; the chat model's second half continues
 * from h. With D_S = sum_{j in S} f_j (d_j^chat - d_j^base):
 * - none        h = h^base                         (the paper's vanilla_base2chat)
 * - all         h = h^base + D_all                 (base error + chat reconstruction, patch_base-error_cchat)
 * - chat-error  h = h^chat - D_all                 (patch_chat-error_cchat)
 * - a latent set S (a user list or a named set)    h = h^base + D_S
 */
export type InterventionKind = 'none' | 'all' | 'chat-error' | 'latents';
export const INTERVENTION_KINDS: readonly InterventionKind[] = ['none', 'all', 'chat-error', 'latents'];

export interface Intervention {
  /** 'none', 'all', 'chat-error', 'latents' (a user list) or a latent set's name ('robust', 'pareto-nu', ...). */
  name: string;
  kind: InterventionKind;
  /** S for kind 'latents', ascending; empty otherwise (none patches no latent, all and chat-error every one). */
  latents: number[];
}

/** h for one chunk of n tokens; `delta` is D_all for all / chat-error and D_S for latent sets. */
export function editedResidual(kind: InterventionKind, hBase: Float32Array, hChat: Float32Array, delta: Float32Array | undefined): Float32Array {
  if (kind === 'none') return hBase;
  const out = new Float32Array(hBase.length);
  if (kind === 'chat-error') for (let i = 0; i < out.length; i++) out[i] = hChat[i] - delta![i];
  else for (let i = 0; i < out.length; i++) out[i] = hBase[i] + delta![i];
  return out;
}

/** f with every latent outside `latents` set to 0, [n * D]. */
export function restrictCodes(f: Float32Array, n: number, D: number, latents: readonly number[]): Float32Array {
  const out = new Float32Array(n * D);
  for (let t = 0; t < n; t++) for (const j of latents) out[t * D + j] = f[t * D + j];
  return out;
}
