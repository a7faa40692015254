import { ModelInputError } from './errors';
import { explainByOcclusion, type Explanation } from './explain';
import { assertMatrix, columnMedians, type Matrix } from './matrix';
import { Random, sampleWithoutReplacement } from './random';

const EULER_GAMMA = 0.5772156649015329;
/** scikit-learn's tree FEATURE_THRESHOLD: a feature whose node range is at most this is constant there. */
const FEATURE_THRESHOLD = 1e-7;

/**
 * Fitted Isolation Forest: every tree flattened in pre-order into shared arrays (JSON-safe). Node `i` of a tree
 * starting at `treeOffsets[t]` has its left child at `i + 1` and its right child at `treeOffsets[t] + right[i]`.
 */
export interface IsolationForestModel {
  kind: 'isolation-forest';
  version: 1;
  nFeatures: number;
  nTrees: number;
  /** ψ: rows drawn (without replacement) per tree. */
  maxSamples: number;
  maxDepth: number;
  seed: number;
  /** Start of each tree in the node arrays; length `nTrees + 1`. */
  treeOffsets: number[];
  /** Split feature, or -1 at a leaf. */
  feature: number[];
  /** Split threshold: `x[feature] <= threshold` goes left (as scikit-learn). */
  threshold: number[];
  /** Right child, relative to the tree's offset; -1 at a leaf. */
  right: number[];
  /** At a leaf: its depth + c(leaf size), the path length a row ending there gets. 0 at internal nodes. */
  pathLength: number[];
  /** Training medians, the reference for explanations. */
  reference: number[];
}

export interface IsolationForestOptions {
  /** Trees (scikit-learn's `n_estimators`), default 100. */
  nTrees?: number;
  /** Rows per tree, default min(256, n) (scikit-learn's `max_samples="auto"`). */
  maxSamples?: number;
  seed?: number;
}

/**
 * Average path length of an unsuccessful BST search among `n` points, c(n) = 2H(n−1) − 2(n−1)/n with
 * H(i) ≈ ln(i) + γ; c(1) = 0 and c(2) = 1 exactly, as scikit-learn's `_average_path_length`.
 */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/**
 * Fits an Isolation Forest as scikit-learn defines it (`IsolationForest(n_estimators=100, max_samples="auto",
 * max_features=1.0, bootstrap=False)`): per tree, ψ = min(256, n) rows drawn without replacement; each node splits
 * on a feature drawn uniformly among those not constant in the node, at a threshold uniform between the node's
 * min and max; growth stops at one row or at depth ceil(log2 ψ).
 *
 * Random streams differ from numpy's, so individual trees differ from scikit-learn's; the score distribution
 * (and so rankings and ROC-AUC) agree, which the committed fixtures check.
 */
export function fitIsolationForest(X: Matrix, options: IsolationForestOptions = {}): IsolationForestModel {
  assertMatrix(X, 'fitIsolationForest', undefined, 2);
  const nTrees = options.nTrees ?? 100;
  const seed = options.seed ?? 0;
  const psi = Math.min(options.maxSamples ?? 256, X.n);
  if (!Number.isInteger(nTrees) || nTrees < 1)
    throw new ModelInputError(`nTrees must be an integer ≥ 1, got ${nTrees}`);
  if (!Number.isInteger(psi) || psi < 2)
    throw new ModelInputError(`maxSamples must be an integer ≥ 2, got ${psi}`);
  const maxDepth = Math.ceil(Math.log2(psi));
  const { d, data } = X;
  const rng = new Random(seed);
  const pool = new Int32Array(X.n);
  for (let i = 0; i < X.n; i++) pool[i] = i;
  const sub = new Int32Array(psi);
  const featurePool = new Int32Array(d);

  const treeOffsets: number[] = [];
  const feature: number[] = [];
  const threshold: number[] = [];
  const right: number[] = [];
  const pathLength: number[] = [];

  let base = 0;
  const grow = (s: number, e: number, depth: number): number => {
    const node = feature.length - base;
    feature.push(-1);
    threshold.push(0);
    right.push(-1);
    pathLength.push(0);
    const size = e - s;
    if (size <= 1 || depth >= maxDepth) {
      pathLength[base + node] = depth + averagePathLength(size);
      return node;
    }
    // Draw features without replacement until one varies in this node (scikit-learn's RandomSplitter skips
    // constant features the same way); a node where all are constant becomes a leaf.
    for (let j = 0; j < d; j++) featurePool[j] = j;
    let remaining = d;
    let f = -1;
    let mn = 0;
    let mx = 0;
    while (remaining > 0) {
      const r = rng.int(remaining);
      const cand = featurePool[r];
      featurePool[r] = featurePool[remaining - 1];
      remaining--;
      mn = Infinity;
      mx = -Infinity;
      for (let p = s; p < e; p++) {
        const v = data[sub[p] * d + cand];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      if (mx > mn + FEATURE_THRESHOLD) {
        f = cand;
        break;
      }
    }
    if (f < 0) {
      pathLength[base + node] = depth + averagePathLength(size);
      return node;
    }
    let thr = rng.uniform(mn, mx);
    if (thr >= mx) thr = mn; // rounding can land on mx; scikit-learn falls back to the minimum likewise
    let i = s;
    let j = e - 1;
    while (i <= j) {
      if (data[sub[i] * d + f] <= thr) i++;
      else {
        const t = sub[i];
        sub[i] = sub[j];
        sub[j] = t;
        j--;
      }
    }
    feature[base + node] = f;
    threshold[base + node] = thr;
    grow(s, i, depth + 1);
    right[base + node] = grow(i, e, depth + 1);
    return node;
  };

  for (let t = 0; t < nTrees; t++) {
    base = feature.length;
    treeOffsets.push(base);
    sampleWithoutReplacement(rng, pool, psi, sub);
    grow(0, psi, 0);
  }
  treeOffsets.push(feature.length);
  return {
    kind: 'isolation-forest',
    version: 1,
    nFeatures: d,
    nTrees,
    maxSamples: psi,
    maxDepth,
    seed,
    treeOffsets,
    feature,
    threshold,
    right,
    pathLength,
    reference: columnMedians(X),
  };
}

interface CompiledForest {
  feature: Int32Array;
  threshold: Float64Array;
  /** Absolute index of the right child. */
  right: Int32Array;
  pathLength: Float64Array;
  roots: Int32Array;
  norm: number;
}

const compiled = new WeakMap<IsolationForestModel, CompiledForest>();

function compile(model: IsolationForestModel): CompiledForest {
  let c = compiled.get(model);
  if (!c) {
    const right = new Int32Array(model.right.length);
    for (let t = 0; t < model.nTrees; t++) {
      const b = model.treeOffsets[t];
      for (let i = b; i < model.treeOffsets[t + 1]; i++)
        right[i] = model.right[i] < 0 ? -1 : b + model.right[i];
    }
    c = {
      feature: Int32Array.from(model.feature),
      threshold: Float64Array.from(model.threshold),
      right,
      pathLength: Float64Array.from(model.pathLength),
      roots: Int32Array.from(model.treeOffsets.slice(0, model.nTrees)),
      norm: model.nTrees * averagePathLength(model.maxSamples),
    };
    compiled.set(model, c);
  }
  return c;
}

/** Rows per block: a block of 8-feature rows (~128 KB) stays in L2 while every tree walks over it. */
const BLOCK = 2048;

/**
 * Anomaly score s = 2^(−E[h(x)] / c(ψ)) in (0, 1]; higher = more anomalous. This is the paper's score and the
 * negative of scikit-learn's `score_samples`; scikit-learn's `decision_function` (contamination="auto") is
 * `0.5 − s`, so s > 0.5 is what scikit-learn calls an outlier.
 */
export function scoreIsolationForest(model: IsolationForestModel, X: Matrix): Float64Array {
  assertMatrix(X, 'scoreIsolationForest', model.nFeatures);
  const { feature, threshold, right, pathLength, roots, norm } = compile(model);
  const { n, d, data } = X;
  const out = new Float64Array(n);
  // Tree-outer, row-inner over blocks: one tree's nodes (a few KB) stay hot in L1 across a block of rows.
  for (let b0 = 0; b0 < n; b0 += BLOCK) {
    const b1 = Math.min(n, b0 + BLOCK);
    for (let t = 0; t < roots.length; t++) {
      const root = roots[t];
      for (let i = b0; i < b1; i++) {
        const off = i * d;
        let node = root;
        let f = feature[node];
        while (f >= 0) {
          node = data[off + f] <= threshold[node] ? node + 1 : right[node];
          f = feature[node];
        }
        out[i] += pathLength[node];
      }
    }
    for (let i = b0; i < b1; i++) out[i] = Math.pow(2, -out[i] / norm);
  }
  return out;
}

/** Per-feature contributions for one window (see {@link explainByOcclusion}). */
export function explainIsolationForest(model: IsolationForestModel, x: ArrayLike<number>): Explanation {
  return explainByOcclusion((X) => scoreIsolationForest(model, X), x, model.reference);
}
