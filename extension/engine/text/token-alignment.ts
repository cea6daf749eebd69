/**
 * Aligns the token strings of a Gemma-style tokenizer back onto the UTF-16 text they came from.
 *
 * The tokenizer's only normalisation is " " -> "▁" (one code unit for one), added tokens are matched on the
 * raw text, and characters missing from the vocabulary fall back to one `<0xNN>` token per UTF-8 byte. So a
 * token covers either exactly its own length of text (with "▁" standing for " " or a literal "▁"), or, for a
 * run of byte tokens, the characters whose UTF-8 encoding they spell. A lone surrogate is encoded by the
 * tokenizer as U+FFFD (EF BF BD); its three byte tokens cover that one code unit.
 *
 * Byte-fallback convention: the FIRST byte token of a character gets the character's whole span; the
 * remaining byte tokens of that character get the zero-length span [end, end]. Spans therefore always tile
 * the text: contiguous, non-overlapping, and their concatenation is the text.
 */

const SPACE = 0x20;
const METASPACE = 0x2581;

/** Thrown when a token sequence cannot be laid onto the text (a tokenizer this code does not model). */
export class AlignmentError extends Error {
  constructor(readonly offset: number, readonly token: string) {
    super(`token ${JSON.stringify(token)} does not match the text at offset ${offset}`);
    this.name = 'AlignmentError';
  }
}

/**
 * UTF-8 bytes of the code point at `text[p]` as the tokenizer sees it, written into `out`; returns
 * [byte count, UTF-16 length]. A lone surrogate counts as U+FFFD.
 */
function utf8At(text: string, p: number, out: Uint8Array): [number, number] {
  let cp = text.charCodeAt(p);
  let units = 1;
  if (cp >= 0xd800 && cp <= 0xdbff && p + 1 < text.length) {
    const lo = text.charCodeAt(p + 1);
    if (lo >= 0xdc00 && lo <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      units = 2;
    }
  }
  if (units === 1 && cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
  if (cp < 0x80) {
    out[0] = cp;
    return [1, units];
  }
  if (cp < 0x800) {
    out[0] = 0xc0 | (cp >> 6);
    out[1] = 0x80 | (cp & 0x3f);
    return [2, units];
  }
  if (cp < 0x10000) {
    out[0] = 0xe0 | (cp >> 12);
    out[1] = 0x80 | ((cp >> 6) & 0x3f);
    out[2] = 0x80 | (cp & 0x3f);
    return [3, units];
  }
  out[0] = 0xf0 | (cp >> 18);
  out[1] = 0x80 | ((cp >> 12) & 0x3f);
  out[2] = 0x80 | ((cp >> 6) & 0x3f);
  out[3] = 0x80 | (cp & 0x3f);
  return [4, units];
}

/** Whether `token` equals text[p .. p + token.length) once "▁" may stand for a space. */
function matchesNormalized(text: string, p: number, token: string): boolean {
  if (p + token.length > text.length) return false;
  for (let k = 0; k < token.length; k++) {
    const t = token.charCodeAt(k);
    const c = text.charCodeAt(p + k);
    if (t !== c && !(t === METASPACE && c === SPACE)) return false;
  }
  return true;
}

/**
 * Start/end UTF-16 offsets of every token. `byteValue(i)` is the byte a byte-fallback token stands for, or
 * -1 for any other token. Throws AlignmentError when the tokens do not spell the text.
 */
export function alignTokens(text: string, tokens: readonly string[], byteValue: (i: number) => number): Int32Array {
  const offsets = new Int32Array(tokens.length * 2);
  const bytes = new Uint8Array(4);
  let p = 0;
  let pendingBytes = 0;
  let byteCount = 0;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const b = byteValue(i);
    const start = p;
    if (pendingBytes > 0) {
      if (b !== bytes[byteCount - pendingBytes]) throw new AlignmentError(p, token);
      pendingBytes--;
    } else if (text.startsWith(token, p) || (b < 0 && matchesNormalized(text, p, token))) {
      p += token.length;
    } else if (b >= 0 && p < text.length) {
      const [n, units] = utf8At(text, p, bytes);
      if (b !== bytes[0]) throw new AlignmentError(p, token);
      byteCount = n;
      pendingBytes = n - 1;
      p += units;
    } else {
      throw new AlignmentError(p, token);
    }
    offsets[2 * i] = start;
    offsets[2 * i + 1] = p;
  }
  if (pendingBytes > 0 || p !== text.length) throw new AlignmentError(p, '');
  return offsets;
}
