/**
 * Turns a document into the token sequence the models see, with every token placed in the document
 * (SPEC 3, method.md 8).
 *
 * - Plain text: <bos> (not in the document) + the text's tokens.
 * - Turns written out (`<start_of_turn>user\n...`): tokenised as is, with <bos> prepended unless the text
 *   starts with `<bos>`.
 * - JSON / JSONL chats: each conversation is rendered with the chat template and tokenised on its own; the
 *   conversations' tokens follow each other (every one starts with its own <bos>). Tokens of message
 *   contents point at the characters inside the JSON string literals (escapes included); template text that
 *   is not in the document gets start/end null.
 *
 * Template ("ctrl") tokens are those lying wholly inside `<start_of_turn>{role}\n` or `<end_of_turn>\n`
 * outside message contents: 5 per turn with Gemma. BOS is never one. Plain documents have none.
 */
import type { TokenInfo, TokenizedDocument } from '../types';
import { chatTemplateFor, type ChatTemplate } from './chat-template';
import { detectJsonChat, hasLiteralTurns, type LocatedMessage } from './chat-detect';
import { stringBoundaries } from './json-locator';
import type { GemmaTokenizer, TokenSpans } from './tokenizer';

export interface TokenizeDocumentOptions {
  /** 'auto' (default) detects chats; 'plain' never does; 'chat' renders JSON chats and otherwise reads turns as written. */
  mode?: 'auto' | 'plain' | 'chat';
  /** The chat template (for a bundle: bundleChatTemplate); default: the tokenizer config's, else the built-in Gemma 2 one. */
  template?: ChatTemplate;
  /** Names the document in errors (a system role, say). */
  docName?: string;
}

const BOS_TEXT = '<bos>';
const CTRL = /<start_of_turn>[A-Za-z][\w-]*\r?\n|<end_of_turn>(?:\r?\n)?/g;

/** A message content's place in a rendering [a, b), and how to reach the document from there. */
interface ContentRange {
  a: number;
  b: number;
  /** Decoded content index of rendering offset `a` (leading whitespace trimmed away by the template). */
  skip: number;
  /** Document offsets of the content's decoded code-unit boundaries. */
  boundaries: Int32Array;
}

export function tokenizeDocument(tok: GemmaTokenizer, text: string, opts: TokenizeDocumentOptions = {}): TokenizedDocument {
  const mode = opts.mode ?? 'auto';
  if (mode !== 'plain') {
    const chat = detectJsonChat(text);
    if (chat !== undefined) {
      const template = opts.template ?? chatTemplateFor(tok.chatTemplate, `chat template of ${tok.file}`);
      const tokens = chat.conversations.flatMap((c) => tokenizeConversation(tok, text, c, template, opts.docName));
      return { kind: 'chat', tokens };
    }
    if (mode === 'chat' || hasLiteralTurns(text)) {
      const addBos = !text.startsWith(BOS_TEXT);
      const enc = tok.encodeWithSpans(text, { addBos });
      const ctrl = ctrlRanges(text, []);
      return { kind: 'chat', tokens: toTokenInfos(tok, enc, addBos, ctrl, (s, e) => [s, e]) };
    }
  }
  const enc = tok.encodeWithSpans(text, { addBos: true });
  return { kind: 'plain', tokens: toTokenInfos(tok, enc, true, [], (s, e) => [s, e]) };
}

function tokenizeConversation(
  tok: GemmaTokenizer,
  doc: string,
  messages: LocatedMessage[],
  template: ChatTemplate,
  docName: string | undefined,
): TokenInfo[] {
  const rendered = template.render(messages, { docName });
  const placed = placeContents(template, messages, rendered, docName);
  const ranges: ContentRange[] = [];
  placed.forEach((p, i) => {
    if (p !== undefined) ranges.push({ ...p, boundaries: stringBoundaries(doc, messages[i].contentNode) });
  });
  const addBos = !rendered.startsWith(BOS_TEXT);
  const enc = tok.encodeWithSpans(rendered, { addBos });
  const ctrl = ctrlRanges(rendered, ranges);
  let r = 0;
  return toTokenInfos(tok, enc, addBos, ctrl, (s, e) => {
    while (r < ranges.length && ranges[r].b < s) r++;
    const range = ranges[r];
    if (range === undefined) return [null, null];
    const inside = s === e ? range.a < s && s <= range.b : s < range.b && e > range.a;
    if (!inside) return [null, null];
    const at = (x: number) => range.boundaries[x - range.a + range.skip];
    return [at(Math.max(s, range.a)), at(Math.min(e, range.b))];
  });
}

/**
 * Where each message's content lies in the rendering. The template is rendered a second time with a
 * placeholder per content; when putting the trimmed (or, failing that, untrimmed) contents back in reproduces
 * the real rendering exactly, the placeholders' positions are the contents' positions. A template that does
 * something else with contents falls back to searching the trimmed contents in order.
 */
function placeContents(
  template: ChatTemplate,
  messages: LocatedMessage[],
  rendered: string,
  docName: string | undefined,
): ({ a: number; b: number; skip: number } | undefined)[] {
  const placeholder = (i: number) => `\ue000${i}\ue001`;
  const withPlaceholders = template.render(
    messages.map((m, i) => ({ role: m.role, content: placeholder(i) })),
    { docName },
  );
  const leading = messages.map((m) => m.content.length - m.content.trimStart().length);
  for (const trimmed of [true, false]) {
    const out: string[] = [];
    let length = 0;
    let from = 0;
    const found: { a: number; b: number; skip: number }[] = [];
    for (let i = 0; i < messages.length; i++) {
      const at = withPlaceholders.indexOf(placeholder(i), from);
      if (at < 0) break;
      const content = trimmed ? messages[i].content.trim() : messages[i].content;
      const before = withPlaceholders.slice(from, at);
      out.push(before, content);
      length += before.length;
      found.push({ a: length, b: length + content.length, skip: trimmed ? leading[i] : 0 });
      length += content.length;
      from = at + placeholder(i).length;
    }
    out.push(withPlaceholders.slice(from));
    if (found.length === messages.length && out.join('') === rendered) return found;
  }
  let cursor = 0;
  return messages.map((m, i) => {
    const content = m.content.trim();
    const at = content.length > 0 ? rendered.indexOf(content, cursor) : -1;
    if (at < 0) return undefined;
    cursor = at + content.length;
    return { a: at, b: cursor, skip: leading[i] };
  });
}

/** [start, end) of the template's turn markers in `text`, leaving out any that touch a message content. */
function ctrlRanges(text: string, contents: readonly { a: number; b: number }[]): [number, number][] {
  const out: [number, number][] = [];
  let c = 0;
  for (const m of text.matchAll(CTRL)) {
    const s = m.index;
    const e = s + m[0].length;
    while (c < contents.length && contents[c].b <= s) c++;
    if (c === contents.length || e <= contents[c].a) out.push([s, e]);
  }
  return out;
}

function toTokenInfos(
  tok: GemmaTokenizer,
  enc: TokenSpans,
  addedBos: boolean,
  ctrl: readonly [number, number][],
  place: (start: number, end: number) => [number | null, number | null],
): TokenInfo[] {
  let c = 0;
  return enc.ids.map((id, i) => {
    const [s, e] = enc.spans[i];
    const added = addedBos && i === 0;
    while (c < ctrl.length && ctrl[c][1] < e) c++;
    const template = !added && c < ctrl.length && ctrl[c][0] <= s && e <= ctrl[c][1] && e > s;
    const [start, end] = added ? [null, null] : place(s, e);
    return { id, text: enc.texts[i], start, end, template, special: tok.isSpecial(id) };
  });
}
