/**
 * Pass 2 of the statistics ("examples"): the paper's quantile-binned max-activating examples (method.md 5.2).
 *
 * With max_j known from pass 1, a sequence in which latent j fires with sequence max v goes to bin
 * b = the first q in QUANTILES with q * max_j >= v. Per (latent, bin) we keep a uniform random sample of
 * up to `perBin` distinct sequences, like the paper's reservoir sampling, but as a bottom-k sample: every
 * (sequence, latent) pair gets a pseudo-random priority from a seeded hash of the sequence's token ids and the
 * latent, and the `perBin` smallest priorities are kept. The sample depends only on the set of sequences, not
 * on their order, so shards merge exactly (union, then keep the smallest) and a resumed run equals an
 * uninterrupted one. Identical token sequences have the same hash: they are kept once (the paper skips exact
 * duplicates), under the smallest record index.
 */
import { createHash } from 'node:crypto';
import type { Sequence } from './sequences';

export const QUANTILES = [0.25, 0.5, 0.75, 0.95, 1.0] as const;
export const BIN_COUNT = QUANTILES.length;

export interface Candidate {
  priority: number;
  /** Hash of the token ids (16 hex digits). */
  key: string;
  /** Sequence max of the scaled activation. */
  v: number;
  /** Token positions where the latent fires, and its scaled activations there. */
  positions: Int32Array;
  values: Float32Array;
}

export interface StoredSequence {
  index: number;
  ids: Int32Array;
  /** Slots holding it. */
  refs: number;
}

export interface ExamplesState {
  /** slot = latent * BIN_COUNT + bin -> candidates sorted by (priority, key) ascending. */
  slots: Map<number, Candidate[]>;
  sequences: Map<string, StoredSequence>;
  /** Sequences where some latent exceeded the given max (the max did not come from the same data). */
  overflow: number;
}

export function emptyExamples(): ExamplesState {
  return { slots: new Map(), sequences: new Map(), overflow: 0 };
}

export function sequenceKey(ids: Int32Array): string {
  return createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex').slice(0, 16);
}

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A 53-bit priority in [0, 1) from the sequence key, the latent and the seed. */
export function priorityOf(key: string, latent: number, seed: number): number {
  const k0 = parseInt(key.slice(0, 8), 16);
  const k1 = parseInt(key.slice(8, 16), 16);
  const hi = mix32(k0 ^ mix32(latent ^ mix32(seed)));
  const lo = mix32(k1 ^ mix32(latent + 0x9e3779b9) ^ mix32(seed + 0x7f4a7c15));
  return (hi * 2 ** 21 + (lo >>> 11)) / 2 ** 53;
}

const before = (a: Candidate, b: Candidate) => a.priority < b.priority || (a.priority === b.priority && a.key < b.key);

/** Inserts c into a sorted slot list of at most n; returns the candidate dropped (or c itself when rejected). */
function insert(list: Candidate[], c: Candidate, n: number): Candidate | undefined {
  if (list.length === n && !before(c, list[n - 1])) return c;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(list[mid], c)) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, c);
  return list.length > n ? list.pop() : undefined;
}

/** Would a candidate with this priority and key get into the slot? (also false for a duplicate already in it) */
function admits(list: Candidate[] | undefined, priority: number, key: string, n: number): boolean {
  if (!list) return true;
  if (list.some((c) => c.key === key)) return false;
  return list.length < n || before({ priority, key } as Candidate, list[n - 1]);
}

export class ExamplesSampler {
  private readonly seqMax: Float64Array;
  private readonly touched: Int32Array;

  constructor(
    readonly state: ExamplesState,
    private readonly maxAct: Float64Array,
    private readonly scale: Float32Array,
    private readonly perBin: number,
    private readonly seed: number,
  ) {
    this.seqMax = new Float64Array(maxAct.length);
    this.touched = new Int32Array(maxAct.length);
  }

  /** One sequence with its raw codes f [T x D]. */
  addSequence(seq: Sequence, f: Float32Array): void {
    const D = this.maxAct.length;
    const T = seq.ids.length;
    const scale = this.scale;
    let nTouched = 0;
    for (let t = 0; t < T; t++) {
      const row = t * D;
      for (let j = 0; j < D; j++) {
        const v = f[row + j];
        if (v > 0) {
          const a = Math.fround(v * scale[j]);
          if (this.seqMax[j] === 0) this.touched[nTouched++] = j;
          if (a > this.seqMax[j]) this.seqMax[j] = a;
        }
      }
    }
    let key: string | undefined;
    let overflow = false;
    for (let i = 0; i < nTouched; i++) {
      const j = this.touched[i];
      const v = this.seqMax[j];
      this.seqMax[j] = 0;
      if (v === 0) continue;
      const bin = QUANTILES.findIndex((q) => q * this.maxAct[j] >= v);
      if (bin < 0) {
        overflow = true;
        continue;
      }
      key ??= sequenceKey(seq.ids);
      const slot = j * BIN_COUNT + bin;
      const priority = priorityOf(key, j, this.seed);
      const list = this.state.slots.get(slot);
      if (!admits(list, priority, key, this.perBin)) continue;
      const positions: number[] = [];
      const values: number[] = [];
      for (let t = 0; t < T; t++) {
        const fv = f[t * D + j];
        if (fv > 0) {
          positions.push(t);
          values.push(Math.fround(fv * scale[j]));
        }
      }
      this.add(slot, { priority, key, v, positions: Int32Array.from(positions), values: Float32Array.from(values) }, seq.index, seq.ids);
    }
    if (overflow) this.state.overflow++;
  }

  private add(slot: number, c: Candidate, index: number, ids: Int32Array): void {
    addCandidate(this.state, slot, c, { index, ids }, this.perBin);
  }
}

/** Adds a candidate (and its sequence) to a state, keeping the slot's bottom-n and only the sequences referenced. */
export function addCandidate(state: ExamplesState, slot: number, c: Candidate, seq: { index: number; ids: Int32Array }, n: number): void {
  const stored = state.sequences.get(c.key);
  if (stored && seq.index < stored.index) stored.index = seq.index;
  let list = state.slots.get(slot);
  if (!list) state.slots.set(slot, (list = []));
  if (list.some((x) => x.key === c.key)) return;
  const dropped = insert(list, c, n);
  if (dropped === c) return;
  if (stored) stored.refs++;
  else state.sequences.set(c.key, { index: seq.index, ids: seq.ids, refs: 1 });
  if (dropped) {
    const s = state.sequences.get(dropped.key)!;
    if (--s.refs === 0) state.sequences.delete(dropped.key);
  }
}

/** Merges state b into a: union per slot, the n smallest priorities kept; duplicate sequences under the smallest index. */
export function mergeExamples(a: ExamplesState, b: ExamplesState, n: number): void {
  for (const [slot, list] of b.slots) {
    for (const c of list) addCandidate(a, slot, c, b.sequences.get(c.key)!, n);
  }
  a.overflow += b.overflow;
}
