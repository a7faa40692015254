/**
 * Seeded randomness for fitting. xoshiro128** has 128 bits of state and passes BigCrush; all state is 32-bit
 * integers, so it runs on Math.imul without BigInt and gives identical streams on every platform.
 */

function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** generator. Same seed ⇒ same sequence. */
export class Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** Any safe integer seed; the high bits are folded in so seeds above 2^32 still give distinct streams. */
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.s0 = splitmix32(lo ^ 0x243f6a88);
    this.s1 = splitmix32(this.s0 ^ hi);
    this.s2 = splitmix32(this.s1 ^ 0x85a308d3);
    this.s3 = splitmix32(this.s2 ^ lo);
    // xoshiro must not start from the all-zero state.
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const s1 = this.s1;
    const r = Math.imul(s1, 5);
    const result = Math.imul(((r << 7) | (r >>> 25)) >>> 0, 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.u32() >>> 5;
    const lo = this.u32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }
}

/**
 * Draws `k` distinct indices from [0, n) by a partial Fisher–Yates shuffle of `pool`, which must hold a
 * permutation of [0, n). The pool stays a permutation afterwards, so it is reused across draws (one per tree)
 * without resetting: a partial shuffle of any permutation is a uniform sample.
 */
export function sampleWithoutReplacement(rng: Random, pool: Int32Array, k: number, out: Int32Array): void {
  const n = pool.length;
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
    out[i] = pool[i];
  }
}

/** Seeded sample of `min(size, n)` distinct row indices, sorted ascending (keeps the rows' original order). */
export function sampleIndices(n: number, size: number, seed: number): Int32Array {
  const k = Math.min(size, n);
  const pool = new Int32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  const out = new Int32Array(k);
  sampleWithoutReplacement(new Random(seed), pool, k, out);
  return out.sort();
}
