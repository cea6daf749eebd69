/**
 * Filter and sort over every latent of the crosscoder (73,728 for the paper's), fast enough to run on each
 * keystroke: sort orders are computed once per column (packed numeric keys, native Float64Array sort) and
 * cached; a filter change is one pass over the cached order.
 */
import type { LatentTag } from '../../extension/engine/types';
import type { ClassifyThresholds } from '../../extension/protocol/messages';
import { verdictCode } from '../../extension/protocol/latent-verdict';

export interface LatentColumns {
  dictSize: number;
  deltaNorm: Float32Array;
  decCos: Float32Array;
  nuError?: Float32Array;
  nuReconstruction?: Float32Array;
  freq?: Float32Array;
  maxAct?: Float32Array;
}

export type FlagFilter = 'any' | 'robust' | 'shrinkage' | 'decoupling' | 'artifact' | 'unverified';

export interface LatentFilter {
  tag: 'any' | LatentTag;
  flag: FlagFilter;
  /** Inclusive Delta-norm range (paper convention). */
  deltaMin: number;
  deltaMax: number;
  /** Upper bounds (inclusive); NaN = no bound. A latent with an unknown value fails a set bound. */
  nuErrorMax: number;
  nuReconstructionMax: number;
  /** Lower bounds (inclusive); NaN = no bound. */
  freqMin: number;
  maxActMin: number;
  activeInDocument: boolean;
  /** Case-insensitive substring of the label, or a latent id. */
  text: string;
}

export type SortKey = 'id' | 'deltaNorm' | 'decCos' | 'nuError' | 'nuReconstruction' | 'freq' | 'maxAct' | 'docAct';

export interface LatentSort {
  key: SortKey;
  descending: boolean;
}

export const DEFAULT_FILTER: Readonly<LatentFilter> = {
  tag: 'any', flag: 'any', deltaMin: 0, deltaMax: 1, nuErrorMax: NaN, nuReconstructionMax: NaN,
  freqMin: NaN, maxActMin: NaN, activeInDocument: false, text: '',
};

const TAG_OF_CODE: LatentTag[] = ['other', 'base-only', 'shared', 'chat-only', 'chat-only', 'chat-only', 'chat-only', 'chat-only'];

/** Which verdict codes pass each flag filter. */
const FLAG_CODES: Record<FlagFilter, number[]> = {
  any: [0, 1, 2, 3, 4, 5, 6, 7],
  robust: [4],
  shrinkage: [5, 7],
  decoupling: [6, 7],
  artifact: [5, 6, 7],
  unverified: [3],
};

interface SortOrder {
  /** Latent ids by ascending value, NaN last. */
  order: Uint32Array;
  finite: number;
}

export class LatentTableModel {
  private verdicts: Uint8Array;
  private docMax: Float32Array;
  private labels = new Map<number, string>();
  private orders = new Map<SortKey, SortOrder>();

  constructor(readonly columns: LatentColumns, private thresholds: ClassifyThresholds) {
    this.verdicts = new Uint8Array(columns.dictSize);
    this.docMax = new Float32Array(columns.dictSize);
    this.classify();
  }

  get dictSize(): number {
    return this.columns.dictSize;
  }

  setThresholds(t: ClassifyThresholds): void {
    this.thresholds = t;
    this.classify();
  }

  /** Latents active in the analysed document and their max activation there (null: nothing analysed). */
  setDocumentActivity(latents: Uint32Array | null, maxes: Float32Array | null): void {
    this.docMax.fill(0);
    if (latents && maxes) {
      for (let i = 0; i < latents.length; i++) if (latents[i] < this.dictSize) this.docMax[latents[i]] = maxes[i];
    }
    this.orders.delete('docAct');
  }

  setLabels(labels: Iterable<[number, string]>): void {
    this.labels = new Map([...labels].map(([k, v]) => [k, v.toLowerCase()]));
  }

  tagOf(latent: number): LatentTag {
    return TAG_OF_CODE[this.verdicts[latent]];
  }

  verdictCode(latent: number): number {
    return this.verdicts[latent];
  }

  documentMax(latent: number): number {
    return this.docMax[latent];
  }

  /** The latents passing `filter`, in `sort` order. */
  query(filter: LatentFilter, sort: LatentSort): Uint32Array {
    const pass = this.predicate(filter);
    const out = new Uint32Array(this.dictSize);
    let n = 0;
    if (sort.key === 'id') {
      if (sort.descending) {
        for (let j = this.dictSize - 1; j >= 0; j--) if (pass(j)) out[n++] = j;
      } else {
        for (let j = 0; j < this.dictSize; j++) if (pass(j)) out[n++] = j;
      }
      return out.subarray(0, n);
    }
    const { order, finite } = this.orderFor(sort.key);
    if (sort.descending) {
      for (let i = finite - 1; i >= 0; i--) if (pass(order[i])) out[n++] = order[i];
      for (let i = finite; i < order.length; i++) if (pass(order[i])) out[n++] = order[i];
    } else {
      for (let i = 0; i < order.length; i++) if (pass(order[i])) out[n++] = order[i];
    }
    return out.subarray(0, n);
  }

  /** Builds (and caches) a column's sort order ahead of use, so the first sort by it is as fast as later ones. */
  prepareSort(key: Exclude<SortKey, 'id'>): void {
    this.orderFor(key);
  }

  private classify(): void {
    const { deltaNorm, nuError, nuReconstruction } = this.columns;
    for (let j = 0; j < this.dictSize; j++) {
      this.verdicts[j] = verdictCode(deltaNorm[j], nuError ? nuError[j] : NaN, nuReconstruction ? nuReconstruction[j] : NaN, this.thresholds);
    }
  }

  private column(key: Exclude<SortKey, 'id'>): Float32Array | undefined {
    return key === 'docAct' ? this.docMax : this.columns[key];
  }

  private orderFor(key: Exclude<SortKey, 'id'>): SortOrder {
    let cached = this.orders.get(key);
    if (!cached) {
      const col = this.column(key);
      cached = col ? sortOrder(col) : { order: Uint32Array.from({ length: this.dictSize }, (_, i) => i), finite: 0 };
      this.orders.set(key, cached);
    }
    return cached;
  }

  private predicate(f: LatentFilter): (j: number) => boolean {
    const checks: ((j: number) => boolean)[] = [];
    const c = this.columns;
    if (f.tag !== 'any') {
      const tag = f.tag;
      checks.push((j) => TAG_OF_CODE[this.verdicts[j]] === tag);
    }
    if (f.flag !== 'any') {
      const allowed = new Uint8Array(8);
      for (const code of FLAG_CODES[f.flag]) allowed[code] = 1;
      checks.push((j) => allowed[this.verdicts[j]] === 1);
    }
    if (f.deltaMin > 0 || f.deltaMax < 1) {
      const { deltaMin: lo, deltaMax: hi } = f;
      checks.push((j) => c.deltaNorm[j] >= lo && c.deltaNorm[j] <= hi);
    }
    const upper = (col: Float32Array | undefined, bound: number) => {
      if (Number.isNaN(bound)) return;
      if (!col) { checks.push(() => false); return; }
      checks.push((j) => col[j] <= bound);
    };
    const lower = (col: Float32Array | undefined, bound: number) => {
      if (Number.isNaN(bound)) return;
      if (!col) { checks.push(() => false); return; }
      checks.push((j) => col[j] >= bound);
    };
    upper(c.nuError, f.nuErrorMax);
    upper(c.nuReconstruction, f.nuReconstructionMax);
    lower(c.freq, f.freqMin);
    lower(c.maxAct, f.maxActMin);
    if (f.activeInDocument) checks.push((j) => this.docMax[j] > 0);
    const text = f.text.trim().toLowerCase().replace(/^#/, '');
    if (text) {
      const id = /^\d+$/.test(text) ? Number(text) : -1;
      checks.push((j) => j === id || (this.labels.get(j)?.includes(text) ?? false));
    }
    if (checks.length === 0) return () => true;
    if (checks.length === 1) return checks[0];
    return (j) => {
      for (const check of checks) if (!check(j)) return false;
      return true;
    };
  }
}

/**
 * Ascending order of a float column, NaN last, ties by id. Each value is mapped to an order-preserving
 * unsigned 32-bit key and packed with the id into one float64 (exact below 2^53), so the native numeric
 * sort does the work without a comparator callback.
 */
export function sortOrder(col: Float32Array): SortOrder {
  const n = col.length;
  const idBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const order = new Uint32Array(n);
  let finite = 0;
  for (let j = 0; j < n; j++) if (!Number.isNaN(col[j])) finite++;
  if (idBits > 21) {
    const ids = Array.from({ length: n }, (_, i) => i);
    ids.sort((a, b) => compareWithNaNLast(col[a], col[b]) || a - b);
    order.set(ids);
    return { order, finite };
  }
  const bits = new Uint32Array(col.buffer, col.byteOffset, n);
  const scale = 2 ** idBits;
  const packed = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const u = bits[j];
    // Flip so that unsigned order = numeric order: negatives reversed, positives above them; NaN to the top.
    const key = Number.isNaN(col[j]) ? 0xffffffff : (u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0);
    packed[j] = key * scale + j;
  }
  packed.sort();
  for (let i = 0; i < n; i++) order[i] = packed[i] % scale;
  return { order, finite };
}

function compareWithNaNLast(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a - b;
}
