import { ModelInputError } from './errors';

/**
 * Dense row-major matrix: row `i`, column `j` lives at `data[i * d + j]`. One flat Float64Array keeps millions of
 * windows in a single allocation that hot loops index without bounds-checked object access.
 */
export interface Matrix {
  readonly n: number;
  readonly d: number;
  readonly data: Float64Array;
}

/** Wraps (or allocates) a row-major buffer; throws when the length does not match `n × d`. */
export function matrix(n: number, d: number, data?: Float64Array): Matrix {
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(d) || d < 1) {
    throw new ModelInputError(`matrix shape must be integers n ≥ 0, d ≥ 1 (got ${n} × ${d})`);
  }
  const buf = data ?? new Float64Array(n * d);
  if (buf.length !== n * d)
    throw new ModelInputError(`matrix buffer has ${buf.length} values, expected ${n} × ${d}`);
  return { n, d, data: buf };
}

/**
 * Builds a matrix from nested arrays (tests, fixtures, small inputs).
 * @example fromRows([[1, 2], [3, 4]]) // n = 2, d = 2
 */
export function fromRows(rows: readonly (readonly number[])[]): Matrix {
  if (rows.length === 0)
    throw new ModelInputError('fromRows needs at least one row to know the feature count');
  const d = rows[0].length;
  const data = new Float64Array(rows.length * d);
  for (let i = 0; i < rows.length; i++) {
    if (rows[i].length !== d)
      throw new ModelInputError(`row ${i} has ${rows[i].length} values, expected ${d}`);
    data.set(rows[i], i * d);
  }
  return matrix(rows.length, d, data);
}

/** Nested arrays from a matrix (the inverse of {@link fromRows}). */
export function toRows(X: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < X.n; i++) out.push(Array.from(X.data.subarray(i * X.d, (i + 1) * X.d)));
  return out;
}

/** Row `i` as a view (no copy). */
export function row(X: Matrix, i: number): Float64Array {
  return X.data.subarray(i * X.d, (i + 1) * X.d);
}

/** Copies the listed rows into a new matrix. */
export function takeRows(X: Matrix, indices: ArrayLike<number>): Matrix {
  const out = new Float64Array(indices.length * X.d);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r];
    out.set(X.data.subarray(i * X.d, (i + 1) * X.d), r * X.d);
  }
  return matrix(indices.length, X.d, out);
}

/** Throws unless `X` is a well-formed matrix of finite values (optionally with `d` columns and ≥ `minRows` rows). */
export function assertMatrix(X: Matrix, what: string, d?: number, minRows = 0): void {
  if (!X || !(X.data instanceof Float64Array) || X.data.length !== X.n * X.d) {
    throw new ModelInputError(
      `${what}: expected a Matrix { n, d, data: Float64Array } with data.length = n × d`,
    );
  }
  if (d !== undefined && X.d !== d)
    throw new ModelInputError(`${what}: model expects ${d} features, got ${X.d}`);
  if (X.n < minRows) throw new ModelInputError(`${what}: needs at least ${minRows} rows, got ${X.n}`);
  const a = X.data;
  for (let i = 0; i < a.length; i++) {
    // `x - x` is NaN for ±Infinity and NaN, so one comparison covers every non-finite value.
    if (a[i] - a[i] !== 0) {
      throw new ModelInputError(
        `${what}: non-finite value ${a[i]} at row ${Math.floor(i / X.d)}, column ${i % X.d}`,
      );
    }
  }
}

/** Throws unless `x` is one finite row of `d` features. */
export function assertRow(x: ArrayLike<number>, what: string, d: number): void {
  if (x.length !== d) throw new ModelInputError(`${what}: model expects ${d} features, got ${x.length}`);
  for (let j = 0; j < d; j++) {
    if (x[j] - x[j] !== 0) throw new ModelInputError(`${what}: non-finite value ${x[j]} in column ${j}`);
  }
}

/** Per-column medians (the reference point that explanations substitute a feature with). */
export function columnMedians(X: Matrix): number[] {
  const col = new Float64Array(X.n);
  const out: number[] = [];
  for (let j = 0; j < X.d; j++) {
    for (let i = 0; i < X.n; i++) col[i] = X.data[i * X.d + j];
    col.sort();
    out.push(quantileSorted(col, 0.5));
  }
  return out;
}

/** Linear-interpolation quantile of sorted values (numpy's default `method="linear"`). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return frac === 0 ? sorted[lo] : sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}
