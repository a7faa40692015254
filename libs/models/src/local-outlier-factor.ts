import { ModelInputError } from './errors';
import { explainByOcclusion, type Explanation } from './explain';
import { DEFAULT_LEAF_SIZE, KdTree } from './kd-tree';
import { assertMatrix, columnMedians, matrix, type Matrix } from './matrix';

/** scikit-learn adds this to mean reachability distances so duplicates (distance 0) give a finite density. */
const LRD_EPSILON = 1e-10;

/**
 * Fitted Local Outlier Factor in novelty mode: the training sample with each point's k-distance and local
 * reachability density, enough to score new points without revisiting the training set's neighbourhoods.
 */
export interface LofModel {
  kind: 'local-outlier-factor';
  version: 1;
  nFeatures: number;
  /** Effective k: min(nNeighbors, n − 1), as scikit-learn's `n_neighbors_`. */
  nNeighbors: number;
  leafSize: number;
  nTraining: number;
  /** Training sample, row-major (`nTraining × nFeatures`). */
  training: number[];
  /** Distance from each training point to its k-th neighbour (itself excluded). */
  kDistance: number[];
  /** Local reachability density of each training point. */
  lrd: number[];
  /** LOF of each training point (= −`negative_outlier_factor_` in scikit-learn). */
  trainingScores: number[];
  reference: number[];
}

export interface LofOptions {
  /** k, default 20 (scikit-learn's `n_neighbors`). */
  nNeighbors?: number;
  /** KD-tree leaf size, default 32. */
  leafSize?: number;
}

/**
 * Fits LOF (scikit-learn `LocalOutlierFactor(n_neighbors=k, novelty=True)`): neighbours by a KD-tree, k-distance,
 * reachability distance max(k-dist(o), d(p, o)), lrd(p) = 1 / (mean reach-dist + 1e-10), and
 * LOF(p) = mean over neighbours o of lrd(o) / lrd(p). Each training point's neighbours exclude itself (a duplicate of
 * it may stand in, as in scikit-learn).
 */
export function fitLof(X: Matrix, options: LofOptions = {}): LofModel {
  assertMatrix(X, 'fitLof', undefined, 2);
  const requested = options.nNeighbors ?? 20;
  const leafSize = options.leafSize ?? DEFAULT_LEAF_SIZE;
  if (!Number.isInteger(requested) || requested < 1) {
    throw new ModelInputError(`nNeighbors must be an integer ≥ 1, got ${requested}`);
  }
  const { n, d, data } = X;
  const k = Math.min(requested, n - 1);
  const tree = KdTree.build(X, leafSize);
  const nbr = new Int32Array(n * k);
  const dist = new Float64Array(n * k);
  const qi = new Int32Array(k + 1);
  const qd = new Float64Array(k + 1);
  const kDistance = new Float64Array(n);
  const order = tree.leafOrder(X);
  for (let r = 0; r < n; r++) {
    const i = order[r];
    tree.knnInto(data, i * d, k + 1, qi, qd, 0);
    // Drop the point itself; if k+1 duplicates hide it, every distance is 0 and dropping the last is equivalent.
    let self = k;
    for (let m = 0; m <= k; m++) {
      if (qi[m] === i) {
        self = m;
        break;
      }
    }
    let w = i * k;
    for (let m = 0; m <= k; m++) {
      if (m === self) continue;
      nbr[w] = qi[m];
      dist[w++] = qd[m];
    }
    kDistance[i] = dist[i * k + k - 1];
  }
  const lrd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let m = i * k; m < i * k + k; m++) sum += Math.max(dist[m], kDistance[nbr[m]]);
    lrd[i] = 1 / (sum / k + LRD_EPSILON);
  }
  const trainingScores = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let m = i * k; m < i * k + k; m++) sum += lrd[nbr[m]] / lrd[i];
    trainingScores[i] = sum / k;
  }
  const model: LofModel = {
    kind: 'local-outlier-factor',
    version: 1,
    nFeatures: d,
    nNeighbors: k,
    leafSize,
    nTraining: n,
    training: Array.from(data),
    kDistance: Array.from(kDistance),
    lrd: Array.from(lrd),
    trainingScores,
    reference: columnMedians(X),
  };
  compiled.set(model, { tree, kDistance, lrd });
  return model;
}

interface CompiledLof {
  tree: KdTree;
  kDistance: Float64Array;
  lrd: Float64Array;
}

const compiled = new WeakMap<LofModel, CompiledLof>();

function compile(model: LofModel): CompiledLof {
  let c = compiled.get(model);
  if (!c) {
    const X = matrix(model.nTraining, model.nFeatures, Float64Array.from(model.training));
    c = {
      tree: KdTree.build(X, model.leafSize),
      kDistance: Float64Array.from(model.kDistance),
      lrd: Float64Array.from(model.lrd),
    };
    compiled.set(model, c);
  }
  return c;
}

/**
 * Novelty LOF of new rows against the training sample (= −scikit-learn `score_samples` with `novelty=True`);
 * higher = more anomalous, about 1 for inliers. A row equal to a training point is scored against all k
 * neighbours, itself included, exactly as scikit-learn does for new data.
 */
export function scoreLof(model: LofModel, X: Matrix): Float64Array {
  assertMatrix(X, 'scoreLof', model.nFeatures);
  const { tree, kDistance, lrd } = compile(model);
  const k = model.nNeighbors;
  const out = new Float64Array(X.n);
  // Neighbours of every row in one batched pass (exact, the same as one search per row; see KdTree.knnAll).
  tree.knnAll(X, k, (i, qi, qd) => {
    let reach = 0;
    for (let m = 0; m < k; m++) {
      const kd = kDistance[qi[m]];
      reach += qd[m] > kd ? qd[m] : kd;
    }
    const lrdP = 1 / (reach / k + LRD_EPSILON);
    let ratio = 0;
    for (let m = 0; m < k; m++) ratio += lrd[qi[m]] / lrdP;
    out[i] = ratio / k;
  });
  return out;
}

/** Per-feature contributions for one window (see {@link explainByOcclusion}). */
export function explainLof(model: LofModel, x: ArrayLike<number>): Explanation {
  return explainByOcclusion((X) => scoreLof(model, X), x, model.reference);
}
