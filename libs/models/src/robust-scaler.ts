import { ModelInputError } from './errors';
import { assertMatrix, matrix, quantileSorted, type Matrix } from './matrix';

/** Fitted robust scaler: `(x - center) / scale` per feature. Plain JSON. */
export interface RobustScalerModel {
  kind: 'robust-scaler';
  version: 1;
  nFeatures: number;
  /** Per-feature median. */
  center: number[];
  /** Per-feature inter-quantile range; 1 where the range is (numerically) zero, as scikit-learn. */
  scale: number[];
  quantileRange: [number, number];
}

export interface RobustScalerOptions {
  /** Percentiles of the range used as scale (scikit-learn's `quantile_range`), default [25, 75]. */
  quantileRange?: [number, number];
}

/**
 * Fits scikit-learn's `RobustScaler` (with_centering, with_scaling): median and the 25–75 percentile range with
 * numpy's linear interpolation. A zero range becomes 1 so constant features pass through centred instead of
 * dividing by zero. Medians and quartiles keep a few huge windows from squashing every other one towards 0.
 */
export function fitRobustScaler(X: Matrix, options: RobustScalerOptions = {}): RobustScalerModel {
  assertMatrix(X, 'fitRobustScaler', undefined, 1);
  const [qLo, qHi] = options.quantileRange ?? [25, 75];
  if (!(qLo >= 0 && qLo <= qHi && qHi <= 100)) {
    throw new ModelInputError(`quantileRange must satisfy 0 ≤ low ≤ high ≤ 100, got [${qLo}, ${qHi}]`);
  }
  const col = new Float64Array(X.n);
  const center: number[] = [];
  const scale: number[] = [];
  for (let j = 0; j < X.d; j++) {
    for (let i = 0; i < X.n; i++) col[i] = X.data[i * X.d + j];
    col.sort();
    center.push(quantileSorted(col, 0.5));
    const range = quantileSorted(col, qHi / 100) - quantileSorted(col, qLo / 100);
    // scikit-learn's _handle_zeros_in_scale: anything below 10 × machine epsilon counts as zero.
    scale.push(range < 10 * Number.EPSILON ? 1 : range);
  }
  return { kind: 'robust-scaler', version: 1, nFeatures: X.d, center, scale, quantileRange: [qLo, qHi] };
}

/** Scales `X` into a new matrix. */
export function transformRobust(model: RobustScalerModel, X: Matrix): Matrix {
  if (X.d !== model.nFeatures)
    throw new ModelInputError(`scaler expects ${model.nFeatures} features, got ${X.d}`);
  const out = new Float64Array(X.data.length);
  const d = X.d;
  const c = Float64Array.from(model.center);
  const s = Float64Array.from(model.scale);
  for (let i = 0; i < X.n; i++) {
    const b = i * d;
    for (let j = 0; j < d; j++) out[b + j] = (X.data[b + j] - c[j]) / s[j];
  }
  return matrix(X.n, d, out);
}

/** Maps scaled values back to the original units. */
export function inverseTransformRobust(model: RobustScalerModel, X: Matrix): Matrix {
  if (X.d !== model.nFeatures)
    throw new ModelInputError(`scaler expects ${model.nFeatures} features, got ${X.d}`);
  const out = new Float64Array(X.data.length);
  for (let i = 0; i < X.n; i++) {
    for (let j = 0; j < X.d; j++) out[i * X.d + j] = X.data[i * X.d + j] * model.scale[j] + model.center[j];
  }
  return matrix(X.n, X.d, out);
}
