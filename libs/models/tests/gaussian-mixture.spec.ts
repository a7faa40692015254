import {
  fitGaussianMixture,
  fromRows,
  logLikelihoodGaussianMixture,
  ModelFitError,
  scoreGaussianMixture,
  type CovarianceType,
} from '../src';
import { clustered, loadFixture, maxAbsDiff } from './helpers';

interface GmmCase {
  name: string;
  covarianceType: CovarianceType;
  X: number[][];
  test: number[][];
  init: { weights: number[]; means: number[][]; precisions: number[][][] | number[][] };
  nIter: number;
  converged: boolean;
  lowerBound: number;
  meanLogLikelihood: number;
  scoreSamples: number[];
  testScoreSamples: number[];
  weights: number[];
}

const { cases } = loadFixture<{ cases: GmmCase[] }>('gaussian-mixture.json');

describe.each(cases)('Gaussian mixture against scikit-learn from the same start ($name)', (c) => {
  const X = fromRows(c.X);
  const model = fitGaussianMixture(X, { covarianceType: c.covarianceType, init: c.init });

  it('runs the same number of EM iterations to the same lower bound', () => {
    expect(model.nIter).toBe(c.nIter);
    expect(model.converged).toBe(c.converged);
    expect(Math.abs(model.lowerBound - c.lowerBound)).toBeLessThan(1e-4);
  });

  it('gives per-sample log-likelihoods within 1e-4 on training and new points', () => {
    const ll = logLikelihoodGaussianMixture(model, X);
    expect(maxAbsDiff(ll, c.scoreSamples)).toBeLessThan(1e-4);
    expect(Math.abs(ll.reduce((a, b) => a + b, 0) / ll.length - c.meanLogLikelihood)).toBeLessThan(1e-4);
    expect(
      maxAbsDiff(logLikelihoodGaussianMixture(model, fromRows(c.test)), c.testScoreSamples),
    ).toBeLessThan(1e-4);
    expect(maxAbsDiff(model.weights, c.weights)).toBeLessThan(1e-4);
  });

  it('scores as the negative log-likelihood', () => {
    const test = fromRows(c.test);
    expect(Array.from(scoreGaussianMixture(model, test))).toEqual(
      Array.from(logLikelihoodGaussianMixture(model, test), (v) => -v),
    );
  });
});

describe('Gaussian mixture with k-means++ initialisation', () => {
  it.each(['full', 'diag'] as const)(
    'fits separated blobs and ranks outliers above inliers (%s)',
    (covarianceType) => {
      const X = clustered(3000, 4, 7, 3);
      const model = fitGaussianMixture(X, { nComponents: 3, covarianceType, seed: 1 });
      expect(model.converged).toBe(true);
      expect(model.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const s = scoreGaussianMixture(model, fromRows([model.means.slice(0, 4), [40, 40, 40, 40]]));
      expect(s[1]).toBeGreaterThan(s[0] + 100);
    },
  );

  it('fails with ModelFitError when a covariance is singular and unregularised', () => {
    const X = fromRows([
      [0, 0],
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(() => fitGaussianMixture(X, { nComponents: 1, regCovar: 0 })).toThrow(ModelFitError);
    expect(fitGaussianMixture(X, { nComponents: 1 }).converged).toBe(true);
  });
});
