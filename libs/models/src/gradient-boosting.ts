import { binaryClassWeights } from './class-weights';
import { ModelInputError } from './errors';
import { assertMatrix, type Matrix } from './matrix';

/**
 * One regression tree, flat: node k splits on feature `f[k]` (−1 at a leaf) at `t[k]` (x ≤ t goes to `l[k]`, else
 * to `r[k]`), `v[k]` is its value (a leaf's value is what the tree adds) and `c[k]` how many training rows reached it
 * (the covers explanations weigh the two sides of a split by). Children always come after their parent.
 */
export interface BoostedTree {
  f: number[];
  t: number[];
  l: number[];
  r: number[];
  v: number[];
  c: number[];
}

/** Fitted gradient-boosted trees for binary classification: natural-log odds = base + Σ trees. Plain JSON. */
export interface BoostedTreesModel {
  kind: 'boosted-trees';
  version: 1;
  base: number;
  trees: BoostedTree[];
}

export interface BoostedTreesOptions {
  /** Trees (boosting rounds); default 200. */
  rounds?: number;
  /** Largest depth of a tree (splits on a path); default 3. */
  depth?: number;
  /** Shrinkage applied to every tree's values; default 0.1. */
  learningRate?: number;
  /** L2 penalty on leaf values (XGBoost's λ); default 1. */
  l2?: number;
  /** Candidate thresholds per feature: its quantiles (at most 255); default 64. */
  bins?: number;
  /** Fewest rows on either side of a split; default 50. */
  minLeaf?: number;
  /** Weight of the positive class relative to the negative one; 'balanced' (default) as in scikit-learn. */
  positiveWeight?: number | 'balanced';
}

/**
 * Fits gradient-boosted regression trees on the logistic loss (second-order boosting, as XGBoost / LightGBM):
 * each round fits one tree of at most `depth` splits to the loss's gradient and curvature, choosing among each
 * feature's quantile thresholds by histogram, and adds its Newton leaf values scaled by `learningRate`.
 * Deterministic (no sampling), so a refit on the same data gives the same trees. Trees capture what a linear score
 * cannot: interactions (what one feature weighs depends on another) and thresholds.
 */
export function fitBoostedTrees(
  X: Matrix,
  y: ArrayLike<number>,
  options: BoostedTreesOptions = {},
): BoostedTreesModel {
  assertMatrix(X, 'fitBoostedTrees', undefined, 2);
  const { n, d, data } = X;
  const { positives, wPos, wNeg } = binaryClassWeights(y, n, options.positiveWeight ?? 'balanced', 'fitBoostedTrees');
  const rounds = positiveInteger(options.rounds ?? 200, 'rounds');
  const maxDepth = positiveInteger(options.depth ?? 3, 'depth');
  const bins = positiveInteger(options.bins ?? 64, 'bins');
  if (bins < 2 || bins > 255) throw new ModelInputError(`fitBoostedTrees: bins must be 2..255, got ${bins}`);
  const minLeaf = positiveInteger(options.minLeaf ?? 50, 'minLeaf');
  const rate = options.learningRate ?? 0.1;
  const lambda = options.l2 ?? 1;
  if (!(rate > 0 && rate <= 1)) throw new ModelInputError(`fitBoostedTrees: learningRate must be in (0, 1], got ${rate}`);
  if (!(lambda >= 0)) throw new ModelInputError(`fitBoostedTrees: l2 must be ≥ 0, got ${lambda}`);

  // Candidate thresholds: distinct quantiles of each feature; every value is replaced by its bin.
  const edges: Float64Array[] = [];
  const binned = new Uint8Array(n * d);
  const column = new Float64Array(n);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < n; i++) column[i] = data[i * d + j];
    const sorted = Float64Array.from(column).sort();
    const e: number[] = [];
    for (let b = 1; b < bins; b++) {
      const q = sorted[Math.floor((b * n) / bins)];
      if (q < sorted[n - 1] && (e.length === 0 || q > e[e.length - 1])) e.push(q);
    }
    edges.push(Float64Array.from(e));
    for (let i = 0; i < n; i++) binned[i * d + j] = binOf(edges[j], column[i]);
  }

  const base = Math.log((wPos * positives) / (wNeg * (n - positives)));
  const margin = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const weight = new Float64Array(n);
  for (let i = 0; i < n; i++) weight[i] = y[i] === 1 ? wPos : wNeg;
  const trees: BoostedTree[] = [];
  const all = Int32Array.from({ length: n }, (_, i) => i);
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-margin[i]));
      g[i] = weight[i] * (p - y[i]);
      h[i] = weight[i] * Math.max(p * (1 - p), 1e-12);
    }
    const tree: BoostedTree = { f: [], t: [], l: [], r: [], v: [], c: [] };
    const grow = (rows: Int32Array, depth: number): number => {
      let G = 0;
      let H = 0;
      for (let k = 0; k < rows.length; k++) {
        G += g[rows[k]];
        H += h[rows[k]];
      }
      const id = tree.f.length;
      tree.f.push(-1);
      tree.t.push(0);
      tree.l.push(-1);
      tree.r.push(-1);
      tree.v.push((-G / (H + lambda)) * rate);
      tree.c.push(rows.length);
      if (depth >= maxDepth || rows.length < 2 * minLeaf) return id;
      const parent = (G * G) / (H + lambda);
      let bestGain = 1e-12;
      let bestFeature = -1;
      let bestBin = -1;
      for (let j = 0; j < d; j++) {
        const nb = edges[j].length + 1;
        if (nb < 2) continue;
        const hg = new Float64Array(nb);
        const hh = new Float64Array(nb);
        const hc = new Int32Array(nb);
        for (let k = 0; k < rows.length; k++) {
          const i = rows[k];
          const b = binned[i * d + j];
          hg[b] += g[i];
          hh[b] += h[i];
          hc[b]++;
        }
        let gl = 0;
        let hl = 0;
        let cl = 0;
        for (let b = 0; b < nb - 1; b++) {
          gl += hg[b];
          hl += hh[b];
          cl += hc[b];
          if (cl < minLeaf) continue;
          if (rows.length - cl < minLeaf) break;
          const gain = (gl * gl) / (hl + lambda) + ((G - gl) * (G - gl)) / (H - hl + lambda) - parent;
          if (gain > bestGain) {
            bestGain = gain;
            bestFeature = j;
            bestBin = b;
          }
        }
      }
      if (bestFeature < 0) return id;
      let nl = 0;
      for (let k = 0; k < rows.length; k++) if (binned[rows[k] * d + bestFeature] <= bestBin) nl++;
      const left = new Int32Array(nl);
      const right = new Int32Array(rows.length - nl);
      let a = 0;
      let c = 0;
      for (let k = 0; k < rows.length; k++) {
        const i = rows[k];
        if (binned[i * d + bestFeature] <= bestBin) left[a++] = i;
        else right[c++] = i;
      }
      tree.f[id] = bestFeature;
      tree.t[id] = edges[bestFeature][bestBin];
      tree.l[id] = grow(left, depth + 1);
      tree.r[id] = grow(right, depth + 1);
      return id;
    };
    grow(all, 0);
    trees.push(tree);
    for (let i = 0; i < n; i++) margin[i] += leafValue(tree, data, i * d);
  }
  return { kind: 'boosted-trees', version: 1, base, trees };
}

function positiveInteger(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 1) throw new ModelInputError(`fitBoostedTrees: ${name} must be a positive integer, got ${v}`);
  return v;
}

/** The bin of `v`: the number of edges below it (edges[b−1] < v ≤ edges[b]). */
function binOf(edges: Float64Array, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v > edges[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function leafValue(tree: BoostedTree, x: ArrayLike<number>, offset = 0): number {
  let k = 0;
  while (tree.f[k] >= 0) k = x[offset + tree.f[k]] <= tree.t[k] ? tree.l[k] : tree.r[k];
  return tree.v[k];
}

/** The model's natural-log odds for one row. */
export function predictBoostedTrees(model: BoostedTreesModel, x: ArrayLike<number>): number {
  let s = model.base;
  for (const tree of model.trees) s += leafValue(tree, x);
  return s;
}

/** Shapley weights s!(p−s−1)!/p! for a game of p players and coalitions of size s. */
function shapleyWeights(p: number): number[] {
  const fact = [1];
  for (let k = 1; k <= p; k++) fact.push(fact[k - 1] * k);
  return Array.from({ length: p }, (_, s) => (fact[s] * fact[p - s - 1]) / fact[p]);
}

/**
 * Every leaf of a model, flat, for exact Shapley values: leaf k has value `value[k]` and the distinct features split
 * on along its path in `feature[first[k] .. first[k + 1])`; feature entry j has the share of training rows that
 * followed all its splits on the path (`share[j]`, the leaf's weight when the feature is not known) and those
 * splits in `threshold` / `left` from `split[j]` to `split[j + 1]`. A leaf's Shapley values depend on x only through
 * which of its p features x follows, so for each of those 2^p patterns they are computed once (`table`, leaf k's
 * from `tableAt[k]`, p values per pattern) unless that would take more than {@link MAX_TABLE_ENTRIES} numbers.
 */
interface LeafGames {
  value: Float64Array;
  first: Int32Array;
  feature: Int32Array;
  share: Float64Array;
  split: Int32Array;
  threshold: Float64Array;
  left: Uint8Array;
  /** weights[p][s] = s!(p−s−1)!/p!. */
  weights: number[][];
  maxFeatures: number;
  /** The base plus every tree's expected output (the same for every x). */
  bias: number;
  maxTableEntries: number;
  table: Float64Array | null;
  tableAt: Int32Array;
  /**
   * When every tree has at most 31 split nodes (any tree of depth 5 or less): x's way at each split node, one bit per
   * split node of its tree in node order (1: x ≤ threshold), is found once per tree (`nodes`, tree t's from
   * `treeNodes[t]`), and feature entry j is followed when those bits under `mask[j]` (its split nodes on the path)
   * equal `want[j]` (the ones the path takes on the left); otherwise each leaf checks its splits (`threshold` / `left`)
   * itself.
   */
  nodes: { feature: Int32Array; threshold: Float64Array; bit: Int32Array; treeNodes: Int32Array } | null;
  leafTree: Int32Array;
  mask: Int32Array;
  want: Int32Array;
}

/** Largest table of per-pattern Shapley values kept per model: 4M numbers, 32 MB (300 depth-4 trees need 0.3M). */
const MAX_TABLE_ENTRIES = 4_000_000;

const LEAF_GAMES = new WeakMap<BoostedTreesModel, LeafGames>();

function leafGames(model: BoostedTreesModel, maxTableEntries = MAX_TABLE_ENTRIES): LeafGames {
  const cached = LEAF_GAMES.get(model);
  if (cached && cached.maxTableEntries === maxTableEntries) return cached;
  const leaves: { tree: number; value: number; features: { feature: number; share: number; splits: [number, boolean, number][] }[] }[] = [];
  for (const [t, tree] of model.trees.entries()) {
    if (!tree.c || tree.c.length !== tree.f.length)
      throw new ModelInputError('contributionsBoostedTrees: the model has no node covers (c); refit it');
    // Each split node's ordinal among its tree's split nodes: its bit in the tree's directions (see LeafGames.nodes).
    const ordinal = new Map<number, number>();
    tree.f.forEach((f, k) => f >= 0 && ordinal.set(k, ordinal.size));
    const walk = (k: number, features: (typeof leaves)[number]['features']): void => {
      const f = tree.f[k];
      if (f < 0) {
        leaves.push({ tree: t, value: tree.v[k], features });
        return;
      }
      for (const left of [true, false]) {
        const child = left ? tree.l[k] : tree.r[k];
        const share = tree.c[child] / tree.c[k];
        const known = features.find((g) => g.feature === f);
        walk(
          child,
          known
            ? features.map((g) =>
                g === known ? { ...g, share: g.share * share, splits: [...g.splits, [tree.t[k], left, ordinal.get(k)!] as [number, boolean, number]] } : g,
              )
            : [...features, { feature: f, share, splits: [[tree.t[k], left, ordinal.get(k)!]] }],
        );
      }
    };
    walk(0, []);
  }
  const entries = leaves.flatMap((l) => l.features);
  const splits = entries.flatMap((g) => g.splits);
  const games: LeafGames = {
    value: Float64Array.from(leaves, (l) => l.value),
    first: new Int32Array(leaves.length + 1),
    feature: Int32Array.from(entries, (g) => g.feature),
    share: Float64Array.from(entries, (g) => g.share),
    split: new Int32Array(entries.length + 1),
    threshold: Float64Array.from(splits, (sp) => sp[0]),
    left: Uint8Array.from(splits, (sp) => (sp[1] ? 1 : 0)),
    weights: [],
    maxFeatures: Math.max(0, ...leaves.map((l) => l.features.length)),
    bias: model.base,
    maxTableEntries,
    table: null,
    tableAt: new Int32Array(leaves.length + 1),
    nodes: null,
    leafTree: Int32Array.from(leaves, (l) => l.tree),
    mask: Int32Array.from(entries, (g) => g.splits.reduce((m, sp) => m | (1 << sp[2]), 0)),
    want: Int32Array.from(entries, (g) => g.splits.reduce((m, sp) => (sp[1] ? m | (1 << sp[2]) : m), 0)),
  };
  if (model.trees.every((tree) => tree.f.filter((f) => f >= 0).length <= 31)) {
    const inner = model.trees.flatMap((tree) => {
      const nodes = tree.f.flatMap((f, k) => (f >= 0 ? [{ f, t: tree.t[k] }] : []));
      return nodes.map((n, i) => ({ ...n, bit: 1 << i }));
    });
    const treeNodes = new Int32Array(model.trees.length + 1);
    model.trees.forEach((tree, t) => (treeNodes[t + 1] = treeNodes[t] + tree.f.filter((f) => f >= 0).length));
    games.nodes = {
      feature: Int32Array.from(inner, (n) => n.f),
      threshold: Float64Array.from(inner, (n) => n.t),
      bit: Int32Array.from(inner, (n) => n.bit),
      treeNodes,
    };
  }
  leaves.forEach((l, k) => (games.first[k + 1] = games.first[k] + l.features.length));
  entries.forEach((g, j) => (games.split[j + 1] = games.split[j] + g.splits.length));
  for (let p = 0; p <= games.maxFeatures; p++) games.weights.push(p === 0 ? [] : shapleyWeights(p));
  const coef = new Float64Array(games.maxFeatures + 1);
  leaves.forEach((l, k) => {
    const p = l.features.length;
    games.bias += leafShapley(games, k, 0, coef, null, 0);
    games.tableAt[k + 1] = Math.min(games.tableAt[k] + 2 ** p * p, maxTableEntries + 1);
  });
  if (games.tableAt[leaves.length] <= maxTableEntries) {
    const table = new Float64Array(games.tableAt[leaves.length]);
    leaves.forEach((l, k) => {
      const p = l.features.length;
      for (let pattern = 0; pattern < 1 << p; pattern++) leafShapley(games, k, pattern, coef, table, games.tableAt[k] + pattern * p);
    });
    games.table = table;
  }
  LEAF_GAMES.set(model, games);
  return games;
}

/**
 * Leaf k's game when x follows the splits of exactly the leaf features whose bit is set in `pattern` (bit j: the
 * leaf's j-th feature): writes each feature's Shapley value times the leaf's value to out[at + j] (when out is
 * given) and returns the leaf's expected output (value × Π shares, what the bias adds).
 *
 * A tree's output is the sum of its leaves' values times the chance of reaching them, where a split on a known
 * feature follows x and any other split its training share: each leaf is a game of the (at most depth) features on
 * its path, worth value × Π (known ? 1 if x follows that feature's splits, else 0 : its share). Players off the path
 * are null in it, so each leaf's Shapley values come from its own few features (exact, Σ = output − E). A
 * coalition's Shapley weight depends only on its size, so each feature's value needs the coalitions of the others
 * summed by size: p² steps per leaf of p features rather than p · 2^p.
 */
function leafShapley(
  g: LeafGames,
  k: number,
  pattern: number,
  coef: Float64Array,
  out: Float64Array | null,
  at: number,
): number {
  const { value, first, share, weights } = g;
  const a = first[k];
  const p = first[k + 1] - a;
  // coef[size]: the sum, over coalitions S of the leaf's features with |S| = size, of Π_{j∈S} follows · Π_{j∉S}
  // share — the coefficients of Π_j (share_j + follows_j · z), built one feature at a time.
  coef[0] = 1;
  for (let j = 0; j < p; j++) {
    const ok = (pattern >> j) & 1;
    const unknownShare = share[a + j];
    coef[j + 1] = coef[j] * ok;
    for (let size = j; size > 0; size--) coef[size] = coef[size] * unknownShare + coef[size - 1] * ok;
    coef[0] *= unknownShare;
  }
  if (out) {
    const w = weights[p];
    for (let i = 0; i < p; i++) {
      // x following the feature's splits exactly as often as the training rows did credits it nothing.
      const si = share[a + i];
      const followed = (pattern >> i) & 1;
      const gain = followed - si;
      let sum = 0;
      if (gain !== 0) {
        // The coalitions of the other features: divide feature i's factor (share_i + follows_i · z) back out.
        if (followed === 0) {
          for (let size = 0; size < p; size++) sum += w[size] * coef[size];
          sum /= si;
        } else {
          // (share_i + z) · Q(z) = coef(z), solved from the top (share_i ≤ 1, so rounding never grows).
          let q = coef[p];
          for (let size = p - 1; size >= 0; size--) {
            sum += w[size] * q;
            q = coef[size] - si * q;
          }
        }
      }
      out[at + i] = value[k] * gain * sum;
    }
  }
  return value[k] * coef[0];
}

/**
 * The prediction split into a bias and one Shapley value per feature (TreeSHAP's path-dependent game, computed
 * exactly): a coalition S of features is worth the tree's expected output when the features in S are fixed to x's
 * values and the others follow the training rows (each split on a feature outside S averages its two sides by
 * their covers). Each feature gets its average marginal worth over all orders, so the credit does not depend on
 * which feature a tree happened to split on first; a feature no tree uses gets 0. The bias is the base plus every
 * tree's expected output; bias + Σ contributions equals {@link predictBoostedTrees} (up to rounding). A depth-d tree
 * uses at most 2^d − 1 features, and a leaf at most d. The first call on a model prepares its leaves' games, and
 * their values for every pattern of followed features while those take at most `maxTableEntries` numbers (default
 * 4M; 300 depth-4 trees need 0.3M); each call then looks a leaf's values up instead of computing them.
 */
export function contributionsBoostedTrees(
  model: BoostedTreesModel,
  x: ArrayLike<number>,
  features: number,
  options: { maxTableEntries?: number } = {},
): { bias: number; contributions: number[] } {
  const contributions = new Array<number>(features).fill(0);
  const g = leafGames(model, options.maxTableEntries);
  const { value, first, feature, split, threshold, left, table, tableAt, nodes, leafTree, mask, want } = g;
  const scratch = table ? null : new Float64Array(g.maxFeatures);
  const coef = table ? null : new Float64Array(g.maxFeatures + 1);
  let dirs: Int32Array | null = null;
  if (nodes) {
    dirs = new Int32Array(nodes.treeNodes.length - 1);
    for (let t = 0; t < dirs.length; t++) {
      let d = 0;
      for (let n = nodes.treeNodes[t]; n < nodes.treeNodes[t + 1]; n++) if (x[nodes.feature[n]] <= nodes.threshold[n]) d |= nodes.bit[n];
      dirs[t] = d;
    }
  }
  for (let k = 0; k < value.length; k++) {
    const a = first[k];
    const p = first[k + 1] - a;
    // Which of the leaf's features x follows (every split of that feature on the path) picks its Shapley values.
    let pattern = 0;
    if (dirs) {
      const d = dirs[leafTree[k]];
      for (let j = 0; j < p; j++) if ((d & mask[a + j]) === want[a + j]) pattern |= 1 << j;
    } else {
      for (let j = 0; j < p; j++) {
        const v = x[feature[a + j]];
        let ok = 1;
        for (let q = split[a + j]; q < split[a + j + 1]; q++) if (v <= threshold[q] !== (left[q] === 1)) ok = 0;
        pattern |= ok << j;
      }
    }
    let from: Float64Array;
    let at: number;
    if (table) {
      from = table;
      at = tableAt[k] + pattern * p;
    } else {
      leafShapley(g, k, pattern, coef!, scratch, 0);
      from = scratch!;
      at = 0;
    }
    for (let i = 0; i < p; i++) contributions[feature[a + i]] += from[at + i];
  }
  return { bias: g.bias, contributions };
}
