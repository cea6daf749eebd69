/** What every view does with a latent the user picked in it: highlight it, open its page, steer with it. */
import type { LatentAction } from '../protocol/messages';
import { steerLatent } from './generate-command';

const ACTIONS = new Set<string>(['highlightLatent', 'openLatent', 'steerLatent']);

export function isLatentAction(m: { type: string }): m is LatentAction {
  return ACTIONS.has(m.type);
}

export function runLatentAction(m: LatentAction, to: { highlightLatent(latent: number, slot: 0 | 1): void; openLatent(latent: number): void }): undefined {
  if (m.type === 'highlightLatent') to.highlightLatent(m.latent, m.slot);
  else if (m.type === 'openLatent') to.openLatent(m.latent);
  else steerLatent(m.latent);
  return undefined;
}
