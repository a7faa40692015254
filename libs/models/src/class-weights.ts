import { ModelInputError } from './errors';

/**
 * Checks binary labels (0/1, one per row, both classes present) and returns the positives and the two class weights:
 * 'balanced' weighs each class by the inverse of its count, as scikit-learn's class_weight='balanced'; a number is
 * the positive class's weight against 1 for the negatives.
 */
export function binaryClassWeights(
  y: ArrayLike<number>,
  n: number,
  positiveWeight: number | 'balanced',
  what: string,
): { positives: number; wPos: number; wNeg: number } {
  if (y.length !== n) throw new ModelInputError(`${what}: ${y.length} labels for ${n} rows`);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    if (y[i] !== 0 && y[i] !== 1) throw new ModelInputError(`${what}: label ${i} is ${y[i]}, expected 0 or 1`);
    positives += y[i];
  }
  if (positives === 0 || positives === n) throw new ModelInputError(`${what} needs both classes in y`);
  return {
    positives,
    wPos: positiveWeight === 'balanced' ? n / (2 * positives) : positiveWeight,
    wNeg: positiveWeight === 'balanced' ? n / (2 * (n - positives)) : 1,
  };
}
