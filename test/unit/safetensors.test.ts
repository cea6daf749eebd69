import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LatentDiffError } from '../../extension/engine/errors';
import { getTensor, readSafetensorsHeader, readTensorBytes, readTensorF32, writeSafetensors } from '../../extension/engine/bundle/safetensors';
import { randomFloats, tempDir } from './bundle-fixtures';
import { latentDiffErrorFrom } from '../support/errors';

const dir = tempDir('safetensors');
after(() => rmSync(dir, { recursive: true, force: true }));

/** A .safetensors file assembled by hand, so headers can lie. */
function raw(name: string, header: unknown, data: Buffer, lengthOverride?: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(lengthOverride ?? json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, data]));
  return path;
}

function rejects(path: string, pattern: RegExp, read: () => unknown = () => readSafetensorsHeader(path)): LatentDiffError {
  const caught = latentDiffErrorFrom(() => read());
  assert.equal(caught.file, path);
  assert.ok(caught.message.includes(path), caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

test('round trip: every dtype, metadata, absolute offsets', () => {
  const path = join(dir, 'round.safetensors');
  const a = randomFloats(2 * 3 * 5, 7);
  const ids = BigInt64Array.from([3n, -2n, 1n << 40n]);
  const i32 = Int32Array.from([-7, 0, 123456]);
  writeSafetensors(path, {
    a: { dtype: 'F32', shape: [2, 3, 5], data: a },
    ids: { dtype: 'I64', shape: [3], data: ids },
    small: { dtype: 'I32', shape: [3], data: i32 },
    s: { dtype: 'F32', shape: [], data: Float32Array.of(0.25) },
  }, { format: 'pt' });
  const st = readSafetensorsHeader(path);
  assert.deepEqual([...st.tensors.keys()].sort(), ['a', 'ids', 's', 'small']);
  assert.deepEqual(st.metadata, { format: 'pt' });
  assert.equal(st.fileSize, statSync(path).size);
  const ta = getTensor(st, 'a');
  assert.deepEqual(ta.shape, [2, 3, 5]);
  assert.equal(ta.dtype, 'F32');
  assert.deepEqual(readTensorF32(ta), a);
  assert.deepEqual(readTensorF32(ta, 4, 3), a.subarray(4, 7));
  assert.deepEqual(Array.from(readTensorF32(getTensor(st, 'ids'))), [3, -2, 2 ** 40]);
  assert.deepEqual(Array.from(readTensorF32(getTensor(st, 'small'))), [-7, 0, 123456]);
  assert.deepEqual(Array.from(readTensorF32(getTensor(st, 's'))), [0.25]);
  // The absolute offset is what ONNX external data uses: the bytes there are the tensor.
  const fileBytes = readFileSync(path);
  assert.ok(ta.offset >= 8 + st.headerLength);
  assert.deepEqual(new Float32Array(fileBytes.buffer.slice(fileBytes.byteOffset + ta.offset, fileBytes.byteOffset + ta.offset + ta.byteLength)), a);
  assert.deepEqual(readTensorBytes(ta), fileBytes.subarray(ta.offset, ta.offset + ta.byteLength));
  rejects(path, /missing tensor "nope"/, () => getTensor(st, 'nope'));
  rejects(path, /outside tensor "a"/, () => readTensorF32(ta, 28, 5));
});

test('truncated file (last bytes cut) is reported, naming the tensor that no longer fits', () => {
  const path = join(dir, 'trunc.safetensors');
  writeSafetensors(path, { w: { dtype: 'F32', shape: [4, 4], data: randomFloats(16, 1) } });
  truncateSync(path, statSync(path).size - 3);
  rejects(path, /tensor "w" data_offsets \[0, 64\] exceed the file's data section of 61 bytes/);
});

test('files too short to hold a header, and header lengths larger than the file', () => {
  const tiny = join(dir, 'tiny.safetensors');
  writeFileSync(tiny, Buffer.from([1, 2, 3]));
  rejects(tiny, /truncated safetensors file: 3 bytes/);
  rejects(raw('longhdr.safetensors', '{}', Buffer.alloc(0), 1000), /header claims 1000 bytes but the file has only 2/);
  rejects(raw('huge.safetensors', '{}', Buffer.alloc(0), 2 ** 40), /implausible/);
  rejects(join(dir, 'absent.safetensors'), /safetensors file not found/);
});

test('header data_offsets beyond the file', () => {
  rejects(raw('offs.safetensors', { w: { dtype: 'F32', shape: [100], data_offsets: [0, 400] } }, Buffer.alloc(16)), /"w" data_offsets \[0, 400\] exceed the file's data section of 16 bytes/);
});

test('non-JSON and non-object headers', () => {
  rejects(raw('nonjson.safetensors', '{"w": {"dtype": "F32", ', Buffer.alloc(0)), /header is not valid JSON/);
  rejects(raw('array.safetensors', '[1,2]', Buffer.alloc(0)), /not a JSON object/);
  rejects(raw('dtype.safetensors', { w: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }, Buffer.alloc(8)), /"w" has unsupported dtype "C64"/);
  rejects(raw('shape.safetensors', { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, Buffer.alloc(4)), /"w" has an invalid shape \[-1\]/);
  rejects(raw('nooffs.safetensors', { w: { dtype: 'F32', shape: [1] } }, Buffer.alloc(4)), /"w" has invalid data_offsets/);
  rejects(raw('nullentry.safetensors', { w: null }, Buffer.alloc(4)), /"w" has unsupported dtype/);
});

test('overlapping tensors', () => {
  const header = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } };
  rejects(raw('overlap.safetensors', header, Buffer.alloc(24)), /tensors "a" and "b" overlap/);
});

test('byte size that does not match the shape', () => {
  rejects(raw('size.safetensors', { w: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, Buffer.alloc(16)), /"w" occupies 16 bytes but shape \[3\] of F32 needs 12/);
});

/** Independent float64 decoders of the 16-bit formats, from the IEEE 754 / bfloat16 bit layouts. */
function decodeHalf(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const exp = (bits >> 10) & 31;
  const frac = bits & 1023;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return exp === 0 ? sign * Math.pow(2, -14) * (frac / 1024) : sign * Math.pow(2, exp - 15) * (1 + frac / 1024);
}
function decodeBfloat16(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const exp = (bits >> 7) & 255;
  const frac = bits & 127;
  if (exp === 255) return frac ? NaN : sign * Infinity;
  return exp === 0 ? sign * Math.pow(2, -126) * (frac / 128) : sign * Math.pow(2, exp - 127) * (1 + frac / 128);
}

test('F16 and BF16 convert exactly to float32 (random bit patterns, subnormals, infinities, NaN)', () => {
  const n = 4096;
  const r = randomFloats(2 * n, 99);
  const half = new Uint16Array(n);
  const bf = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    half[i] = Math.floor((r[i] + 1) * 32768) & 0xffff;
    bf[i] = Math.floor((r[n + i] + 1) * 32768) & 0xffff;
  }
  // Make sure the special classes are present, not left to chance.
  half.set([0x0000, 0x8000, 0x0001, 0x03ff, 0x7c00, 0xfc00, 0x7e00, 0x3c00], 0);
  bf.set([0x0000, 0x8000, 0x0001, 0x007f, 0x7f80, 0xff80, 0x7fc0, 0x3f80], 0);
  const path = join(dir, 'half.safetensors');
  writeSafetensors(path, { h: { dtype: 'F16', shape: [n], data: half }, b: { dtype: 'BF16', shape: [n], data: bf } });
  const st = readSafetensorsHeader(path);
  const gotH = readTensorF32(getTensor(st, 'h'));
  const gotB = readTensorF32(getTensor(st, 'b'));
  for (let i = 0; i < n; i++) {
    const eh = decodeHalf(half[i]);
    const eb = decodeBfloat16(bf[i]);
    if (Number.isNaN(eh)) assert.ok(Number.isNaN(gotH[i]), `F16 ${half[i].toString(16)}`);
    else assert.equal(gotH[i], eh, `F16 0x${half[i].toString(16)}`);
    if (Number.isNaN(eb)) assert.ok(Number.isNaN(gotB[i]), `BF16 ${bf[i].toString(16)}`);
    else assert.equal(gotB[i], eb, `BF16 0x${bf[i].toString(16)}`);
  }
  assert.equal(gotH[2], 2 ** -24);
  assert.equal(gotB[7], 1);
  // A partial range starts at the right element.
  assert.deepEqual(readTensorF32(getTensor(st, 'h'), 100, 5), gotH.subarray(100, 105));
});

test('reading a tensor from a file that shrank after the header was read', () => {
  const path = join(dir, 'shrunk.safetensors');
  writeSafetensors(path, { w: { dtype: 'F32', shape: [64], data: randomFloats(64, 3) } });
  const ref = getTensor(readSafetensorsHeader(path), 'w');
  truncateSync(path, statSync(path).size - 100);
  rejects(path, /unexpected end of file while reading tensor "w"/, () => readTensorF32(ref));
});
