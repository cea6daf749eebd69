/**
 * Token colours, as in the paper's dashboards: background = hue with alpha = activation / max, clamped.
 * One hue per highlighted latent (up to two), a third for the chat-specificity sum. Inside VS Code the hue
 * is the theme's colour for the strongest editor bucket (package.json contributes.colors, e.g.
 * latentDiff.highlightFirst8), so the panels follow the theme like the editor; elsewhere (the exported
 * page) the built-in hues.
 */
export type Hue = 'first' | 'second' | 'chat';
type Rgb = [number, number, number];

const RGB: Record<Hue, Rgb> = {
  first: [230, 40, 40],
  second: [40, 110, 240],
  chat: [235, 140, 0],
};
const THEME_VAR: Record<Hue, string> = {
  first: '--vscode-latentDiff-highlightFirst8',
  second: '--vscode-latentDiff-highlightSecond8',
  chat: '--vscode-latentDiff-highlightChat8',
};

/** The theme's hues, read once per theme (VS Code sets its colours as style variables on <html>). */
let themed: Partial<Record<Hue, Rgb>> = {};
let watching = false;

export function parseHexRgb(value: string): Rgb | undefined {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})(?:[0-9a-f]{2})?$/i.exec(value.trim());
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : undefined;
}

function themeRgb(hue: Hue): Rgb {
  if (typeof document === 'undefined') return RGB[hue];
  if (!watching) {
    watching = true;
    new MutationObserver(() => (themed = {})).observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
  }
  return (themed[hue] ??= parseHexRgb(getComputedStyle(document.documentElement).getPropertyValue(THEME_VAR[hue])) ?? RGB[hue]);
}

/** The highest alpha a token gets, so text stays readable on every theme. */
const MAX_ALPHA = 0.85;

export function hueRgb(hue: Hue): Rgb {
  return themeRgb(hue);
}

/** alpha in [0, 1] for an activation; NaN, negative and zero activations are uncoloured. */
export function alphaOf(act: number, max: number): number {
  if (!(act > 0) || !(max > 0)) return 0;
  return Math.min(1, act / max);
}

export function rgba(hue: Hue, alpha: number): string {
  const [r, g, b] = themeRgb(hue);
  return `rgba(${r}, ${g}, ${b}, ${(alpha * MAX_ALPHA).toFixed(3)})`;
}

export function hueForSlot(slot: number, chat: boolean): Hue {
  if (chat) return 'chat';
  return slot === 0 ? 'first' : 'second';
}
