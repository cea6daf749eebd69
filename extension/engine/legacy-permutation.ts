/**
 * The permutation numpy's legacy RandomState(seed).permutation(n) gives (MT19937 seeded with init_genrand, then a
 * Fisher-Yates shuffle from the end drawing each index by masked rejection on 32-bit outputs). pandas'
 * DataFrame.sample(n, random_state=seed) takes the rows at the first n entries of this permutation, so this
 * reproduces the paper's seeded samples exactly (checked against numpy in test/unit/error-latents.test.ts).
 */
class MersenneTwister {
  private readonly mt = new Uint32Array(624);
  private index = 624;

  constructor(seed: number) {
    this.mt[0] = seed >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = this.mt[i - 1] ^ (this.mt[i - 1] >>> 30);
      this.mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
  }

  private twist(): void {
    const mt = this.mt;
    for (let i = 0; i < 624; i++) {
      const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
      mt[i] = mt[(i + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }

  next32(): number {
    if (this.index >= 624) this.twist();
    let y = this.mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    return (y ^ (y >>> 18)) >>> 0;
  }
}

export function legacyPermutation(n: number, seed: number): Int32Array {
  if (!(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff)) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  if (n > 0xffffffff) throw new RangeError('permutations above 2^32 elements are not supported');
  const rng = new MersenneTwister(seed);
  const a = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i >= 1; i--) {
    let mask = i;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    let j: number;
    do j = (rng.next32() & mask) >>> 0;
    while (j > i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
