import { fitRobustScaler, fromRows, inverseTransformRobust, ModelInputError, transformRobust } from '../src';
import { loadFixture, maxAbsDiff } from './helpers';

const fx = loadFixture<{
  X: number[][];
  center: number[];
  scale: number[];
  transformed: number[][];
  scale10to90: number[];
}>('robust-scaler.json');

describe('fitRobustScaler', () => {
  const X = fromRows(fx.X);

  it('matches scikit-learn RobustScaler (median, IQR, constant column scaled by 1)', () => {
    const model = fitRobustScaler(X);
    expect(maxAbsDiff(model.center, fx.center)).toBeLessThan(1e-12);
    expect(maxAbsDiff(model.scale, fx.scale)).toBeLessThan(1e-12);
    expect(model.scale[2]).toBe(1);
    expect(maxAbsDiff(transformRobust(model, X).data, fx.transformed.flat())).toBeLessThan(1e-12);
    expect(maxAbsDiff(fitRobustScaler(X, { quantileRange: [10, 90] }).scale, fx.scale10to90)).toBeLessThan(
      1e-12,
    );
  });

  it('inverts its own transform', () => {
    const model = fitRobustScaler(X);
    expect(maxAbsDiff(inverseTransformRobust(model, transformRobust(model, X)).data, X.data)).toBeLessThan(
      1e-9,
    );
  });

  it('rejects non-finite input and a feature-count mismatch', () => {
    expect(() => fitRobustScaler(fromRows([[1, NaN]]))).toThrow(ModelInputError);
    expect(() => transformRobust(fitRobustScaler(X), fromRows([[1, 2]]))).toThrow(/expects 4 features/);
  });
});
