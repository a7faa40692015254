import { averagePathLength, fitIsolationForest, fromRows, scoreIsolationForest } from '../src';
import { loadFixture, rocAuc, spearman } from './helpers';

interface ForestCase {
  name: string;
  X: number[][];
  y: number[];
  scoreSamples: number[];
  offset: number;
  auc: number;
}

const { cases } = loadFixture<{ cases: ForestCase[] }>('isolation-forest.json');

describe('averagePathLength', () => {
  it('follows scikit-learn: c(1) = 0, c(2) = 1, c(n) = 2H(n−1) − 2(n−1)/n', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    expect(averagePathLength(256)).toBeCloseTo(2 * (Math.log(255) + 0.5772156649) - (2 * 255) / 256, 9);
  });
});

describe.each(cases)('Isolation Forest against scikit-learn ($name)', (c) => {
  const X = fromRows(c.X);
  // Several seeds: the claim is about the method, not one lucky random stream.
  const seeds = [0, 1, 2];
  const scores = seeds.map((seed) => scoreIsolationForest(fitIsolationForest(X, { seed }), X));

  it('builds 100 trees of ψ = min(256, n) rows with depth limit ceil(log2 ψ)', () => {
    const model = fitIsolationForest(X);
    expect(model.nTrees).toBe(100);
    expect(model.maxSamples).toBe(256);
    expect(model.maxDepth).toBe(8);
  });

  it('reaches scikit-learn ROC-AUC within 0.02', () => {
    for (const s of scores) expect(Math.abs(rocAuc(c.y, s) - c.auc)).toBeLessThan(0.02);
  });

  it('ranks points like scikit-learn (Spearman ≥ 0.9)', () => {
    const theirs = c.scoreSamples.map((v) => -v);
    for (const s of scores) expect(spearman(s, theirs)).toBeGreaterThanOrEqual(0.9);
  });

  it('puts scores on scikit-learn’s scale (score = −score_samples, outlier above 0.5)', () => {
    const theirs = c.scoreSamples.map((v) => -v);
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((x, y) => x + y, 0) / a.length;
    expect(Math.abs(mean(scores[0]) - mean(theirs))).toBeLessThan(0.01);
    expect(c.offset).toBe(-0.5);
  });
});
