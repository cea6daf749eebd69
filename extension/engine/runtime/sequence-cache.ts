import type { KvCache } from './split-model';

/**
 * The cache of a model whose graph has no key/value inputs (an ONNX-file bundle model): it keeps what the
 * positions so far were fed (token ids for a first half, residual rows for a second half) and the graph
 * recomputes from position 0. Results equal a single run over the whole sequence.
 */
export class SequenceCache<Row extends Float32Array<ArrayBufferLike> | Int32Array<ArrayBufferLike>> implements KvCache {
  constructor(
    /** [length * width] values fed so far. */
    readonly rows: Row,
    readonly width: number,
  ) {}

  get length(): number {
    return this.rows.length / this.width;
  }

  truncate(n: number): SequenceCache<Row> {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.length)) throw new RangeError(`cannot truncate a cache of ${this.length} positions to ${n}`);
    return new SequenceCache(this.rows.subarray(0, n * this.width) as Row, this.width);
  }

  /** A new cache holding these positions followed by `more`. */
  extend(more: Row): SequenceCache<Row> {
    const rows = new (this.rows.constructor as new (n: number) => Row)(this.rows.length + more.length);
    rows.set(this.rows);
    rows.set(more, this.rows.length);
    return new SequenceCache(rows, this.width);
  }

  static empty<R extends Float32Array<ArrayBufferLike> | Int32Array<ArrayBufferLike>>(kind: new (n: number) => R, width: number): SequenceCache<R> {
    return new SequenceCache(new kind(0), width);
  }
}
