import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { LatentDiffError } from '../errors';
import { findDuplicateKey } from '../json-duplicates';
import { checkRegularFile, jsonSyntaxProblem } from '../input-files';

/** safetensors dtypes we read. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor inside a .safetensors file, located by absolute byte offset (what ONNX external data needs). */
export interface TensorRef {
  file: string;
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute offset of the first byte in the file: 8 + header length + data_offsets[0]. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsFile {
  path: string;
  fileSize: number;
  /** Byte length of the JSON header (the data section starts at 8 + headerLength). */
  headerLength: number;
  tensors: Map<string, TensorRef>;
  metadata: Record<string, string>;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** Reads and validates the header of a .safetensors file; never reads tensor data. */
export function readSafetensorsHeader(path: string): SafetensorsFile {
  checkRegularFile(path, 'safetensors file');
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new LatentDiffError(path, `cannot open safetensors file (${(e as NodeJS.ErrnoException).code ?? e})`, 'not-found');
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new LatentDiffError(path, `truncated safetensors file: ${fileSize} bytes, shorter than the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const rawHeaderLen = lenBuf.readBigUInt64LE(0);
    const headerLen = Number(rawHeaderLen);
    if (headerLen > MAX_HEADER_BYTES) throw new LatentDiffError(path, `safetensors header length ${rawHeaderLen} is implausible (over ${MAX_HEADER_BYTES} bytes): not a safetensors file?`);
    if (8 + headerLen > fileSize) throw new LatentDiffError(path, `truncated safetensors file: header claims ${headerLen} bytes but the file has only ${fileSize - 8} after the length`);
    const headerBuf = Buffer.alloc(headerLen);
    readSync(fd, headerBuf, 0, headerLen, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBuf.toString('utf8'));
    } catch (e) {
      throw new LatentDiffError(path, `safetensors header is not valid JSON (${jsonSyntaxProblem(e, headerBuf.toString('utf8'))})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new LatentDiffError(path, 'safetensors header is not a JSON object');
    const duplicate = findDuplicateKey(headerBuf.toString('utf8'));
    if (duplicate) throw new LatentDiffError(path, `the safetensors header lists ${duplicate.path.length ? `"${duplicate.path.join('.')}.${duplicate.key}"` : `tensor "${duplicate.key}"`} twice`, 'duplicate-key');
    const dataStart = 8 + headerLen;
    const dataSize = fileSize - dataStart;
    const tensors = new Map<string, TensorRef>();
    let metadata: Record<string, string> = {};
    const ranges: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = entry?.dtype as SafetensorsDtype;
      if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new LatentDiffError(path, `tensor "${name}" has unsupported dtype ${JSON.stringify(entry?.dtype)}`);
      const shape = entry.shape;
      if (!Array.isArray(shape) || !shape.every((s) => Number.isInteger(s) && s >= 0)) throw new LatentDiffError(path, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
      const offs = entry.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
        throw new LatentDiffError(path, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
      }
      const [begin, end] = offs as [number, number];
      if (end > dataSize) throw new LatentDiffError(path, `tensor "${name}" data_offsets [${begin}, ${end}] exceed the file's data section of ${dataSize} bytes (truncated or corrupt file)`);
      const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
      if (end - begin !== expected) throw new LatentDiffError(path, `tensor "${name}" occupies ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${expected}`);
      ranges.push([begin, end, name]);
      tensors.set(name, { file: path, name, dtype, shape: shape as number[], offset: dataStart + begin, byteLength: end - begin });
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
      if (ranges[i][0] < ranges[i - 1][1]) throw new LatentDiffError(path, `tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap in the data section`);
    }
    return { path, fileSize, headerLength: headerLen, tensors, metadata };
  } finally {
    closeSync(fd);
  }
}

export function getTensor(file: SafetensorsFile, name: string): TensorRef {
  const t = file.tensors.get(name);
  if (!t) throw new LatentDiffError(file.path, `missing tensor "${name}" (has: ${[...file.tensors.keys()].slice(0, 12).join(', ')})`, 'missing-tensor');
  return t;
}

export function readTensorBytes(ref: TensorRef, byteOffset = 0, byteLength = ref.byteLength - byteOffset): Buffer {
  const fd = openSync(ref.file, 'r');
  try {
    const buf = Buffer.alloc(byteLength);
    let done = 0;
    while (done < byteLength) {
      const n = readSync(fd, buf, done, Math.min(byteLength - done, 1 << 30), ref.offset + byteOffset + done);
      if (n === 0) throw new LatentDiffError(ref.file, `unexpected end of file while reading tensor "${ref.name}"`);
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** Reads a whole tensor (or a contiguous element range of it) as float32, converting from F16/BF16/F64. */
export function readTensorF32(ref: TensorRef, startElement = 0, count?: number): Float32Array {
  const size = DTYPE_BYTES[ref.dtype];
  const total = ref.byteLength / size;
  const n = count ?? total - startElement;
  if (startElement < 0 || startElement + n > total) throw new LatentDiffError(ref.file, `element range ${startElement}+${n} outside tensor "${ref.name}" of ${total} elements`);
  const buf = readTensorBytes(ref, startElement * size, n * size);
  const out = new Float32Array(n);
  switch (ref.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = buf.readFloatLE(i * 4);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = buf.readDoubleLE(i * 8);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(buf.readUInt16LE(i * 2));
      break;
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u32[i] = buf.readUInt16LE(i * 2) << 16;
      break;
    }
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(buf.readBigInt64LE(i * 8));
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = buf.readInt32LE(i * 4);
      break;
    default:
      throw new LatentDiffError(ref.file, `tensor "${ref.name}" has dtype ${ref.dtype}, which cannot be read as numbers here`);
  }
  return out;
}

/** Reads a scalar or small tensor of any numeric dtype as plain numbers. */
export function readTensorNumbers(ref: TensorRef): number[] {
  return Array.from(readTensorF32(ref));
}

export interface TensorToWrite {
  dtype: 'F32' | 'I64' | 'I32' | 'BF16' | 'F16';
  shape: number[];
  data: Float32Array | Int32Array | BigInt64Array | Uint16Array;
}

/**
 * Writes a .safetensors file (sorted tensor names, 8-byte aligned data start), atomically via a temp file.
 * Used by the demo generator, tests and benchmarks; real checkpoints come from elsewhere.
 */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const bytes = t.data.byteLength;
    const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (bytes !== expected) throw new Error(`writeSafetensors: tensor ${name} has ${bytes} bytes, shape needs ${expected}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const jsonBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(jsonBuf.length));
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const writeAll = (bytes: Uint8Array) => {
      // writeSync may write less than asked (large buffers, full disks): loop until all is written.
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 30));
    };
    writeAll(lenBuf);
    writeAll(jsonBuf);
    for (const name of names) {
      const d = tensors[name].data;
      writeAll(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
