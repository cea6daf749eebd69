/**
 * Fake Microsoft.ML.OnnxRuntime.Gpu.Linux packages for the CUDA setup tests: the real layout (a .nuspec at the
 * root, the provider libraries under runtimes/linux-x64/native/), with placeholder libraries (an ELF magic
 * and filler, not loadable). Written as a zip file (what a .nupkg is) or as an unpacked folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

export interface FakePackage {
  id?: string;
  version: string;
  libraries?: string[];
}

const NATIVE = 'runtimes/linux-x64/native';

export function placeholderLibrary(name: string): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.from(`placeholder ${name} `.repeat(200))]);
}

function files(p: FakePackage): Map<string, Buffer> {
  const id = p.id ?? 'Microsoft.ML.OnnxRuntime.Gpu.Linux';
  const m = new Map<string, Buffer>();
  m.set(`${id}.nuspec`, Buffer.from(`<?xml version="1.0"?>\n<package><metadata><id>${id}</id><version>${p.version}</version></metadata></package>\n`));
  m.set('[Content_Types].xml', Buffer.from('<Types/>'));
  for (const lib of p.libraries ?? ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so']) {
    m.set(`${NATIVE}/${lib}`, placeholderLibrary(lib));
  }
  return m;
}

/** A zip with deflated entries, central directory and end record, as .nupkg package files hold them. */
export function writeFakePackageFile(file: string, p: FakePackage): void {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of files(p)) {
    const packed = deflateRawSync(data);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data);
    // Local and central headers hold the same crc / sizes / name length, 2 bytes further on in the central one.
    const sizes = (b: Buffer, at: number) => {
      b.writeUInt32LE(crc, at);
      b.writeUInt32LE(packed.length, at + 4);
      b.writeUInt32LE(data.length, at + 8);
      b.writeUInt16LE(nameBytes.length, at + 12);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    sizes(local, 14);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    sizes(central, 16);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, packed);
    centrals.push(central, nameBytes);
    offset += 30 + nameBytes.length + packed.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileSync(file, Buffer.concat([...locals, dir, end]));
}

export function writeFakePackageFolder(dir: string, p: FakePackage): void {
  for (const [name, data] of files(p)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
}
