import {
  contributionsBoostedTrees,
  fitBoostedTrees,
  fitLogisticRegression,
  decisionLogisticRegression,
  fromRows,
  matrix,
  ModelInputError,
  predictBoostedTrees,
  Random,
  type BoostedTreesModel,
} from '../src';

/** y = 1 when exactly one of x0 > 0.3, x1 > −0.2 holds (XOR), x2 is noise: no linear score separates it. */
function xor(n: number, seed: number) {
  const rng = new Random(seed);
  const X = matrix(n, 3);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [rng.next() * 2 - 1, rng.next() * 2 - 1, rng.next() * 2 - 1];
    X.data.set([a, b, c], i * 3);
    y[i] = a > 0.3 !== b > -0.2 ? 1 : 0;
  }
  return { X, y };
}

const row = (X: { d: number; data: Float64Array }, i: number) => X.data.subarray(i * X.d, (i + 1) * X.d);

function accuracy(score: (i: number) => number, y: Uint8Array): number {
  let right = 0;
  for (let i = 0; i < y.length; i++) if (score(i) > 0 === (y[i] === 1)) right++;
  return right / y.length;
}

describe('fitBoostedTrees', () => {
  it('learns an interaction (XOR) that a logistic regression cannot, and generalises to new rows', () => {
    const train = xor(4_000, 1);
    const test = xor(2_000, 2);
    const trees = fitBoostedTrees(train.X, train.y, { rounds: 60, depth: 2, minLeaf: 20 });
    const linear = fitLogisticRegression(train.X, train.y);
    const lin = decisionLogisticRegression(linear, test.X);
    expect(accuracy((i) => predictBoostedTrees(trees, row(test.X, i)), test.y)).toBeGreaterThan(0.95);
    expect(accuracy((i) => lin[i], test.y)).toBeLessThan(0.75);
    // The first trees split on the two features that matter, never on the noise.
    expect(trees.trees.slice(0, 5).every((t) => !t.f.includes(2))).toBe(true);
  });

  it('splits every prediction exactly into a bias and per-feature contributions', () => {
    const { X, y } = xor(2_000, 3);
    const model = fitBoostedTrees(X, y, { rounds: 30, depth: 3, minLeaf: 10 });
    for (let i = 0; i < 50; i++) {
      const x = row(X, i);
      const { bias, contributions } = contributionsBoostedTrees(model, x, 3);
      expect(bias + contributions.reduce((a, c) => a + c, 0)).toBeCloseTo(predictBoostedTrees(model, x), 10);
      expect(Math.abs(contributions[2])).toBeLessThan(Math.abs(contributions[0]) + Math.abs(contributions[1]));
    }
  });

  it('credits each feature its Shapley value over the training rows (exact on hand-made trees)', () => {
    // One split on x0, 75 training rows to the left (−0.5), 25 to the right (2): expected output 0.125.
    const stump: BoostedTreesModel = {
      kind: 'boosted-trees',
      version: 1,
      base: 0,
      trees: [{ f: [0, -1, -1], t: [0.5, 0, 0], l: [1, -1, -1], r: [2, -1, -1], v: [0.1, -0.5, 2], c: [100, 75, 25] }],
    };
    const one = contributionsBoostedTrees(stump, [1, 7], 2);
    expect(one.bias).toBeCloseTo(0.125, 12);
    expect(one.contributions[0]).toBeCloseTo(1.875, 12);
    expect(one.contributions[1]).toBe(0);
    // x0 > 0 AND x1 > 0 → 1: the root splits on x0, yet at (1, 1) both features earn the same credit (0.375 each;
    // path attribution would give the root's feature less).
    const and: BoostedTreesModel = {
      kind: 'boosted-trees',
      version: 1,
      base: 0,
      trees: [{ f: [0, -1, 1, -1, -1], t: [0, 0, 0, 0, 0], l: [1, -1, 3, -1, -1], r: [2, -1, 4, -1, -1], v: [0, 0, 0, 0, 1], c: [100, 50, 50, 25, 25] }],
    };
    const both = contributionsBoostedTrees(and, [1, 1], 2);
    expect(both.bias).toBeCloseTo(0.25, 12);
    expect(both.contributions[0]).toBeCloseTo(0.375, 12);
    expect(both.contributions[1]).toBeCloseTo(0.375, 12);
    expect(() => contributionsBoostedTrees({ ...and, trees: [{ ...and.trees[0], c: [] }] }, [1, 1], 2)).toThrow(/no node covers/);
  });

  it.each([
    ['depth 4, values looked up per pattern', 4, undefined],
    ['depth 4, values computed per call', 4, 0],
    ['depth 5: trees of more than 31 nodes, at most 31 splits', 5, undefined],
    ['depth 6: trees of more than 31 splits', 6, undefined],
  ])('gives the same Shapley values as enumerating every coalition of a tree (%s, features repeated on paths)', (_, depth, maxTableEntries) => {
    const { X, y } = xor(3_000, 6);
    // Depth 6: a label flipped at random on a third of the rows keeps the trees splitting to full depth.
    const rng = new Random(60);
    const labels = depth > 5 ? y.map((v) => (rng.next() < 1 / 3 ? 1 - v : v)) : y;
    const model = fitBoostedTrees(X, labels, { rounds: 15, depth, minLeaf: depth > 4 ? 2 : 20 });
    // Reference: a coalition S is worth the tree's expected output with S's features fixed to x (cover-weighted
    // average over the other splits); Shapley values by definition, over every feature the tree uses.
    const reference = (x: ArrayLike<number>) => {
      const phi = [0, 0, 0];
      let bias = model.base;
      for (const t of model.trees) {
        const used = [...new Set(t.f.filter((f) => f >= 0))];
        const m = used.length;
        const worth = (mask: number): number => {
          const at = (k: number): number => {
            if (t.f[k] < 0) return t.v[k];
            if (mask & (1 << used.indexOf(t.f[k]))) return at(x[t.f[k]] <= t.t[k] ? t.l[k] : t.r[k]);
            return (t.c[t.l[k]] * at(t.l[k]) + t.c[t.r[k]] * at(t.r[k])) / t.c[k];
          };
          return at(0);
        };
        const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
        bias += worth(0);
        for (let i = 0; i < m; i++)
          for (let mask = 0; mask < 1 << m; mask++) {
            if (mask & (1 << i)) continue;
            const s = used.filter((_, b) => mask & (1 << b)).length;
            phi[used[i]] += ((fact(s) * fact(m - s - 1)) / fact(m)) * (worth(mask | (1 << i)) - worth(mask));
          }
      }
      return { bias, phi };
    };
    expect(model.trees.some((t) => t.f.filter((f) => f === 0).length > 1)).toBe(true);
    const splits = (t: { f: number[] }) => t.f.filter((f) => f >= 0).length;
    if (depth === 5) expect(model.trees.some((t) => t.f.length > 31)).toBe(true);
    if (depth === 6) expect(model.trees.some((t) => splits(t) > 31)).toBe(true);
    for (let i = 0; i < 40; i++) {
      const x = row(X, i);
      const fast = contributionsBoostedTrees(model, x, 3, { maxTableEntries });
      const slow = reference(x);
      expect(fast.bias).toBeCloseTo(slow.bias, 10);
      slow.phi.forEach((v, j) => expect(fast.contributions[j]).toBeCloseTo(v, 10));
    }
  });

  it('is deterministic, and its base is even odds under balanced class weights', () => {
    const { X, y } = xor(1_000, 4);
    const skewed = y.map((v, i) => (i % 5 === 0 ? v : 0));
    const a = fitBoostedTrees(X, skewed, { rounds: 10 });
    const b = fitBoostedTrees(X, skewed, { rounds: 10 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.base).toBeCloseTo(0, 12);
    const unweighted = fitBoostedTrees(X, skewed, { rounds: 1, positiveWeight: 1 });
    const pos = skewed.reduce((s, v) => s + v, 0);
    expect(unweighted.base).toBeCloseTo(Math.log(pos / (X.n - pos)), 12);
  });

  it('keeps at least minLeaf rows on either side of every split and at most depth splits on a path', () => {
    const { X, y } = xor(600, 5);
    const model = fitBoostedTrees(X, y, { rounds: 5, depth: 2, minLeaf: 100 });
    for (const t of model.trees) {
      const depthOf = (k: number): number => (t.f[k] < 0 ? 0 : 1 + Math.max(depthOf(t.l[k]), depthOf(t.r[k])));
      expect(depthOf(0)).toBeLessThanOrEqual(2);
      const reach = (k: number) => {
        let c = 0;
        for (let i = 0; i < X.n; i++) {
          let m = 0;
          while (m !== k && t.f[m] >= 0) m = X.data[i * 3 + t.f[m]] <= t.t[m] ? t.l[m] : t.r[m];
          if (m === k) c++;
        }
        return c;
      };
      t.f.forEach((f, k) => {
        if (k > 0) expect(reach(k)).toBeGreaterThanOrEqual(100);
      });
    }
  });

  it('rejects labels other than 0/1, one class only, non-finite features and bad options with a clear error', () => {
    const X = fromRows([[1], [2], [3]]);
    expect(() => fitBoostedTrees(X, [0, 1, 2])).toThrow(/label 2 is 2, expected 0 or 1/);
    expect(() => fitBoostedTrees(X, [1, 1, 1])).toThrow(/both classes/);
    expect(() => fitBoostedTrees(X, [0, 1])).toThrow(/2 labels for 3 rows/);
    expect(() => fitBoostedTrees(fromRows([[1], [NaN], [3]]), [0, 1, 0])).toThrow(ModelInputError);
    expect(() => fitBoostedTrees(X, [0, 1, 0], { depth: 0 })).toThrow(/depth must be a positive integer/);
    expect(() => fitBoostedTrees(X, [0, 1, 0], { bins: 300 })).toThrow(/bins must be 2\.\.255/);
    expect(() => fitBoostedTrees(X, [0, 1, 0], { learningRate: 0 })).toThrow(/learningRate/);
  });
});
