import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromRows, matrix, Random, type Matrix } from '../src';

/** Reads a committed scikit-learn fixture (see tools/sklearn-fixtures). */
export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(__dirname, 'fixtures', name), 'utf8')) as T;
}

export { fromRows };

/** ROC-AUC of scores against 0/1 labels (Mann–Whitney with midranks for ties). */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const ranks = midranks(scores);
  let pos = 0;
  let sumPos = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 1) {
      pos++;
      sumPos += ranks[i];
    }
  }
  const neg = labels.length - pos;
  return (sumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Spearman rank correlation (Pearson on midranks). */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ra = midranks(a);
  const rb = midranks(b);
  const n = ra.length;
  const ma = ra.reduce((s, v) => s + v, 0) / n;
  const mb = rb.reduce((s, v) => s + v, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) ** 2;
    sbb += (rb[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function midranks(v: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: v.length }, (_, i) => i).sort((i, j) => v[i] - v[j]);
  const r = new Float64Array(v.length);
  for (let s = 0; s < idx.length;) {
    let e = s;
    while (e + 1 < idx.length && v[idx[e + 1]] === v[idx[s]]) e++;
    for (let m = s; m <= e; m++) r[idx[m]] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

/** Largest |a − b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Seeded clustered data: `k` Gaussian blobs plus a few uniform outliers. */
export function clustered(n: number, d: number, seed: number, k = 3): Matrix {
  const rng = new Random(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => rng.uniform(-5, 5)));
  const X = matrix(n, d);
  for (let i = 0; i < n; i++) {
    const outlier = rng.next() < 0.03;
    const c = centres[i % k];
    for (let j = 0; j < d; j++) {
      X.data[i * d + j] = outlier ? rng.uniform(-10, 10) : c[j] + gauss(rng);
    }
  }
  return X;
}

function gauss(rng: Random): number {
  return Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
}
