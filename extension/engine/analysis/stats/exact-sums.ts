/**
 * Order-independent float64 sums, so that shards merged in any grouping and a run resumed from a checkpoint
 * give bit-identical results to one uninterrupted run.
 *
 * Each sum is kept exactly as a short list of non-overlapping float64 partials in increasing magnitude
 * (Shewchuk's grow-expansion, the scheme behind Python's math.fsum, compressed when the slots fill up), and read out as the correctly rounded
 * exact sum. The exact sum does not depend on the order of the additions, so neither does the result.
 * `capacity` partials per sum cover any data whose terms span fewer than about capacity x 53 bits of
 * magnitude (8 partials: ~420 bits, far wider than activations and dot products span); beyond that the two smallest partials are merged with a rounding and `inexactAdds` counts it.
 * Non-finite terms (NaN, +-Inf) are summed on the side; they make the result NaN/Inf whatever the order.
 */
export class ExactSums {
  readonly partials: Float64Array;
  readonly lengths: Uint8Array;
  readonly nonFinite: Float64Array;
  inexactAdds = 0;

  constructor(
    readonly size: number,
    readonly capacity = 8,
    state?: { partials: Float64Array; lengths: Uint8Array; nonFinite: Float64Array; inexactAdds: number },
  ) {
    if (state) {
      if (state.partials.length !== size * capacity || state.lengths.length !== size || state.nonFinite.length !== size) {
        throw new Error(`ExactSums: state has ${state.lengths.length} sums, expected ${size}`);
      }
      this.partials = state.partials;
      this.lengths = state.lengths;
      this.nonFinite = state.nonFinite;
      this.inexactAdds = state.inexactAdds;
    } else {
      this.partials = new Float64Array(size * capacity);
      this.lengths = new Uint8Array(size);
      this.nonFinite = new Float64Array(size);
    }
  }

  add(i: number, x: number): void {
    if (x === 0) return;
    if (!Number.isFinite(x)) {
      this.nonFinite[i] += x;
      return;
    }
    const p = this.partials;
    const cap = this.capacity;
    const base = i * cap;
    const n = this.lengths[i];
    let k = 0;
    for (let j = 0; j < n; j++) {
      const y = p[base + j];
      const hi = x + y;
      const lo = Math.abs(x) < Math.abs(y) ? x - (hi - y) : y - (hi - x);
      if (lo !== 0) p[base + k++] = lo;
      x = hi;
    }
    if (!Number.isFinite(x)) {
      // The running sum overflowed float64: keep the overflow as a non-finite term.
      this.nonFinite[i] += x;
      this.lengths[i] = k;
      return;
    }
    if (k === cap) k = compress(p, base, k);
    if (k === cap) {
      p[base + 1] += p[base];
      p.copyWithin(base, base + 1, base + cap);
      k--;
      this.inexactAdds++;
    }
    p[base + k++] = x;
    this.lengths[i] = k;
  }

  /** The correctly rounded value of sum i. */
  value(i: number): number {
    const nf = this.nonFinite[i];
    if (nf !== 0) return nf; // also NaN
    const p = this.partials;
    const base = i * this.capacity;
    let n = this.lengths[i];
    if (n === 0) return 0;
    let hi = p[base + --n];
    let lo = 0;
    while (n > 0) {
      const x = hi;
      const y = p[base + --n];
      hi = x + y;
      const yr = hi - x;
      lo = y - yr;
      if (lo !== 0) break;
    }
    // Round half-way cases the way the exact sum says (the remaining partials break the tie).
    if (n > 0 && ((lo < 0 && p[base + n - 1] < 0) || (lo > 0 && p[base + n - 1] > 0))) {
      const y = lo * 2;
      const x = hi + y;
      if (y === x - hi) hi = x;
    }
    return hi;
  }

  /** Adds every sum of `other` (same size) into this one, exactly. */
  addAll(other: ExactSums): void {
    if (other.size !== this.size) throw new Error(`ExactSums: cannot merge ${other.size} sums into ${this.size}`);
    const cap = other.capacity;
    for (let i = 0; i < other.size; i++) {
      const n = other.lengths[i];
      for (let j = 0; j < n; j++) this.add(i, other.partials[i * cap + j]);
      if (other.nonFinite[i] !== 0) this.nonFinite[i] += other.nonFinite[i];
    }
    this.inexactAdds += other.inexactAdds;
  }
}

/**
 * Shewchuk's Compress: rewrites the n partials at p[base..] (increasing magnitude, non-overlapping) into an
 * equal-valued expansion with as few components as the value needs; returns the new count.
 */
function compress(p: Float64Array, base: number, n: number): number {
  const g = new Float64Array(n);
  let bottom = n - 1;
  let q = p[base + n - 1];
  for (let i = n - 2; i >= 0; i--) {
    const sum = q + p[base + i];
    const lo = p[base + i] - (sum - q);
    if (lo !== 0) {
      g[bottom--] = sum;
      q = lo;
    } else {
      q = sum;
    }
  }
  g[bottom] = q;
  let top = 0;
  for (let i = bottom + 1; i < n; i++) {
    const sum = g[i] + q;
    const lo = q - (sum - g[i]);
    if (lo !== 0) p[base + top++] = lo;
    q = sum;
  }
  p[base + top++] = q;
  return top;
}
