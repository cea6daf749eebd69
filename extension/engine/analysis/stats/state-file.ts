/**
 * A small binary container for job state (checkpoints, shard partials): "LDSTATE1", a u32 header length, a
 * JSON header {meta, arrays: {name: [dtype, offset, length]}}, then the arrays, each 8-byte aligned.
 * Written to a temporary file and renamed, so a reader never sees half a file.
 */
import { closeSync, openSync, readFileSync, renameSync, writeSync, fsyncSync } from 'node:fs';
import { LatentDiffError } from '../../errors';

type Typed = Float64Array | Float32Array | Int32Array | Uint32Array | Uint8Array;
const CTORS = { f64: Float64Array, f32: Float32Array, i32: Int32Array, u32: Uint32Array, u8: Uint8Array } as const;
type Dtype = keyof typeof CTORS;
const MAGIC = 'LDSTATE1';

function dtypeOf(a: Typed): Dtype {
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Uint32Array) return 'u32';
  return 'u8';
}

export function writeStateFile(path: string, meta: unknown, arrays: Record<string, Typed>): void {
  const table: Record<string, [Dtype, number, number]> = {};
  let offset = 0;
  for (const [name, a] of Object.entries(arrays)) {
    table[name] = [dtypeOf(a), offset, a.length];
    offset += Math.ceil(a.byteLength / 8) * 8;
  }
  let json = JSON.stringify({ meta, arrays: table });
  json += ' '.repeat((8 - ((MAGIC.length + 4 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(MAGIC.length + 4);
  head.write(MAGIC, 0, 'latin1');
  const jsonBuf = Buffer.from(json, 'utf8');
  head.writeUInt32LE(jsonBuf.length, MAGIC.length);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, jsonBuf);
    const pad = Buffer.alloc(8);
    for (const a of Object.values(arrays)) {
      const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let o = 0; o < bytes.length; o += 1 << 28) writeSync(fd, bytes.subarray(o, Math.min(bytes.length, o + (1 << 28))));
      const rest = (8 - (a.byteLength % 8)) % 8;
      if (rest) writeSync(fd, pad, 0, rest);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export interface StateFile {
  meta: unknown;
  /** An array; with `length`, one of exactly that many elements. */
  get<K extends Dtype>(name: string, dtype: K, length?: number): InstanceType<(typeof CTORS)[K]>;
  /** A finite number in the metadata, at the path of keys given. */
  num(...keys: string[]): number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function readStateFile(path: string): StateFile {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new LatentDiffError(path, `cannot read state file (${(e as NodeJS.ErrnoException).code ?? e})`, 'not-found');
  }
  const bad = (why: string): never => {
    throw new LatentDiffError(path, `not a valid Latent Diff state file: ${why}`, 'bad-state');
  };
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) bad('wrong magic bytes');
  const jsonLen = buf.readUInt32LE(MAGIC.length);
  const dataStart = MAGIC.length + 4 + jsonLen;
  if (dataStart > buf.length) bad('truncated header');
  let header: { meta: unknown; arrays: Record<string, [Dtype, number, number]> };
  try {
    header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, dataStart));
  } catch {
    return bad('header is not JSON');
  }
  if (!isObject(header) || !isObject(header.arrays)) bad('header has no array table');
  return {
    meta: header.meta,
    get(name, dtype, expected) {
      const entry = Object.hasOwn(header.arrays, name) ? header.arrays[name] : undefined;
      if (!Array.isArray(entry) || entry[0] !== dtype || !isCount(entry[1]) || !isCount(entry[2])) return bad(`array "${name}" missing or not ${dtype}`);
      const [, offset, length] = entry;
      if (expected !== undefined && length !== expected) bad(`array "${name}" has ${length} values, expected ${expected}`);
      const C = CTORS[dtype];
      const bytes = length * C.BYTES_PER_ELEMENT;
      if (dataStart + offset + bytes > buf.length) bad(`array "${name}" runs past the end (truncated file)`);
      const out = new C(length);
      new Uint8Array(out.buffer).set(buf.subarray(dataStart + offset, dataStart + offset + bytes));
      return out as InstanceType<(typeof CTORS)[typeof dtype]>;
    },
    num(...keys) {
      let v: unknown = header.meta;
      for (const k of keys) v = isObject(v) ? v[k] : undefined;
      return typeof v === 'number' && Number.isFinite(v) ? v : bad(`"${keys.join('.')}" is missing or not a number`);
    },
  };
}
