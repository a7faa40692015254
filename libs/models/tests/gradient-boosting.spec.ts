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
