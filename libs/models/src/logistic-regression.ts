import { ModelFitError } from './errors';
import { binaryClassWeights } from './class-weights';
import { choleskyLower } from './linalg';
import { assertMatrix, type Matrix } from './matrix';

/** Fitted binary logistic regression: P(y = 1 | x) = σ(intercept + Σ coef[j]·x[j]), natural-log odds. Plain JSON. */
export interface LogisticRegressionModel {
  kind: 'logistic-regression';
  version: 1;
  coef: number[];
  intercept: number;
  /** Newton iterations run, and whether the largest step fell under the tolerance. */
  iterations: number;
  converged: boolean;
}

export interface LogisticRegressionOptions {
  /** Ridge penalty λ on the coefficients (not the intercept), on the mean loss: λ/2·‖coef‖²; default 1e-4. */
  l2?: number;
  /**
   * Weight of the positive class relative to the negative one; 'balanced' (default) weighs each class by the
   * inverse of its count, as scikit-learn's class_weight='balanced', so a rare class is not drowned out.
   */
  positiveWeight?: number | 'balanced';
  maxIterations?: number;
  tolerance?: number;
}

/**
 * Fits a weighted, L2-regularised logistic regression by Newton's method (iteratively reweighted least squares):
 * the loss is convex, so a few exact steps converge to the unique optimum, deterministically. Each step solves the
 * (d+1)² Hessian system by Cholesky; the data is read once per step, so millions of rows of a few features are fine.
 */
export function fitLogisticRegression(
  X: Matrix,
  y: ArrayLike<number>,
  options: LogisticRegressionOptions = {},
): LogisticRegressionModel {
  assertMatrix(X, 'fitLogisticRegression', undefined, 2);
  const { n, d, data } = X;
  const { positives, wPos, wNeg } = binaryClassWeights(y, n, options.positiveWeight ?? 'balanced', 'fitLogisticRegression');
  const l2 = options.l2 ?? 1e-4;
  const maxIterations = options.maxIterations ?? 50;
  const tolerance = options.tolerance ?? 1e-10;
  const D = d + 1; // coefficients, then the intercept
  const beta = new Float64Array(D);
  const grad = new Float64Array(D);
  const hess = new Float64Array(D * D);
  const chol = new Float64Array(D * D);
  const step = new Float64Array(D);
  let iterations = 0;
  let converged = false;
  const totalWeight = wPos * positives + wNeg * (n - positives);
  while (iterations < maxIterations && !converged) {
    iterations++;
    grad.fill(0);
    hess.fill(0);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      let s = beta[d];
      for (let j = 0; j < d; j++) s += beta[j] * data[o + j];
      const p = 1 / (1 + Math.exp(-s));
      const w = y[i] === 1 ? wPos : wNeg;
      const e = w * (p - y[i]);
      const h = w * p * (1 - p);
      for (let j = 0; j < D; j++) {
        const xj = j < d ? data[o + j] : 1;
        grad[j] += e * xj;
        const hx = h * xj;
        for (let k = 0; k <= j; k++) hess[j * D + k] += hx * (k < d ? data[o + k] : 1);
      }
    }
    for (let j = 0; j < D; j++) {
      grad[j] = grad[j] / totalWeight + (j < d ? l2 * beta[j] : 0);
      for (let k = 0; k <= j; k++) {
        const v = hess[j * D + k] / totalWeight + (j === k && j < d ? l2 : 0);
        hess[j * D + k] = v;
        hess[k * D + j] = v;
      }
    }
    if (!choleskyLower(hess, 0, D, chol, 0)) {
      throw new ModelFitError('fitLogisticRegression: the Hessian is singular (a constant or duplicated feature?); raise l2');
    }
    // Solve L Lᵀ step = grad.
    for (let i = 0; i < D; i++) {
      let s = grad[i];
      for (let k = 0; k < i; k++) s -= chol[i * D + k] * step[k];
      step[i] = s / chol[i * D + i];
    }
    for (let i = D - 1; i >= 0; i--) {
      let s = step[i];
      for (let k = i + 1; k < D; k++) s -= chol[k * D + i] * step[k];
      step[i] = s / chol[i * D + i];
    }
    let largest = 0;
    for (let j = 0; j < D; j++) {
      beta[j] -= step[j];
      largest = Math.max(largest, Math.abs(step[j]));
    }
    if (!Number.isFinite(largest)) throw new ModelFitError('fitLogisticRegression diverged (perfectly separable data? raise l2)');
    converged = largest < tolerance;
  }
  return { kind: 'logistic-regression', version: 1, coef: Array.from(beta.subarray(0, d)), intercept: beta[d], iterations, converged };
}

/** Log-odds (natural log) of each row: intercept + Σ coef·x. */
export function decisionLogisticRegression(model: LogisticRegressionModel, X: Matrix): Float64Array {
  assertMatrix(X, 'decisionLogisticRegression', model.coef.length);
  const out = new Float64Array(X.n);
  for (let i = 0; i < X.n; i++) {
    let s = model.intercept;
    for (let j = 0; j < X.d; j++) s += model.coef[j] * X.data[i * X.d + j];
    out[i] = s;
  }
  return out;
}
