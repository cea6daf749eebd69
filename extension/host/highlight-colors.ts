/**
 * The editor's highlight colours as theme colours (package.json contributes.colors): one colour per hue
 * and alpha bucket, so a theme can restyle each. The defaults are the hue with alpha = bucket / BUCKETS
 * times a maximum; high-contrast themes get a stronger maximum. No vscode import: the unit test checks
 * package.json against these.
 */
import { BUCKETS } from './decoration-buckets';

export type DecorationHue = 'first' | 'second' | 'chat';
type Rgb = [number, number, number];

const HUES: Record<DecorationHue, { light: Rgb; dark: Rgb; name: string }> = {
  first: { light: [220, 30, 30], dark: [255, 70, 70], name: 'First' },
  second: { light: [30, 90, 230], dark: [80, 140, 255], name: 'Second' },
  chat: { light: [225, 120, 0], dark: [255, 160, 40], name: 'Chat' },
};
export const DECORATION_HUES = Object.keys(HUES) as DecorationHue[];
const MAX_ALPHA = 0.7;
const MAX_ALPHA_HIGH_CONTRAST = 0.9;

/** `latentDiff.highlightFirst3`: the colour id for a hue and bucket (1..BUCKETS). */
export function highlightColorId(hue: DecorationHue, bucket: number): string {
  return `latentDiff.highlight${HUES[hue].name}${bucket}`;
}

function hex(c: Rgb, alpha: number): string {
  return `#${[...c, Math.round(alpha * 255)].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

/** The default per theme kind, as contributes.colors wants it. */
export function highlightColorDefaults(hue: DecorationHue, bucket: number): { light: string; dark: string; highContrast: string; highContrastLight: string } {
  const { light, dark } = HUES[hue];
  const f = bucket / BUCKETS;
  return { light: hex(light, f * MAX_ALPHA), dark: hex(dark, f * MAX_ALPHA), highContrast: hex(dark, f * MAX_ALPHA_HIGH_CONTRAST), highContrastLight: hex(light, f * MAX_ALPHA_HIGH_CONTRAST) };
}

/** Every highlight colour id with its defaults, in package.json's order. */
export function highlightColors(): { id: string; hue: DecorationHue; bucket: number; defaults: ReturnType<typeof highlightColorDefaults> }[] {
  return DECORATION_HUES.flatMap((hue) => Array.from({ length: BUCKETS }, (_, i) => ({ id: highlightColorId(hue, i + 1), hue, bucket: i + 1, defaults: highlightColorDefaults(hue, i + 1) })));
}
