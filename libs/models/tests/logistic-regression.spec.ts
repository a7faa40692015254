import { decisionLogisticRegression, fitLogisticRegression, fromRows, matrix, ModelInputError, Random } from '../src';

/** Rows drawn from a known logistic model: x ~ N(0, 1)², y ~ Bernoulli(σ(b + w·x)). */
function sample(n: number, w: number[], b: number, seed: number) {
  const rng = new Random(seed);
  const X = matrix(n, w.length);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let s = b;
    for (let j = 0; j < w.length; j++) {
      const u = Math.max(rng.next(), 1e-12);
      const v = rng.next();
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      X.data[i * w.length + j] = z;
      s += w[j] * z;
    }
    y[i] = rng.next() < 1 / (1 + Math.exp(-s)) ? 1 : 0;
  }
  return { X, y };
}

describe('fitLogisticRegression', () => {
  it('recovers the coefficients of the model that generated the data (unweighted)', () => {
    const { X, y } = sample(40_000, [1.5, -2, 0.5], -0.7, 3);
    const m = fitLogisticRegression(X, y, { positiveWeight: 1, l2: 0 });
    expect(m.converged).toBe(true);
    expect(m.coef[0]).toBeCloseTo(1.5, 1);
    expect(m.coef[1]).toBeCloseTo(-2, 1);
    expect(m.coef[2]).toBeCloseTo(0.5, 1);
    expect(m.intercept).toBeCloseTo(-0.7, 1);
  });

  it('stops at the optimum: the weighted, penalised gradient is zero there', () => {
    const { X, y } = sample(5_000, [0.8, 0.3], -2.5, 9);
    const l2 = 0.01;
    const m = fitLogisticRegression(X, y, { l2 });
    const pos = y.reduce((a, v) => a + v, 0);
    const [wPos, wNeg] = [X.n / (2 * pos), X.n / (2 * (X.n - pos))];
    const g = [0, 0, 0];
    let total = 0;
    const s = decisionLogisticRegression(m, X);
    for (let i = 0; i < X.n; i++) {
      const w = y[i] ? wPos : wNeg;
      const e = w * (1 / (1 + Math.exp(-s[i])) - y[i]);
      g[0] += e * X.data[2 * i];
      g[1] += e * X.data[2 * i + 1];
      g[2] += e;
      total += w;
    }
    expect(Math.abs(g[0] / total + l2 * m.coef[0])).toBeLessThan(1e-9);
    expect(Math.abs(g[1] / total + l2 * m.coef[1])).toBeLessThan(1e-9);
    expect(Math.abs(g[2] / total)).toBeLessThan(1e-9);
  });

  it('balanced class weights move only the intercept of a well-specified model, towards even odds', () => {
    const { X, y } = sample(40_000, [2], -3, 5);
    const plain = fitLogisticRegression(X, y, { positiveWeight: 1, l2: 0 });
    const balanced = fitLogisticRegression(X, y, { l2: 0 });
    expect(balanced.coef[0]).toBeCloseTo(plain.coef[0], 0);
    expect(balanced.intercept).toBeGreaterThan(plain.intercept + 1);
  });

  it('names what is wrong with its input', () => {
    const X = fromRows([[1], [2], [3]]);
    expect(() => fitLogisticRegression(X, [0, 0, 0])).toThrow(/both classes/);
    expect(() => fitLogisticRegression(X, [0, 1])).toThrow(/2 labels for 3 rows/);
    expect(() => fitLogisticRegression(X, [0, 2, 1])).toThrow(ModelInputError);
  });
});
