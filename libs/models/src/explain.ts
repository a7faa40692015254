import { assertRow, matrix, type Matrix } from './matrix';

/** A window's score and how much each feature adds to it. */
export interface Explanation {
  /** The model's score of the window (higher = more anomalous). */
  score: number;
  /**
   * `contributions[j]` = score(x) − score(x with feature j set to the training median). Positive: this feature
   * being atypical raises the score. Contributions are not additive (features interact), but they rank which
   * features to show an analyst first.
   */
  contributions: Float64Array;
}

/**
 * Occlusion explanation: scores the window and its `d` copies with one feature replaced by the reference (the
 * training median), in one batched call, so it costs `d + 1` scores — microseconds to a few milliseconds whatever
 * the model.
 */
export function explainByOcclusion(
  score: (X: Matrix) => Float64Array,
  x: ArrayLike<number>,
  reference: readonly number[],
): Explanation {
  const d = reference.length;
  assertRow(x, 'explain', d);
  const rows = new Float64Array((d + 1) * d);
  for (let r = 0; r <= d; r++) {
    for (let j = 0; j < d; j++) rows[r * d + j] = x[j];
    if (r > 0) rows[r * d + (r - 1)] = reference[r - 1];
  }
  const s = score(matrix(d + 1, d, rows));
  const contributions = new Float64Array(d);
  for (let j = 0; j < d; j++) contributions[j] = s[0] - s[j + 1];
  return { score: s[0], contributions };
}
