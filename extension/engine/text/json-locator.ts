/**
 * A strict JSON parser (RFC 8259) that remembers where every value sits in the source, so that characters
 * of a decoded string can be traced back to the document (through escapes such as \n, \" and \uXXXX).
 */

export type LocatedJson = JsonObject | JsonArray | JsonString | JsonScalar;

interface Located {
  /** UTF-16 offset of the value's first character in the source. */
  start: number;
  /** Offset just after the value. */
  end: number;
}
export interface JsonObject extends Located {
  type: 'object';
  /** Duplicate keys: the last one wins, as with JSON.parse. */
  entries: Map<string, LocatedJson>;
}
export interface JsonArray extends Located {
  type: 'array';
  items: LocatedJson[];
}
export interface JsonString extends Located {
  type: 'string';
  value: string;
}
export interface JsonScalar extends Located {
  type: 'number' | 'true' | 'false' | 'null';
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPED: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Invalid extends Error {}

/**
 * Parses text[from, to) as exactly one JSON value (whitespace around it allowed; a leading BOM too).
 * Returns undefined when it is not valid JSON; never throws.
 */
export function parseLocatedJson(text: string, from = 0, to = text.length): LocatedJson | undefined {
  let i = from;
  if (text.charCodeAt(i) === 0xfeff) i++;

  const skipSpace = () => {
    while (i < to) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      i++;
    }
  };

  const parseString = (): JsonString => {
    const start = i++;
    const parts: string[] = [];
    let runStart = i;
    while (true) {
      if (i >= to) throw new Invalid();
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw new Invalid();
      if (c !== 0x5c) {
        i++;
        continue;
      }
      parts.push(text.slice(runStart, i));
      const e = text[i + 1];
      if (e === 'u') {
        const hex = text.slice(i + 2, i + 6);
        if (i + 6 > to || !/^[0-9a-fA-F]{4}$/.test(hex)) throw new Invalid();
        parts.push(String.fromCharCode(parseInt(hex, 16)));
        i += 6;
      } else if (e !== undefined && i + 1 < to && e in ESCAPED) {
        parts.push(ESCAPED[e]);
        i += 2;
      } else {
        throw new Invalid();
      }
      runStart = i;
    }
    parts.push(text.slice(runStart, i));
    i++;
    return { type: 'string', start, end: i, value: parts.join('') };
  };

  const parseValue = (depth: number): LocatedJson => {
    if (depth > MAX_DEPTH) throw new Invalid();
    skipSpace();
    if (i >= to) throw new Invalid();
    const start = i;
    const c = text[i];
    if (c === '"') return parseString();
    if (c === '{') {
      i++;
      const entries = new Map<string, LocatedJson>();
      skipSpace();
      if (text[i] === '}' && i < to) {
        i++;
        return { type: 'object', start, end: i, entries };
      }
      while (true) {
        skipSpace();
        if (i >= to || text[i] !== '"') throw new Invalid();
        const key = parseString().value;
        skipSpace();
        if (i >= to || text[i] !== ':') throw new Invalid();
        i++;
        entries.set(key, parseValue(depth + 1));
        skipSpace();
        if (i < to && text[i] === ',') {
          i++;
          continue;
        }
        if (i < to && text[i] === '}') break;
        throw new Invalid();
      }
      i++;
      return { type: 'object', start, end: i, entries };
    }
    if (c === '[') {
      i++;
      const items: LocatedJson[] = [];
      skipSpace();
      if (text[i] === ']' && i < to) {
        i++;
        return { type: 'array', start, end: i, items };
      }
      while (true) {
        items.push(parseValue(depth + 1));
        skipSpace();
        if (i < to && text[i] === ',') {
          i++;
          continue;
        }
        if (i < to && text[i] === ']') break;
        throw new Invalid();
      }
      i++;
      return { type: 'array', start, end: i, items };
    }
    for (const word of ['true', 'false', 'null'] as const) {
      if (text.startsWith(word, i) && i + word.length <= to) {
        i += word.length;
        return { type: word, start, end: i };
      }
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null || m[0].length === 0 || i + m[0].length > to) throw new Invalid();
    i += m[0].length;
    return { type: 'number', start, end: i };
  };

  try {
    const value = parseValue(0);
    skipSpace();
    return i === to ? value : undefined;
  } catch (e) {
    if (e instanceof Invalid) return undefined;
    throw e;
  }
}

/**
 * Source offsets of the boundaries between the decoded code units of a string literal: entry j is where
 * decoded unit j starts in the source, entry value.length is the closing quote. So decoded units [a, b)
 * come from source [result[a], result[b]).
 */
export function stringBoundaries(text: string, node: JsonString): Int32Array {
  const out = new Int32Array(node.value.length + 1);
  let j = 0;
  let i = node.start + 1;
  while (j < node.value.length) {
    out[j++] = i;
    i += text.charCodeAt(i) !== 0x5c ? 1 : text[i + 1] === 'u' ? 6 : 2;
  }
  out[j] = i;
  return out;
}
