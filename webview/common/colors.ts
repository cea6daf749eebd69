/**
 * Token colours, as in the paper's dashboards: background = hue with alpha = activation / max, clamped.
 * One hue per highlighted latent (up to two), a third for the chat-specificity sum.
 */
export type Hue = 'first' | 'second' | 'chat';

const RGB: Record<Hue, [number, number, number]> = {
  first: [230, 40, 40],
  second: [40, 110, 240],
  chat: [235, 140, 0],
};

/** The highest alpha a token gets, so text stays readable on every theme. */
const MAX_ALPHA = 0.85;

export function hueRgb(hue: Hue): [number, number, number] {
  return RGB[hue];
}

/** alpha in [0, 1] for an activation; NaN, negative and zero activations are uncoloured. */
export function alphaOf(act: number, max: number): number {
  if (!(act > 0) || !(max > 0)) return 0;
  return Math.min(1, act / max);
}

export function rgba(hue: Hue, alpha: number): string {
  const [r, g, b] = RGB[hue];
  return `rgba(${r}, ${g}, ${b}, ${(alpha * MAX_ALPHA).toFixed(3)})`;
}

export function hueForSlot(slot: number, chat: boolean): Hue {
  if (chat) return 'chat';
  return slot === 0 ? 'first' : 'second';
}
