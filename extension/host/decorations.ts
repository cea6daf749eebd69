/**
 * Editor highlighting: BUCKETS decoration types per hue (first latent, second latent, chat-specificity),
 * created once and reused; light and dark themes get their own colour variants. Applying a highlight sets
 * every type's ranges (empty lists clear the rest).
 */
import * as vscode from 'vscode';
import { BUCKETS, bucketRanges } from './decoration-buckets';
import type { HighlightData } from '../presentation/highlight-series';
import type { TokenInfo } from '../engine/types';

export type DecorationHue = 'first' | 'second' | 'chat';
const HUES: Record<DecorationHue, { light: [number, number, number]; dark: [number, number, number] }> = {
  first: { light: [220, 30, 30], dark: [255, 70, 70] },
  second: { light: [30, 90, 230], dark: [80, 140, 255] },
  chat: { light: [225, 120, 0], dark: [255, 160, 40] },
};
const MAX_ALPHA = 0.7;

/** [startLine, startChar, endLine, endChar] per decorated range: what the e2e test hook reports. */
export type RangeTuple = [number, number, number, number];

export class EditorDecorations implements vscode.Disposable {
  private readonly types = new Map<DecorationHue, vscode.TextEditorDecorationType[]>();
  /** The last ranges applied, per `${hue}.${bucket}` key, for the test hook. */
  private applied = new Map<string, RangeTuple[]>();

  constructor() {
    for (const hue of Object.keys(HUES) as DecorationHue[]) {
      const { light, dark } = HUES[hue];
      const rgba = (c: number[], b: number) => `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${((b / BUCKETS) * MAX_ALPHA).toFixed(3)})`;
      this.types.set(hue, Array.from({ length: BUCKETS }, (_, i) => vscode.window.createTextEditorDecorationType({
        light: { backgroundColor: rgba(light, i + 1) },
        dark: { backgroundColor: rgba(dark, i + 1) },
        borderRadius: '2px',
        rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
      })));
    }
  }

  /** Colours `editor` for the highlight; `base` is the document offset the analysed text starts at. */
  apply(editor: vscode.TextEditor, tokens: readonly TokenInfo[], highlight: HighlightData, base: number): void {
    const doc = editor.document;
    const wanted = new Map<DecorationHue, [number, number][][]>();
    highlight.series.forEach((s, slot) => {
      const hue: DecorationHue = highlight.mode === 'chat-specificity' ? 'chat' : slot === 0 ? 'first' : 'second';
      wanted.set(hue, bucketRanges(tokens, s.acts, s.max, base));
    });
    this.applied = new Map();
    for (const [hue, types] of this.types) {
      const buckets = wanted.get(hue);
      types.forEach((type, b) => {
        const ranges = (buckets?.[b] ?? []).map(([s, e]) => new vscode.Range(doc.positionAt(s), doc.positionAt(e)));
        editor.setDecorations(type, ranges);
        if (ranges.length) this.applied.set(`${hue}.${b + 1}`, ranges.map((r) => [r.start.line, r.start.character, r.end.line, r.end.character]));
      });
    }
  }

  clear(editor: vscode.TextEditor): void {
    for (const types of this.types.values()) for (const t of types) editor.setDecorations(t, []);
    this.applied = new Map();
  }

  /** Decorated ranges per decoration type of the last apply (keys `first.3`, `chat.8`, ...). */
  appliedRanges(): Record<string, RangeTuple[]> {
    return Object.fromEntries(this.applied);
  }

  dispose(): void {
    for (const types of this.types.values()) for (const t of types) t.dispose();
    this.types.clear();
  }
}
