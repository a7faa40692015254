import { ModelFitError, ModelInputError } from './errors';
import { explainByOcclusion, type Explanation } from './explain';
import { DEFAULT_LEAF_SIZE, KdTree } from './kd-tree';
import { assertMatrix, columnMedians, matrix, takeRows, type Matrix } from './matrix';
import { sampleIndices } from './random';

/** Fitted DBSCAN: training labels plus the core points that score new windows. */
export interface DbscanModel {
  kind: 'dbscan';
  version: 1;
  nFeatures: number;
  eps: number;
  minSamples: number;
  leafSize: number;
  /** Cluster of each training row, -1 for noise (scikit-learn's `labels_`, same numbering). */
  labels: number[];
  nClusters: number;
  /** Training-row index of each core point, ascending (scikit-learn's `core_sample_indices_`). */
  coreIndices: number[];
  /** Core points, row-major (`coreIndices.length × nFeatures`). */
  core: number[];
  reference: number[];
}

export interface DbscanOptions {
  /** Neighbourhood radius (inclusive: distance ≤ eps). */
  eps: number;
  /** Points within eps, the point itself counted, needed to be a core point; default 5 (as scikit-learn). */
  minSamples?: number;
  leafSize?: number;
}

/**
 * DBSCAN as scikit-learn runs it: a point is core when at least `minSamples` points (itself included) lie within
 * `eps`; clusters grow depth-first from each unlabelled core point in row order, so a border point reachable from
 * two clusters joins the first one, and labels match scikit-learn's exactly (not only up to renaming).
 *
 * Region queries use a KD-tree and neighbourhoods are never stored, so memory stays O(n) however dense the data:
 * the core test counts neighbours only up to `minSamples`, and expansion fetches each core point's neighbours
 * that no cluster has claimed yet, skipping subtrees already claimed.
 */
export function fitDbscan(X: Matrix, options: DbscanOptions): DbscanModel {
  assertMatrix(X, 'fitDbscan', undefined, 1);
  const { eps } = options;
  const minSamples = options.minSamples ?? 5;
  const leafSize = options.leafSize ?? DEFAULT_LEAF_SIZE;
  if (!(eps > 0) || !Number.isFinite(eps)) {
    throw new ModelInputError(`eps must be a positive number, got ${eps}`);
  }
  if (!Number.isInteger(minSamples) || minSamples < 1) {
    throw new ModelInputError(`minSamples must be an integer ≥ 1, got ${minSamples}`);
  }
  const { n, d, data } = X;
  const tree = KdTree.build(X, leafSize);
  const isCore = new Uint8Array(n);
  for (const i of tree.leafOrder(X))
    if (tree.radiusCount(data, i * d, eps, minSamples) >= minSamples) isCore[i] = 1;

  // A point is open until it is pushed onto a cluster's stack: an open point is exactly one with label -1 that
  // scikit-learn would push, so taking only open neighbours reproduces its labels while skipping claimed subtrees.
  const open = tree.openSet();
  const labels = new Int32Array(n).fill(-1);
  const stack: number[] = [];
  let label = 0;
  for (let i0 = 0; i0 < n; i0++) {
    if (labels[i0] !== -1 || !isCore[i0]) continue;
    tree.close(open, i0);
    stack.push(i0);
    while (stack.length > 0) {
      const i = stack.pop() as number;
      labels[i] = label;
      if (isCore[i]) tree.takeOpenWithin(data, i * d, eps, open, stack);
    }
    label++;
  }

  const coreIndices: number[] = [];
  for (let i = 0; i < n; i++) if (isCore[i]) coreIndices.push(i);
  return {
    kind: 'dbscan',
    version: 1,
    nFeatures: d,
    eps,
    minSamples,
    leafSize,
    labels: Array.from(labels),
    nClusters: label,
    coreIndices,
    core: Array.from(takeRows(X, coreIndices).data),
    reference: columnMedians(X),
  };
}

interface CompiledDbscan {
  tree: KdTree;
  coreLabels: Int32Array;
}

const compiled = new WeakMap<DbscanModel, CompiledDbscan>();

function compile(model: DbscanModel): CompiledDbscan {
  let c = compiled.get(model);
  if (!c) {
    if (model.coreIndices.length === 0) {
      throw new ModelFitError(
        `DBSCAN found no core point (eps=${model.eps}, minSamples=${model.minSamples}): raise eps or lower minSamples`,
      );
    }
    const core = matrix(model.coreIndices.length, model.nFeatures, Float64Array.from(model.core));
    c = {
      tree: KdTree.build(core, model.leafSize),
      coreLabels: Int32Array.from(model.coreIndices, (i) => model.labels[i]),
    };
    compiled.set(model, c);
  }
  return c;
}

/**
 * Distance from each row to the nearest core point; higher = more anomalous. A score ≤ eps means DBSCAN would put
 * the row in that core point's cluster; dividing by eps gives a unit-free score.
 * Throws {@link ModelFitError} when the model has no core point (nothing to measure against).
 */
export function scoreDbscan(model: DbscanModel, X: Matrix): Float64Array {
  assertMatrix(X, 'scoreDbscan', model.nFeatures);
  const { tree } = compile(model);
  const out = new Float64Array(X.n);
  tree.knnAll(X, 1, (i, _idx, dist) => (out[i] = dist[0]));
  return out;
}

/** Cluster of each new row: the nearest core point's cluster when within eps, else -1 (noise). */
export function predictDbscan(model: DbscanModel, X: Matrix): Int32Array {
  assertMatrix(X, 'predictDbscan', model.nFeatures);
  const { tree, coreLabels } = compile(model);
  const out = new Int32Array(X.n);
  tree.knnAll(X, 1, (i, idx, dist) => (out[i] = dist[0] <= model.eps ? coreLabels[idx[0]] : -1));
  return out;
}

/** Per-feature contributions for one window (see {@link explainByOcclusion}). */
export function explainDbscan(model: DbscanModel, x: ArrayLike<number>): Explanation {
  return explainByOcclusion((X) => scoreDbscan(model, X), x, model.reference);
}

/**
 * Picks eps so that about a fraction `coreFraction` of the rows are core points: the `coreFraction` quantile of the
 * rows' distances to their `minSamples`-th nearest row (itself counted, matching the core rule). A data-driven
 * default for stages that have not tuned eps. The quantile is taken over a seeded sample of `sampleSize` query rows
 * (against all rows); with n ≤ sampleSize it is exact and at least that fraction is core.
 */
export function estimateEps(
  X: Matrix,
  minSamples = 5,
  coreFraction = 0.9,
  options: { sampleSize?: number; seed?: number; leafSize?: number } = {},
): number {
  assertMatrix(X, 'estimateEps', undefined, minSamples);
  if (!(coreFraction > 0 && coreFraction <= 1)) {
    throw new ModelInputError(`coreFraction must be in (0, 1], got ${coreFraction}`);
  }
  const tree = KdTree.build(X, options.leafSize ?? DEFAULT_LEAF_SIZE);
  const rows = sampleIndices(X.n, options.sampleSize ?? 10_000, options.seed ?? 0);
  const qi = new Int32Array(minSamples);
  const qd = new Float64Array(minSamples);
  const kth = new Float64Array(rows.length);
  for (let r = 0; r < rows.length; r++) {
    tree.knnInto(X.data, rows[r] * X.d, minSamples, qi, qd, 0);
    kth[r] = qd[minSamples - 1];
  }
  kth.sort();
  // The ⌈q·m⌉-th smallest k-distance makes at least q·m sampled rows core; the ulp-sized bump keeps eps² ≥ the
  // squared distance it came from, which the square root may have rounded down.
  const eps = kth[Math.max(0, Math.ceil(coreFraction * rows.length) - 1)] * (1 + 4 * Number.EPSILON);
  // A zero radius would make only exact duplicates neighbours; fall back to the smallest positive distance.
  return eps > 0 ? eps : (kth.find((v) => v > 0) ?? 1);
}
