/** The entries of a ZIP file (a VSIX), read from its central directory, and their extraction. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** Uncompressed size. */
  size: number;
  compressedSize: number;
  /** 0: stored, 8: deflated. */
  method: number;
  localHeader: number;
}

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;

function entriesOf(buf: Buffer, file: string): ZipEntry[] {
  // The end record is the last 22 bytes plus a comment of at most 64 KiB.
  let end = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === END_OF_CENTRAL_DIRECTORY) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`${file}: not a ZIP file (no end of central directory record)`);
  const count = buf.readUInt16LE(end + 10);
  let at = buf.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== CENTRAL_FILE_HEADER) throw new Error(`${file}: broken central directory at byte ${at}`);
    const nameLength = buf.readUInt16LE(at + 28);
    const extraLength = buf.readUInt16LE(at + 30);
    const commentLength = buf.readUInt16LE(at + 32);
    entries.push({
      name: buf.toString('utf8', at + 46, at + 46 + nameLength),
      method: buf.readUInt16LE(at + 10),
      compressedSize: buf.readUInt32LE(at + 20),
      size: buf.readUInt32LE(at + 24),
      localHeader: buf.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

export function zipEntries(file: string): ZipEntry[] {
  return entriesOf(readFileSync(file), file);
}

/** Writes every file entry under `outDir`. */
export function extractZip(file: string, outDir: string): void {
  const buf = readFileSync(file);
  for (const e of entriesOf(buf, file)) {
    if (e.name.endsWith('/')) continue;
    if (e.name.split('/').includes('..')) throw new Error(`${file}: entry ${e.name} leaves the folder`);
    if (buf.readUInt32LE(e.localHeader) !== LOCAL_FILE_HEADER) throw new Error(`${file}: broken local header for ${e.name}`);
    const start = e.localHeader + 30 + buf.readUInt16LE(e.localHeader + 26) + buf.readUInt16LE(e.localHeader + 28);
    const raw = buf.subarray(start, start + e.compressedSize);
    if (e.method !== 0 && e.method !== 8) throw new Error(`${file}: ${e.name} uses compression method ${e.method}`);
    const target = join(outDir, e.name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, e.method === 8 ? inflateRawSync(raw) : raw);
  }
}
