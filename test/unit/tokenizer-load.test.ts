import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';

const dir = mkdtempSync(join(tmpdir(), 'ld-tokenizer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A tiny tokenizer.json in Gemma's layout. */
function tinyTokenizer(normalizer: unknown): unknown {
  const vocab: Record<string, number> = { '<pad>': 0, '<eos>': 1, '<bos>': 2, '<unk>': 3, a: 4, '\u2581': 5, '\u2581a': 6 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 7 + b;
  return {
    version: '1.0',
    added_tokens: ['<pad>', '<eos>', '<bos>', '<unk>'].map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer,
    pre_tokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<bos>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [],
      special_tokens: { '<bos>': { id: '<bos>', ids: [2], tokens: ['<bos>'] } },
    },
    decoder: { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { String: '\u2581' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }] },
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', fuse_unk: true, byte_fallback: true, ignore_merges: false, vocab, merges: [['\u2581', 'a']] },
  };
}

function write(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

function assertLatentDiffError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LatentDiffError, `a LatentDiffError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.match(e.problem, problem);
    return true;
  });
}

test('a missing tokenizer file is named', () => {
  const path = join(dir, 'absent.json');
  assertLatentDiffError(() => GemmaTokenizer.fromFiles(path), path, /not found/);
});

test('a tokenizer file that is not JSON is named', () => {
  const path = write('broken.json', '{"model": ');
  assertLatentDiffError(() => GemmaTokenizer.fromFiles(path), path, /not valid JSON/);
});

test('JSON that is not a tokenizer is named', () => {
  const path = write('other.json', '{"weights": [1, 2, 3]}');
  assertLatentDiffError(() => GemmaTokenizer.fromFiles(path), path, /not a Gemma-style tokenizer.*model/);
});

test('a normaliser other than " " -> "▁" is refused (spans would not be exact)', () => {
  const path = write('nfkc.json', JSON.stringify(tinyTokenizer({ type: 'NFKC' })));
  assertLatentDiffError(() => GemmaTokenizer.fromFiles(path), path, /normalizer/);
});

test('a missing tokenizer config given explicitly is named', () => {
  const path = write('tiny.json', JSON.stringify(tinyTokenizer({ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' })));
  const config = join(dir, 'no-config.json');
  assertLatentDiffError(() => GemmaTokenizer.fromFiles(path, config), config, /not found/);
});

test('a tiny Gemma-layout tokenizer loads and places byte tokens', () => {
  const path = write('tiny2.json', JSON.stringify(tinyTokenizer({ type: 'Replace', pattern: { String: ' ' }, content: '\u2581' })));
  const tok = GemmaTokenizer.fromFiles(path);
  const got = tok.encodeWithSpans('a aé', { addBos: true });
  assert.deepEqual(got.ids, [2, 4, 6, 7 + 0xc3, 7 + 0xa9]);
  assert.deepEqual(got.spans, [[0, 0], [0, 1], [1, 3], [3, 4], [4, 4]]);
  assert.equal(tok.decode(got.ids, { skipSpecial: true }), 'a aé');
});
