import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLocatedJson, stringBoundaries, type LocatedJson } from '../../extension/engine/text/json-locator';
import { seededRandom as prng } from '../../extension/engine/random';


const PIECES = ['a', ' ', 'é', '"', '\\', '/', '\n', '\r\n', '\t', '\b', '\f', '\u0001', '\u2028', '😀', '\ud800', '\udfff', '中', '<start_of_turn>'];

function randomString(rand: () => number): string {
  let s = '';
  const n = Math.floor(rand() * 12);
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(rand() * PIECES.length)];
  return s;
}

/** A JSON string literal with escapes chosen at random (\uXXXX for anything, \/ for slashes). */
function randomLiteral(rand: () => number, s: string): string {
  let out = '"';
  for (const ch of s.split('')) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\' || c < 0x20 || rand() < 0.2) {
      const hex = c.toString(16).padStart(4, '0');
      out += rand() < 0.5 ? '\\u' + (rand() < 0.5 ? hex : hex.toUpperCase()) : JSON.stringify(ch).slice(1, -1);
    }
    else if (ch === '/' && rand() < 0.5) out += '\\/';
    else out += ch;
  }
  return out + '"';
}

function randomValue(rand: () => number, depth: number): [string, unknown] {
  const ws = () => [' ', '', '\n', '\t', '\r\n  '][Math.floor(rand() * 5)];
  const k = depth > 3 ? Math.floor(rand() * 3) : Math.floor(rand() * 5);
  if (k === 0) {
    const s = randomString(rand);
    return [randomLiteral(rand, s), s];
  }
  if (k === 1) {
    const n = Math.round((rand() - 0.5) * 1e6) / 100;
    return [String(n), n];
  }
  if (k === 2) {
    const v = [true, false, null][Math.floor(rand() * 3)];
    return [String(v), v];
  }
  const n = Math.floor(rand() * 4);
  if (k === 3) {
    const parts = Array.from({ length: n }, () => randomValue(rand, depth + 1));
    return ['[' + ws() + parts.map((p) => p[0]).join(ws() + ',' + ws()) + ws() + ']', parts.map((p) => p[1])];
  }
  const obj: Record<string, unknown> = {};
  const src: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = randomString(rand);
    const [vs, v] = randomValue(rand, depth + 1);
    obj[key] = v;
    src.push(randomLiteral(rand, key) + ws() + ':' + ws() + vs);
  }
  return ['{' + ws() + src.join(',' + ws()) + ws() + '}', obj];
}

function plain(v: LocatedJson, src: string): unknown {
  switch (v.type) {
    case 'object': return Object.fromEntries([...v.entries].map(([k, x]) => [k, plain(x, src)]));
    case 'array': return v.items.map((x) => plain(x, src));
    case 'string': return v.value;
    case 'number': return Number(src.slice(v.start, v.end));
    default: return JSON.parse(v.type);
  }
}

function strings(v: LocatedJson, out: LocatedJson[] = []): LocatedJson[] {
  if (v.type === 'string') out.push(v);
  if (v.type === 'array') v.items.forEach((x) => strings(x, out));
  if (v.type === 'object') [...v.entries.values()].forEach((x) => strings(x, out));
  return out;
}

test('random JSON: same values as JSON.parse, string positions and per-character source ranges exact', () => {
  const rand = prng(99);
  for (let n = 0; n < 1500; n++) {
    const [src] = randomValue(rand, 0);
    const located = parseLocatedJson(src);
    assert.ok(located, src);
    assert.deepEqual(plain(located, src), JSON.parse(src));
    for (const s of strings(located)) {
      if (s.type !== 'string') continue;
      assert.equal(JSON.parse(src.slice(s.start, s.end)), s.value);
      const b = stringBoundaries(src, s);
      assert.equal(b.length, s.value.length + 1);
      assert.equal(b[s.value.length], s.end - 1);
      for (let t = 0; t < 4 && s.value.length > 0; t++) {
        const i: number = Math.floor(rand() * s.value.length);
        const j: number = i + 1 + Math.floor(rand() * (s.value.length - i));
        assert.equal(JSON.parse('"' + src.slice(b[i], b[j]) + '"'), s.value.slice(i, j));
      }
    }
  }
});

test('invalid JSON gives undefined, never an exception', () => {
  const bad = ['', ' ', '{', '[1,]', '{"a":1,}', '{"a" 1}', '"\\x"', '"\\u12"', '"a\nb"', '01', '1.', '-', 'tru', 'nul', '[1] 2', "{'a':1}", '[' .repeat(100000), '{"a":' .repeat(1000), '"unterminated', '\u00a0[]'];
  for (const s of bad) assert.equal(parseLocatedJson(s), undefined, JSON.stringify(s.slice(0, 20)));
  const rand = prng(5);
  const [src] = randomValue(rand, 0);
  for (let cut = 0; cut < src.length; cut++) {
    const v = parseLocatedJson(src.slice(0, cut));
    let ok = true;
    try { JSON.parse(src.slice(0, cut)); } catch { ok = false; }
    assert.equal(v !== undefined, ok);
  }
});

test('a range inside a longer text, and a leading byte-order mark', () => {
  const text = 'xx {"k": "v\\n"} yy';
  const v = parseLocatedJson(text, 3, 15);
  assert.ok(v && v.type === 'object');
  const s = v.entries.get('k');
  assert.ok(s && s.type === 'string');
  assert.deepEqual([s.start, s.end, s.value], [9, 14, 'v\n']);
  assert.deepEqual([...stringBoundaries(text, s)], [10, 11, 13]);
  assert.equal(parseLocatedJson('\ufeff[1]')?.type, 'array');
});
