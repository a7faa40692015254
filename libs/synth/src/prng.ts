import { idText } from './hex';

/**
 * Seeded randomness. sfc32 keeps 128 bits of state: ids are drawn straight from it, and a 32-bit generator
 * (mulberry32) would give only 2^32 distinct 4-word ids per stream and tens of thousands of collisions at the
 * scale of the real extract.
 */

/** 32-bit finaliser (murmur3 fmix32 after a golden-ratio step). */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** sfc32 generator with helpers for the distributions the synthesiser needs. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare = NaN;

  /**
   * One independent stream per (seed, stream): every user gets its own, so a user's rows do not depend on how
   * many draws the users before it consumed.
   */
  constructor(seed: number, stream: number) {
    const lo = ((seed % 4294967296) + 4294967296) % 4294967296;
    const hi = Math.floor(seed / 4294967296) | 0;
    const h = mix32(mix32(lo) ^ hi);
    const s = mix32(stream ^ 0x5bd1e995);
    this.a = mix32(h ^ s);
    this.b = mix32(this.a ^ 0x68e31da4);
    this.c = mix32(this.b ^ s);
    this.d = 1;
    for (let i = 0; i < 15; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  uniform(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller, second value cached). */
  normal(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    const u = 1 - this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const th = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** Number of failures before the first success, P(success) = p (skips idle days without a draw per day). */
  geometric(p: number): number {
    if (p >= 1) return 0;
    return Math.floor(Math.log(1 - this.next()) / Math.log(1 - p));
  }

  /** Index drawn from a cumulative weight table (last entry = total). */
  pick(cdf: Float64Array): number {
    const x = this.next() * cdf[cdf.length - 1];
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** 32 lowercase hex characters (128 random bits). */
  hex32(): string {
    return idText(this.u32(), this.u32(), this.u32(), this.u32());
  }
}

/** Cumulative table for {@link Rng.pick}. */
export function cumulative(weights: readonly number[]): Float64Array {
  const cdf = new Float64Array(weights.length);
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i];
    cdf[i] = acc;
  }
  return cdf;
}
