/**
 * Editor highlighting: BUCKETS decoration types per hue (first latent, second latent, chat-specificity),
 * created once and reused, each coloured by its theme colour (highlight-colors.ts). Applying a highlight
 * sets every type's ranges (empty lists clear the rest).
 */
import * as vscode from 'vscode';
import { BUCKETS, bucketRanges } from './decoration-buckets';
import { DECORATION_HUES, highlightColorId, type DecorationHue } from './highlight-colors';
import type { HighlightData } from '../presentation/highlight-series';
import type { TokenInfo } from '../engine/types';

/** [startLine, startChar, endLine, endChar] per decorated range: what the e2e test hook reports. */
export type RangeTuple = [number, number, number, number];

export class EditorDecorations implements vscode.Disposable {
  private readonly types = new Map<DecorationHue, vscode.TextEditorDecorationType[]>();
  /** The last ranges applied, per `${hue}.${bucket}` key, for the test hook. */
  private applied = new Map<string, RangeTuple[]>();

  constructor() {
    for (const hue of DECORATION_HUES) {
      this.types.set(hue, Array.from({ length: BUCKETS }, (_, i) => vscode.window.createTextEditorDecorationType({
        backgroundColor: new vscode.ThemeColor(highlightColorId(hue, i + 1)),
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
