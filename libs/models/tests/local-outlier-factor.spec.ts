import { fitLof, fromRows, scoreLof } from '../src';
import { loadFixture } from './helpers';

interface LofCase {
  name: string;
  nNeighbors: number;
  X: number[][];
  negativeOutlierFactor: number[];
  test: number[][];
  noveltyScoreSamples: number[];
}

const { cases } = loadFixture<{ cases: LofCase[] }>('lof.json');

/**
 * |ours − sklearn| ≤ 1e-6, relative above 1: a group of more than k duplicates has lrd ≈ 1e10 (scikit-learn's
 * 1e-10 guard), so its neighbours' LOF reaches ~1e9, where only relative agreement is meaningful.
 */
function worstError(ours: ArrayLike<number>, theirs: number[]): number {
  let worst = 0;
  theirs.forEach((t, i) => (worst = Math.max(worst, Math.abs(ours[i] - t) / Math.max(1, Math.abs(t)))));
  return worst;
}

describe.each(cases)('LOF against scikit-learn ($name)', (c) => {
  const model = fitLof(fromRows(c.X), { nNeighbors: c.nNeighbors });

  it('matches negative_outlier_factor_ on the training set within 1e-6', () => {
    expect(
      worstError(
        model.trainingScores,
        c.negativeOutlierFactor.map((v) => -v),
      ),
    ).toBeLessThan(1e-6);
  });

  it('matches novelty score_samples on new points within 1e-6', () => {
    const ours = scoreLof(model, fromRows(c.test));
    expect(
      worstError(
        ours,
        c.noveltyScoreSamples.map((v) => -v),
      ),
    ).toBeLessThan(1e-6);
  });

  it('scores the same after a JSON round trip of the model', () => {
    const restored = JSON.parse(JSON.stringify(model));
    expect(Array.from(scoreLof(restored, fromRows(c.test)))).toEqual(
      Array.from(scoreLof(model, fromRows(c.test))),
    );
  });
});
