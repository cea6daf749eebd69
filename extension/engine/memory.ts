/**
 * Memory a load may count on, checked before weights go to ONNX Runtime: a checkpoint larger than the
 * machine's free memory otherwise ends in the runtime's bad_alloc, which names no file.
 */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { LatentDiffError } from './errors';

/** Bytes the system could give without swapping: MemAvailable on Linux (page cache counts), else free memory. */
export function availableMemoryBytes(): number {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'latin1'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

const gb = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GB`;

/** Refuses, naming `file`, weights that cannot fit in the memory available now. */
export function checkFitsInMemory(file: string, bytes: number, what: string): void {
  const available = availableMemoryBytes();
  if (bytes > available) {
    throw new LatentDiffError(file, `${what} need ${gb(bytes)} of memory, but only ${gb(available)} is available on this machine`, 'out-of-memory');
  }
}
