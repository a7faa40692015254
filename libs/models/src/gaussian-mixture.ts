import { ModelFitError, ModelInputError } from './errors';
import { explainByOcclusion, type Explanation } from './explain';
import { choleskyLower, invertLower, lowerTransposeTimesLower } from './linalg';
import { assertMatrix, columnMedians, type Matrix } from './matrix';
import { Random } from './random';

export type CovarianceType = 'full' | 'diag';

const LOG_2PI = Math.log(2 * Math.PI);
/** scikit-learn adds 10 × float64 epsilon to component masses so an empty component does not divide by zero. */
const MASS_EPSILON = 10 * Number.EPSILON;

/** Fitted Gaussian mixture. Plain JSON; matrices are flat row-major. */
export interface GaussianMixtureModel {
  kind: 'gaussian-mixture';
  version: 1;
  nFeatures: number;
  nComponents: number;
  covarianceType: CovarianceType;
  /** Mixing weights, sum 1. */
  weights: number[];
  /** `nComponents × nFeatures`. */
  means: number[];
  /** 'full': `nComponents × nFeatures × nFeatures` covariance matrices; 'diag': `nComponents × nFeatures` variances. */
  covariances: number[];
  regCovar: number;
  /** Mean log-likelihood at the last E-step (scikit-learn's `lower_bound_`). */
  lowerBound: number;
  nIter: number;
  converged: boolean;
  reference: number[];
}

/** Starting parameters, as scikit-learn's `weights_init`, `means_init` and `precisions_init`. */
export interface GaussianMixtureInit {
  weights: number[];
  means: number[][];
  /** 'full': one d × d precision matrix per component; 'diag': one vector of per-feature precisions. */
  precisions?: number[][][] | number[][];
  /** Alternative to `precisions`, same shapes. */
  covariances?: number[][][] | number[][];
}

export interface GaussianMixtureOptions {
  /** Components, default 1 (as scikit-learn). */
  nComponents?: number;
  covarianceType?: CovarianceType;
  /** Convergence threshold on the change of the mean log-likelihood, default 1e-3. */
  tol?: number;
  /** Added to covariance diagonals so they stay positive definite, default 1e-6. */
  regCovar?: number;
  maxIter?: number;
  seed?: number;
  /** Given starting parameters; without them, k-means++ seeding (plus Lloyd steps) initialises EM. */
  init?: GaussianMixtureInit;
  /** Lloyd iterations after k-means++ seeding, default 10; 0 keeps the seeds as centres. */
  kmeansIterations?: number;
}

/** Working parameters: weights, means and, per component, the inverse Cholesky factor of the covariance. */
interface Params {
  k: number;
  d: number;
  full: boolean;
  weights: Float64Array;
  means: Float64Array;
  /** 'full': covariances (k·d·d); 'diag': variances (k·d). */
  cov: Float64Array;
  /** 'full': L⁻¹ with cov = L Lᵀ (lower, k·d·d); 'diag': 1/σ (k·d). ‖L⁻¹(x − μ)‖² is the Mahalanobis term. */
  whiten: Float64Array;
  /** log |L⁻¹| = −½ log |cov| per component. */
  logDet: Float64Array;
  /** log weight + log |L⁻¹| − (d/2) log 2π: everything in a component's log-density but the Mahalanobis term. */
  logConst: Float64Array;
}

/**
 * Fits a Gaussian mixture by EM as scikit-learn's `GaussianMixture` (n_init=1): E-step log-responsibilities with
 * a stable log-sum-exp, M-step weights/means/covariances with `reg_covar` on the diagonal, stop when the mean
 * log-likelihood changes by less than `tol` or after `maxIter` iterations, keep the parameters of the last M-step.
 * With `init` given (weights, means, precisions) it follows scikit-learn's trajectory from the same start.
 */
export function fitGaussianMixture(X: Matrix, options: GaussianMixtureOptions = {}): GaussianMixtureModel {
  assertMatrix(X, 'fitGaussianMixture', undefined, 1);
  const covarianceType = options.covarianceType ?? 'full';
  const k = options.init?.weights.length ?? options.nComponents ?? 1;
  if (options.init && options.nComponents !== undefined && options.nComponents !== k) {
    throw new ModelInputError(`nComponents is ${options.nComponents} but init has ${k} components`);
  }
  const tol = options.tol ?? 1e-3;
  const regCovar = options.regCovar ?? 1e-6;
  const maxIter = options.maxIter ?? 100;
  if (covarianceType !== 'full' && covarianceType !== 'diag') {
    throw new ModelInputError(`covarianceType must be 'full' or 'diag', got ${String(covarianceType)}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > X.n) {
    throw new ModelInputError(`nComponents must be an integer in [1, ${X.n}] (the row count), got ${k}`);
  }
  if (!(regCovar >= 0)) throw new ModelInputError(`regCovar must be ≥ 0, got ${regCovar}`);
  if (!Number.isInteger(maxIter) || maxIter < 1)
    throw new ModelInputError(`maxIter must be ≥ 1, got ${maxIter}`);

  const resp = new Float64Array(X.n * k);
  const params = options.init
    ? paramsFromInit(options.init, X.d, covarianceType)
    : kmeansInit(X, k, covarianceType, regCovar, options.seed ?? 0, options.kmeansIterations ?? 10, resp);

  let lowerBound = -Infinity;
  let nIter = 0;
  let converged = false;
  for (let iter = 1; iter <= maxIter; iter++) {
    nIter = iter;
    const prev = lowerBound;
    lowerBound = eStep(X, params, resp);
    mStep(X, resp, params, regCovar);
    if (Math.abs(lowerBound - prev) < tol) {
      converged = true;
      break;
    }
  }
  return {
    kind: 'gaussian-mixture',
    version: 1,
    nFeatures: X.d,
    nComponents: k,
    covarianceType,
    weights: Array.from(params.weights),
    means: Array.from(params.means),
    covariances: Array.from(params.cov),
    regCovar,
    lowerBound,
    nIter,
    converged,
    reference: columnMedians(X),
  };
}

function newParams(k: number, d: number, full: boolean): Params {
  return {
    k,
    d,
    full,
    weights: new Float64Array(k),
    means: new Float64Array(k * d),
    cov: new Float64Array(full ? k * d * d : k * d),
    whiten: new Float64Array(full ? k * d * d : k * d),
    logDet: new Float64Array(k),
    logConst: new Float64Array(k),
  };
}

/**
 * Derives whitening factors, log-determinants and per-component constants from `weights` and `cov`; fails like
 * scikit-learn on a singular covariance.
 */
function factorise(p: Params): void {
  const { k, d } = p;
  factoriseCovariances(p);
  for (let c = 0; c < k; c++) p.logConst[c] = Math.log(p.weights[c]) + p.logDet[c] - 0.5 * d * LOG_2PI;
}

function factoriseCovariances(p: Params): void {
  const { k, d } = p;
  if (p.full) {
    const l = new Float64Array(d * d);
    for (let c = 0; c < k; c++) {
      if (!choleskyLower(p.cov, c * d * d, d, l, 0)) throw illDefined();
      invertLower(l, 0, d, p.whiten, c * d * d);
      let ld = 0;
      for (let j = 0; j < d; j++) ld += Math.log(p.whiten[c * d * d + j * d + j]);
      p.logDet[c] = ld;
    }
  } else {
    for (let c = 0; c < k; c++) {
      let ld = 0;
      for (let j = 0; j < d; j++) {
        const v = p.cov[c * d + j];
        if (!(v > 0)) throw illDefined();
        p.whiten[c * d + j] = 1 / Math.sqrt(v);
        ld += Math.log(p.whiten[c * d + j]);
      }
      p.logDet[c] = ld;
    }
  }
}

function illDefined(): ModelFitError {
  return new ModelFitError(
    'Gaussian mixture fit failed: a component has an ill-defined (singular) covariance. Decrease nComponents, ' +
      'increase regCovar, or scale the features.',
  );
}

function paramsFromInit(init: GaussianMixtureInit, d: number, type: CovarianceType): Params {
  const k = init.weights.length;
  const full = type === 'full';
  const p = newParams(k, d, full);
  if (init.means.length !== k || init.means.some((m) => m.length !== d)) {
    throw new ModelInputError(`init.means must be ${k} × ${d}`);
  }
  const given = init.covariances ?? init.precisions;
  if (!given || given.length !== k) throw new ModelInputError(`init needs ${k} precisions or covariances`);
  const sum = init.weights.reduce((a, b) => a + b, 0);
  for (let c = 0; c < k; c++) {
    p.weights[c] = init.weights[c] / sum;
    p.means.set(init.means[c], c * d);
  }
  const isPrecision = init.covariances === undefined;
  if (full) {
    const m = new Float64Array(d * d);
    const l = new Float64Array(d * d);
    const li = new Float64Array(d * d);
    for (let c = 0; c < k; c++) {
      const block = given[c] as number[][];
      if (block.length !== d || block.some((r) => !Array.isArray(r) || r.length !== d)) {
        throw new ModelInputError(`init matrices must be ${d} × ${d} for covarianceType 'full'`);
      }
      for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) m[i * d + j] = block[i][j];
      if (isPrecision) {
        // Σ = P⁻¹ = L_P⁻ᵀ L_P⁻¹ with P = L_P L_Pᵀ.
        if (!choleskyLower(m, 0, d, l, 0))
          throw new ModelInputError(`init precision ${c} is not positive definite`);
        invertLower(l, 0, d, li, 0);
        lowerTransposeTimesLower(li, 0, d, p.cov, c * d * d);
      } else {
        p.cov.set(m, c * d * d);
      }
    }
  } else {
    for (let c = 0; c < k; c++) {
      const v = given[c] as number[];
      if (v.length !== d || v.some((x) => typeof x !== 'number')) {
        throw new ModelInputError(`init vectors must have ${d} values for covarianceType 'diag'`);
      }
      for (let j = 0; j < d; j++) p.cov[c * d + j] = isPrecision ? 1 / v[j] : v[j];
    }
  }
  factorise(p);
  return p;
}

/**
 * k-means++ seeding as scikit-learn's `kmeans_plusplus` (first centre uniform, then 2 + ⌊ln k⌋ candidates drawn ∝ D²
 * and the one lowering the potential most kept), optional Lloyd steps, then one M-step from hard responsibilities
 * (scikit-learn's 'kmeans' initialisation).
 */
function kmeansInit(
  X: Matrix,
  k: number,
  type: CovarianceType,
  regCovar: number,
  seed: number,
  lloyd: number,
  resp: Float64Array,
): Params {
  const { n, d, data } = X;
  const rng = new Random(seed);
  const centres = new Float64Array(k * d);
  const sqDist = (i: number, cs: Float64Array, c: number): number => {
    let s = 0;
    for (let j = 0; j < d; j++) {
      const t = data[i * d + j] - cs[c * d + j];
      s += t * t;
    }
    return s;
  };
  const first = rng.int(n);
  centres.set(data.subarray(first * d, first * d + d), 0);
  let closest = new Float64Array(n);
  let pot = 0;
  for (let i = 0; i < n; i++) pot += closest[i] = sqDist(i, centres, 0);
  const trials = 2 + Math.floor(Math.log(k));
  const cum = new Float64Array(n);
  let cand = new Float64Array(n);
  let bestD = new Float64Array(n);
  for (let c = 1; c < k; c++) {
    let acc = 0;
    for (let i = 0; i < n; i++) cum[i] = acc += closest[i];
    let bestPot = Infinity;
    let bestId = 0;
    for (let t = 0; t < trials; t++) {
      const r = rng.next() * pot;
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cum[mid] < r) lo = mid + 1;
        else hi = mid;
      }
      const id = lo;
      let candPot = 0;
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) {
          const u = data[i * d + j] - data[id * d + j];
          s += u * u;
        }
        candPot += cand[i] = Math.min(closest[i], s);
      }
      if (candPot < bestPot) {
        bestPot = candPot;
        bestId = id;
        [bestD, cand] = [cand, bestD];
      }
    }
    pot = bestPot;
    [closest, bestD] = [bestD, closest];
    centres.set(data.subarray(bestId * d, bestId * d + d), c * d);
  }

  const label = new Int32Array(n);
  const assign = (): boolean => {
    let changed = false;
    for (let i = 0; i < n; i++) {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const s = sqDist(i, centres, c);
        if (s < bd) {
          bd = s;
          best = c;
        }
      }
      if (label[i] !== best) changed = true;
      label[i] = best;
    }
    return changed;
  };
  assign();
  const count = new Float64Array(k);
  for (let it = 0; it < lloyd; it++) {
    const sums = new Float64Array(k * d);
    count.fill(0);
    for (let i = 0; i < n; i++) {
      count[label[i]]++;
      for (let j = 0; j < d; j++) sums[label[i] * d + j] += data[i * d + j];
    }
    // An emptied cluster keeps its previous centre rather than collapsing to the origin.
    for (let c = 0; c < k; c++)
      if (count[c] > 0) for (let j = 0; j < d; j++) centres[c * d + j] = sums[c * d + j] / count[c];
    if (!assign()) break;
  }
  resp.fill(0);
  for (let i = 0; i < n; i++) resp[i * k + label[i]] = 1;
  const p = newParams(k, d, type === 'full');
  mStep(X, resp, p, regCovar);
  return p;
}

/** Log-density of row `i` under component `c` plus its log-weight. */
function weightedLogProb(data: Float64Array, off: number, p: Params, c: number, diff: Float64Array): number {
  const d = p.d;
  let q = 0;
  if (p.full) {
    const w = p.whiten;
    const b = c * d * d;
    for (let j = 0; j < d; j++) diff[j] = data[off + j] - p.means[c * d + j];
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let m = 0; m <= j; m++) s += w[b + j * d + m] * diff[m];
      q += s * s;
    }
  } else {
    for (let j = 0; j < d; j++) {
      const s = (data[off + j] - p.means[c * d + j]) * p.whiten[c * d + j];
      q += s * s;
    }
  }
  return p.logConst[c] - 0.5 * q;
}

/** Fills `resp` with responsibilities; returns the mean log-likelihood (scikit-learn's lower bound). */
function eStep(X: Matrix, p: Params, resp: Float64Array): number {
  const { n, d, data } = X;
  const k = p.k;
  const diff = new Float64Array(d);
  let total = 0;
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = weightedLogProb(data, i * d, p, c, diff);
      resp[i * k + c] = v;
      if (v > mx) mx = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(resp[i * k + c] - mx);
    const norm = mx + Math.log(s);
    total += norm;
    for (let c = 0; c < k; c++) resp[i * k + c] = Math.exp(resp[i * k + c] - norm);
  }
  return total / n;
}

/** Re-estimates weights, means and (regularised) covariances from responsibilities, then refactorises. */
function mStep(X: Matrix, resp: Float64Array, p: Params, regCovar: number): void {
  const { n, d, data } = X;
  const k = p.k;
  const nk = new Float64Array(k);
  p.means.fill(0);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      const r = resp[i * k + c];
      nk[c] += r;
      for (let j = 0; j < d; j++) p.means[c * d + j] += r * data[i * d + j];
    }
  }
  let totalMass = 0;
  for (let c = 0; c < k; c++) {
    nk[c] += MASS_EPSILON;
    totalMass += nk[c];
    for (let j = 0; j < d; j++) p.means[c * d + j] /= nk[c];
  }
  for (let c = 0; c < k; c++) p.weights[c] = nk[c] / totalMass;
  p.cov.fill(0);
  const diff = new Float64Array(d);
  if (p.full) {
    // Two-pass (centred) accumulation: stable for features far from the origin.
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        const r = resp[i * k + c];
        if (r === 0) continue;
        const b = c * d * d;
        for (let j = 0; j < d; j++) diff[j] = data[i * d + j] - p.means[c * d + j];
        for (let a = 0; a < d; a++) {
          const ra = r * diff[a];
          for (let j = 0; j <= a; j++) p.cov[b + a * d + j] += ra * diff[j];
        }
      }
    }
    for (let c = 0; c < k; c++) {
      const b = c * d * d;
      for (let a = 0; a < d; a++) {
        for (let j = 0; j <= a; j++) {
          const v = p.cov[b + a * d + j] / nk[c];
          p.cov[b + a * d + j] = v;
          p.cov[b + j * d + a] = v;
        }
        p.cov[b + a * d + a] += regCovar;
      }
    }
  } else {
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < k; c++) {
        const r = resp[i * k + c];
        if (r === 0) continue;
        for (let j = 0; j < d; j++) {
          const t = data[i * d + j] - p.means[c * d + j];
          p.cov[c * d + j] += r * t * t;
        }
      }
    }
    for (let c = 0; c < k; c++)
      for (let j = 0; j < d; j++) p.cov[c * d + j] = p.cov[c * d + j] / nk[c] + regCovar;
  }
  factorise(p);
}

const compiled = new WeakMap<GaussianMixtureModel, Params>();

function compile(model: GaussianMixtureModel): Params {
  let p = compiled.get(model);
  if (!p) {
    p = newParams(model.nComponents, model.nFeatures, model.covarianceType === 'full');
    p.weights.set(model.weights);
    p.means.set(model.means);
    p.cov.set(model.covariances);
    factorise(p);
    compiled.set(model, p);
  }
  return p;
}

/**
 * Log-likelihood log p(x) of each row (scikit-learn's `score_samples`). The anomaly score is its negative,
 * {@link scoreGaussianMixture}.
 */
export function logLikelihoodGaussianMixture(model: GaussianMixtureModel, X: Matrix): Float64Array {
  assertMatrix(X, 'logLikelihoodGaussianMixture', model.nFeatures);
  const p = compile(model);
  const { n, d, data } = X;
  const k = p.k;
  const diff = new Float64Array(d);
  const lp = new Float64Array(k);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let c = 0; c < k; c++) {
      const v = weightedLogProb(data, i * d, p, c, diff);
      lp[c] = v;
      if (v > mx) mx = v;
    }
    let s = 0;
    for (let c = 0; c < k; c++) s += Math.exp(lp[c] - mx);
    out[i] = mx + Math.log(s);
  }
  return out;
}

/** Negative log-likelihood per row: higher = more anomalous (−scikit-learn `score_samples`). */
export function scoreGaussianMixture(model: GaussianMixtureModel, X: Matrix): Float64Array {
  const ll = logLikelihoodGaussianMixture(model, X);
  for (let i = 0; i < ll.length; i++) ll[i] = -ll[i];
  return ll;
}

/** Per-feature contributions for one window (see {@link explainByOcclusion}). */
export function explainGaussianMixture(model: GaussianMixtureModel, x: ArrayLike<number>): Explanation {
  return explainByOcclusion((X) => scoreGaussianMixture(model, X), x, model.reference);
}
