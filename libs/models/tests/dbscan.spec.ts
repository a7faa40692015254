import {
  estimateEps,
  fitDbscan,
  fromRows,
  ModelFitError,
  predictDbscan,
  scoreDbscan,
  takeRows,
} from '../src';
import { loadFixture } from './helpers';

interface DbscanCase {
  name: string;
  eps: number;
  minSamples: number;
  X: number[][];
  labels: number[];
}

const { cases } = loadFixture<{ cases: DbscanCase[] }>('dbscan.json');

/** True when two labelings are equal up to a bijective renaming of clusters, with noise (-1) fixed. */
function sameUpToRenaming(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  const ab = new Map<number, number>();
  const ba = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    if ((a[i] === -1) !== (b[i] === -1)) return false;
    if (ab.has(a[i]) && ab.get(a[i]) !== b[i]) return false;
    if (ba.has(b[i]) && ba.get(b[i]) !== a[i]) return false;
    ab.set(a[i], b[i]);
    ba.set(b[i], a[i]);
  }
  return true;
}

describe.each(cases)('DBSCAN against scikit-learn ($name)', (c) => {
  const X = fromRows(c.X);
  const model = fitDbscan(X, { eps: c.eps, minSamples: c.minSamples });

  it('labels every point as scikit-learn does, up to renaming of clusters', () => {
    expect(sameUpToRenaming(model.labels, c.labels)).toBe(true);
    // Same discovery order makes the numbering itself identical.
    expect(model.labels).toEqual(c.labels);
  });

  it('scores core points 0 and predicts their own cluster', () => {
    const core = takeRows(X, model.coreIndices);
    expect(Array.from(scoreDbscan(model, core)).every((s) => s === 0)).toBe(true);
    expect(Array.from(predictDbscan(model, core))).toEqual(model.coreIndices.map((i) => model.labels[i]));
  });
});

describe('DBSCAN scoring of new windows', () => {
  const X = fromRows([
    [0, 0],
    [0, 0.1],
    [0.1, 0],
    [0.1, 0.1],
    [5, 5],
  ]);
  const model = fitDbscan(X, { eps: 0.2, minSamples: 3 });

  it('scores a new window by its distance to the nearest core point', () => {
    const s = scoreDbscan(
      model,
      fromRows([
        [0.05, 0.05],
        [3, 4.1],
      ]),
    );
    expect(s[0]).toBeCloseTo(Math.hypot(0.05, 0.05), 12);
    expect(s[1]).toBeCloseTo(Math.hypot(2.9, 4.0), 12);
    expect(
      Array.from(
        predictDbscan(
          model,
          fromRows([
            [0.05, 0.05],
            [3, 4],
          ]),
        ),
      ),
    ).toEqual([0, -1]);
  });

  it('refuses to score when no point is core, saying what to change', () => {
    const empty = fitDbscan(X, { eps: 0.01, minSamples: 3 });
    expect(empty.labels.every((l) => l === -1)).toBe(true);
    expect(() => scoreDbscan(empty, X)).toThrow(ModelFitError);
    expect(() => scoreDbscan(empty, X)).toThrow(/raise eps or lower minSamples/);
  });

  it('estimates an eps that makes the requested share of rows core', () => {
    const data = fromRows(cases[0].X);
    const eps = estimateEps(data, 5, 0.8);
    const fitted = fitDbscan(data, { eps, minSamples: 5 });
    expect(fitted.coreIndices.length / data.n).toBeGreaterThanOrEqual(0.8);
    expect(fitted.coreIndices.length / data.n).toBeLessThan(0.82);
  });
});
