/**
 * Small dense linear algebra on row-major `d × d` blocks inside larger Float64Arrays (one block per mixture
 * component), so per-component matrices need no allocation.
 */

/**
 * Cholesky factor: writes lower-triangular L with A = L Lᵀ into `out[o ..]` (upper part zeroed).
 * Returns false when A is not numerically positive definite.
 */
export function choleskyLower(
  a: Float64Array,
  aOff: number,
  d: number,
  out: Float64Array,
  o: number,
): boolean {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[aOff + i * d + j];
      for (let m = 0; m < j; m++) s -= out[o + i * d + m] * out[o + j * d + m];
      if (i === j) {
        if (!(s > 0)) return false;
        out[o + i * d + i] = Math.sqrt(s);
      } else {
        out[o + i * d + j] = s / out[o + j * d + j];
      }
    }
    for (let j = i + 1; j < d; j++) out[o + i * d + j] = 0;
  }
  return true;
}

/** Inverse of a lower-triangular L (itself lower-triangular), by forward substitution column by column. */
export function invertLower(l: Float64Array, lOff: number, d: number, out: Float64Array, o: number): void {
  for (let c = 0; c < d; c++) {
    for (let i = 0; i < d; i++) {
      if (i < c) {
        out[o + i * d + c] = 0;
        continue;
      }
      let s = i === c ? 1 : 0;
      for (let m = c; m < i; m++) s -= l[lOff + i * d + m] * out[o + m * d + c];
      out[o + i * d + c] = s / l[lOff + i * d + i];
    }
  }
}

/** Lᵀ L for lower-triangular L (e.g. the inverse of A from the inverse of A's Cholesky factor). */
export function lowerTransposeTimesLower(
  l: Float64Array,
  lOff: number,
  d: number,
  out: Float64Array,
  o: number,
): void {
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let m = Math.max(i, j); m < d; m++) s += l[lOff + m * d + i] * l[lOff + m * d + j];
      out[o + i * d + j] = s;
    }
  }
}
