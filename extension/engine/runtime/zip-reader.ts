/**
 * Reads a zip file (a .nupkg package file is one) through its central directory and extracts single entries,
 * streaming and checking each entry's CRC-32. Stored and deflated entries; not zip64 (4 GiB) archives.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export class ZipFormatError extends Error {}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export async function readZipDirectory(file: string): Promise<ZipEntry[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const tailLength = Math.min(size, 65_557);
    const tail = Buffer.alloc(tailLength);
    await fh.read(tail, 0, tailLength, size - tailLength);
    let at = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        at = i;
        break;
      }
    }
    if (at < 0) throw new ZipFormatError('no zip end-of-directory record (not a zip file, or cut short)');
    const count = tail.readUInt16LE(at + 10);
    const dirSize = tail.readUInt32LE(at + 12);
    const dirOffset = tail.readUInt32LE(at + 16);
    if (dirOffset === 0xffffffff || count === 0xffff) throw new ZipFormatError('zip64 archives are not supported');
    if (dirOffset + dirSize > size) throw new ZipFormatError('the zip directory points past the end of the file');
    const dir = Buffer.alloc(dirSize);
    await fh.read(dir, 0, dirSize, dirOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw new ZipFormatError(`zip directory entry ${n} is damaged`);
      const nameLength = dir.readUInt16LE(p + 28);
      const extraLength = dir.readUInt16LE(p + 30);
      const commentLength = dir.readUInt16LE(p + 32);
      entries.push({
        name: dir.toString('utf8', p + 46, p + 46 + nameLength),
        method: dir.readUInt16LE(p + 10),
        crc: dir.readUInt32LE(p + 16),
        compressedSize: dir.readUInt32LE(p + 20),
        size: dir.readUInt32LE(p + 24),
        localHeaderOffset: dir.readUInt32LE(p + 42),
      });
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Reads a small entry (a .nuspec) into memory. */
export async function readZipEntry(file: string, entry: ZipEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(await entryStream(file, entry), new Transform({ transform(c, _e, done) { chunks.push(c); done(); } }));
  return Buffer.concat(chunks);
}

/** Writes one entry to `dest`; throws ZipFormatError when its data does not match its CRC or size. */
export async function extractZipEntry(file: string, entry: ZipEntry, dest: string): Promise<void> {
  await pipeline(await entryStream(file, entry), createWriteStream(dest));
}

async function entryStream(file: string, entry: ZipEntry): Promise<NodeJS.ReadableStream> {
  const fh = await open(file, 'r');
  const header = Buffer.alloc(30);
  try {
    await fh.read(header, 0, 30, entry.localHeaderOffset);
  } finally {
    await fh.close();
  }
  if (header.readUInt32LE(0) !== LOCAL) throw new ZipFormatError(`the local header of ${entry.name} is damaged`);
  if (entry.method !== 0 && entry.method !== 8) throw new ZipFormatError(`${entry.name} uses compression method ${entry.method} (only stored and deflate are read)`);
  const start = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const raw = entry.compressedSize === 0 ? Readable.from([]) : createReadStream(file, { start, end: start + entry.compressedSize - 1 });
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _e, done) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      if (size !== entry.size || crc >>> 0 !== entry.crc >>> 0) done(new ZipFormatError(`${entry.name} is corrupt (its data does not match its checksum)`));
      else done();
    },
  });
  const inflate = entry.method === 8 ? createInflateRaw() : undefined;
  const wrap = (e: Error) => check.destroy(e instanceof ZipFormatError ? e : new ZipFormatError(`${entry.name} is corrupt (${e.message})`));
  raw.on('error', wrap);
  inflate?.on('error', wrap);
  (inflate ? raw.pipe(inflate) : raw).pipe(check);
  return check;
}
