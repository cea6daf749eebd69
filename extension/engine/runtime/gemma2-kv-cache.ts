import { withRoom } from './room-to-grow';
import type { KvCache } from './split-model';

/**
 * Rows [positions, rowSize] of one growing float32 tensor (one block's keys or values), shared by the caches
 * that are prefixes of one another. Rows below `used` are rewritten only for a cache truncated with `reclaim`
 * (whose caller says no other cache reads them again), so every live cache's view stays valid.
 */
class GrowingRows {
  used = 0;
  data: Float32Array;

  constructor(readonly rowSize: number, capacityRows: number) {
    this.data = new Float32Array(rowSize * capacityRows);
  }

  /**
   * The store holding this store's first `length` rows followed by `rows`: this one, appended in place, when
   * `length` is its end (a decode step) or when the rows beyond `length` may be overwritten (`reclaim`), else
   * a new store (a cache that was truncated, or extended twice).
   */
  append(length: number, rows: Float32Array, reclaim: boolean): GrowingRows {
    const n = rows.length / this.rowSize;
    let target: GrowingRows = this;
    if (this.used !== length && !reclaim) {
      target = new GrowingRows(this.rowSize, withRoom(length + n));
      target.data.set(this.data.subarray(0, length * this.rowSize));
    }
    if ((length + n) * this.rowSize > target.data.length) {
      const grown = new Float32Array(Math.max(2 * target.data.length, withRoom(length + n) * this.rowSize));
      grown.set(target.data.subarray(0, length * this.rowSize));
      target.data = grown;
    }
    target.data.set(rows, length * this.rowSize);
    target.used = length + n;
    return target;
  }
}

/**
 * The key/value cache of one half of a Gemma 2 model for one sequence: per block, the keys (after RoPE) and
 * values of every position so far, [positions, kvHeads * headDim]. Sliding-window blocks keep every position
 * too, although a step reads only the last window - 1: truncate(n) must reproduce a fresh run of n positions,
 * which needs the positions before the window's current start.
 */
export class Gemma2KvCache implements KvCache {
  private constructor(
    /** The model half this cache belongs to (a cache cannot be used with another half or model). */
    readonly owner: object,
    readonly length: number,
    private readonly keys: GrowingRows[],
    private readonly values: GrowingRows[],
    /** The positions beyond `length` in the stores are no longer read by anyone (truncate's `reclaim`). */
    private readonly reclaim = false,
  ) {}

  static empty(owner: object, blocks: number, rowSize: number): Gemma2KvCache {
    const stores = () => Array.from({ length: blocks }, () => new GrowingRows(rowSize, 64));
    return new Gemma2KvCache(owner, 0, stores(), stores());
  }

  truncate(n: number, opts: { reclaim?: boolean } = {}): Gemma2KvCache {
    if (!Number.isInteger(n) || n < 0 || n > this.length) throw new RangeError(`KvCache.truncate(${n}): the cache holds ${this.length} positions`);
    return new Gemma2KvCache(this.owner, n, this.keys, this.values, opts.reclaim === true);
  }

  /** Block j's keys and values of the last `keep` positions (all when keep >= length): views, not copies. */
  past(j: number, keep: number): { key: Float32Array; value: Float32Array; positions: number } {
    const positions = Math.min(keep, this.length);
    const view = (s: GrowingRows) => s.data.subarray((this.length - positions) * s.rowSize, this.length * s.rowSize);
    return { key: view(this.keys[j]), value: view(this.values[j]), positions };
  }

  /** This cache followed by n new positions whose keys/values per block are given ([n, rowSize] each). */
  extended(n: number, newKeys: Float32Array[], newValues: Float32Array[]): Gemma2KvCache {
    return new Gemma2KvCache(
      this.owner,
      this.length + n,
      this.keys.map((s, j) => s.append(this.length, newKeys[j], this.reclaim)),
      this.values.map((s, j) => s.append(this.length, newValues[j], this.reclaim)),
    );
  }
}
