/**
 * JSON.parse keeps the last of two equal keys in an object without a word. Files where a key names a tensor
 * or a latent must refuse that instead: this finds the first object key that appears twice.
 */

export interface DuplicateKey {
  key: string;
  /** The keys of the objects around it, outermost first. */
  path: string[];
}

interface Frame {
  keys: Set<string> | undefined;
  key: string | undefined;
  expectKey: boolean;
}

/** The first duplicate object key in `text`, which must already be known to be valid JSON. */
export function findDuplicateKey(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
      const top = stack.at(-1);
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (top.keys.has(key)) return { key, path: stack.slice(0, -1).flatMap((f) => (f.keys ? [f.key!] : [])) };
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({ keys: c === 0x7b ? new Set() : undefined, key: undefined, expectKey: c === 0x7b });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      const top = stack.at(-1);
      if (top?.keys) top.expectKey = true;
    }
  }
  return undefined;
}
