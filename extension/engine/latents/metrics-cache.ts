import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CrosscoderCheckpoint, LatentMetrics } from '../types';
import { rejectDecoupled } from '../graphs/crosscoder-tensors';
import { computeLatentGeometry, deriveLatentMetrics, type LatentGeometry, type LatentMetricsOptions } from './metrics';

/*
 * Cache file layout (little-endian): "LDLM", u32 version, u32 header length, header JSON
 * {identity, dictSize}, zero padding to a multiple of 8, then the six float64 [D] arrays of LatentGeometry
 * in ARRAYS order. Only weight-intrinsic values are stored; scale, Delta-norm and tags are derived on load.
 */
const MAGIC = 'LDLM';
const VERSION = 1;
const ARRAYS = ['decNormBase', 'decNormChat', 'decCos', 'encNormBase', 'encNormChat', 'encCos'] as const;

export function metricsCachePath(cacheDir: string, identity: string): string {
  return join(cacheDir, `latent-metrics-${createHash('sha256').update(identity).digest('hex').slice(0, 16)}.bin`);
}

export function encodeGeometry(identity: string, geo: LatentGeometry): Buffer {
  const header = Buffer.from(JSON.stringify({ identity, dictSize: geo.dictSize }), 'utf8');
  const dataStart = Math.ceil((12 + header.length) / 8) * 8;
  const buf = Buffer.alloc(dataStart + ARRAYS.length * geo.dictSize * 8);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(header.length, 8);
  header.copy(buf, 12);
  ARRAYS.forEach((name, i) => {
    const a = geo[name];
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).copy(buf, dataStart + i * geo.dictSize * 8);
  });
  return buf;
}

/** The cached geometry, or undefined when the bytes are not a complete entry for this identity. */
export function decodeGeometry(buf: Buffer, identity: string): LatentGeometry | undefined {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== MAGIC || buf.readUInt32LE(4) !== VERSION) return undefined;
  const headerLen = buf.readUInt32LE(8);
  if (12 + headerLen > buf.length) return undefined;
  let header: { identity?: unknown; dictSize?: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', 12, 12 + headerLen));
  } catch {
    return undefined;
  }
  const D = header.dictSize;
  if (header.identity !== identity || !Number.isInteger(D) || (D as number) <= 0) return undefined;
  const dataStart = Math.ceil((12 + headerLen) / 8) * 8;
  if (buf.length !== dataStart + ARRAYS.length * (D as number) * 8) return undefined;
  const arrays = ARRAYS.map((_, i) => {
    const out = new Float64Array(D as number);
    buf.copy(Buffer.from(out.buffer), 0, dataStart + i * out.byteLength, dataStart + (i + 1) * out.byteLength);
    return out;
  });
  // Computed geometry is always finite (non-finite weights are refused): anything else is a damaged entry.
  if (arrays.some((a) => a.some((v) => !Number.isFinite(v)))) return undefined;
  const [decNormBase, decNormChat, decCos, encNormBase, encNormChat, encCos] = arrays;
  return { dictSize: D as number, decNormBase, decNormChat, decCos, encNormBase, encNormChat, encCos };
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/**
 * The checkpoint's static metrics from the cache in opts.cacheDir (keyed by ckpt.identity), computing and
 * caching them when absent or unreadable. A cache that cannot be written is not an error: the metrics are
 * still returned.
 */
export async function loadOrComputeLatentMetrics(ckpt: CrosscoderCheckpoint, opts: LatentMetricsOptions): Promise<LatentMetrics> {
  rejectDecoupled(ckpt);
  const path = metricsCachePath(opts.cacheDir, ckpt.identity);
  let geo: LatentGeometry | undefined;
  try {
    geo = decodeGeometry(readFileSync(path), ckpt.identity);
  } catch {
    geo = undefined;
  }
  if (!geo || geo.dictSize !== ckpt.dictSize) {
    geo = await computeLatentGeometry(ckpt, opts);
    try {
      mkdirSync(opts.cacheDir, { recursive: true });
      writeAtomically(path, encodeGeometry(ckpt.identity, geo));
    } catch {
      // read-only cache folder: metrics are recomputed next time
    }
  }
  return deriveLatentMetrics(ckpt, geo, opts.thresholds);
}
