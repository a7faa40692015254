import fc from 'fast-check';
import { fromRows, KdTree, matrix, ModelInputError, type Matrix } from '../src';

function sqDist(X: Matrix, i: number, q: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < X.d; j++) {
    const t = X.data[i * X.d + j] - q[j];
    s += t * t;
  }
  return s;
}

/** Points on a coarse grid (many exact ties and duplicates) or continuous, 1–6 dimensions. */
const cloud = fc
  .record({ d: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 300 }), grid: fc.boolean() })
  .chain(({ d, n, grid }) =>
    fc.record({
      d: fc.constant(d),
      rows: fc.array(
        fc.array(grid ? fc.integer({ min: -3, max: 3 }) : fc.double({ min: -50, max: 50, noNaN: true }), {
          minLength: d,
          maxLength: d,
        }),
        { minLength: n, maxLength: n },
      ),
      query: fc.array(fc.double({ min: -60, max: 60, noNaN: true }), { minLength: d, maxLength: d }),
      leafSize: fc.integer({ min: 1, max: 40 }),
    }),
  );

describe('KdTree', () => {
  it('finds the same k nearest distances as brute force', () => {
    fc.assert(
      fc.property(cloud, fc.integer({ min: 1, max: 40 }), ({ rows, query, leafSize }, k) => {
        const X = fromRows(rows);
        const tree = KdTree.build(X, leafSize);
        const { indices, distances } = tree.knn(query, k);
        const brute = rows.map((_, i) => Math.sqrt(sqDist(X, i, query))).sort((a, b) => a - b);
        expect(Array.from(distances)).toEqual(brute.slice(0, Math.min(k, rows.length)));
        // Each index is a distinct row at the reported distance.
        expect(new Set(indices).size).toBe(indices.length);
        indices.forEach((i, m) => expect(Math.sqrt(sqDist(X, i, query))).toBe(distances[m]));
      }),
      { numRuns: 150 },
    );
  });

  it('finds exactly the rows within the radius, boundary included', () => {
    fc.assert(
      fc.property(cloud, fc.double({ min: 0, max: 40, noNaN: true }), ({ rows, query, leafSize }, r) => {
        const X = fromRows(rows);
        const tree = KdTree.build(X, leafSize);
        const expected = rows.map((_, i) => i).filter((i) => sqDist(X, i, query) <= r * r);
        expect(Array.from(tree.radius(query, r))).toEqual(expected);
        expect(tree.radiusCount(Float64Array.from(query), 0, r)).toBe(expected.length);
      }),
      { numRuns: 150 },
    );
  });

  it('counts a grid point and its duplicates when the radius is zero', () => {
    const tree = KdTree.build(
      fromRows([
        [1, 1],
        [1, 1],
        [2, 2],
        [1, 1],
      ]),
      1,
    );
    expect(Array.from(tree.radius([1, 1], 0))).toEqual([0, 1, 3]);
  });

  it('finds the nearest point as brute force does', () => {
    fc.assert(
      fc.property(cloud, ({ rows, query, leafSize }) => {
        const X = fromRows(rows);
        const tree = KdTree.build(X, leafSize);
        const hit = { index: -1, distance: 0 };
        tree.nearestInto(Float64Array.from(query), 0, hit);
        const best = Math.min(...rows.map((_, i) => sqDist(X, i, query)));
        expect(hit.distance).toBe(Math.sqrt(best));
        expect(sqDist(X, hit.index, query)).toBe(best);
      }),
      { numRuns: 100 },
    );
  });

  it('orders query rows as a permutation (the order only groups rows by leaf)', () => {
    fc.assert(
      fc.property(cloud, ({ rows, leafSize }) => {
        const X = fromRows(rows);
        const order = Array.from(KdTree.build(X, leafSize).leafOrder(X));
        expect([...order].sort((a, b) => a - b)).toEqual(rows.map((_, i) => i));
      }),
      { numRuns: 50 },
    );
  });

  it('rejects a query of the wrong dimension', () => {
    const tree = KdTree.build(matrix(3, 2, new Float64Array([0, 0, 1, 1, 2, 2])));
    expect(() => tree.knn([0, 0, 0], 1)).toThrow(ModelInputError);
  });
});

describe('KdTree.knnAll (warm-started batch kNN)', () => {
  /** Training rows plus query rows that repeat training rows, repeat each other, or are new (grid: many ties). */
  const batch = cloud.chain(({ d, rows, leafSize }) =>
    fc.record({
      d: fc.constant(d),
      rows: fc.constant(rows),
      leafSize: fc.constant(leafSize),
      queries: fc.array(
        fc.oneof(
          fc.nat({ max: rows.length - 1 }).map((i) => [...rows[i]]),
          fc.array(fc.integer({ min: -4, max: 4 }), { minLength: d, maxLength: d }),
          fc.array(fc.double({ min: -60, max: 60, noNaN: true }), { minLength: d, maxLength: d }),
        ),
        { minLength: 1, maxLength: 400 },
      ),
      k: fc.integer({ min: 1, max: 40 }),
      dupes: fc.boolean(),
    }),
  );

  function plain(tree: KdTree, Q: Matrix, k: number): { idx: number[][]; dist: number[][] } {
    const kk = Math.min(k, tree.n);
    const qi = new Int32Array(kk);
    const qd = new Float64Array(kk);
    const idx: number[][] = [];
    const dist: number[][] = [];
    for (let i = 0; i < Q.n; i++) {
      tree.knnInto(Q.data, i * Q.d, kk, qi, qd, 0);
      idx.push(Array.from(qi));
      dist.push(Array.from(qd));
    }
    return { idx, dist };
  }

  function batched(tree: KdTree, Q: Matrix, k: number, order?: Int32Array) {
    const idx: number[][] = new Array<number[]>(Q.n);
    const dist: number[][] = new Array<number[]>(Q.n);
    let visits = 0;
    tree.knnAll(
      Q,
      k,
      (i, qi, qd) => {
        visits++;
        expect(idx[i]).toBeUndefined();
        idx[i] = Array.from(qi);
        dist[i] = Array.from(qd);
      },
      order,
    );
    expect(visits).toBe(Q.n);
    return { idx, dist };
  }

  it('returns exactly what one plain search per row returns, ties and duplicates included', () => {
    fc.assert(
      fc.property(batch, ({ rows, queries, leafSize, k, dupes }) => {
        // Runs of identical query rows exercise the reuse of the previous answer.
        const qs = dupes ? queries.flatMap((q) => [q, q, [...q]]) : queries;
        const X = fromRows(rows);
        const Q = fromRows(qs);
        const tree = KdTree.build(X, leafSize);
        const expected = plain(tree, Q, k);
        const got = batched(tree, Q, k);
        expect(got.idx).toEqual(expected.idx);
        expect(got.dist).toEqual(expected.dist);
        // The distances are the brute-force ones.
        for (let i = 0; i < Q.n; i++) {
          const brute = rows.map((_, r) => Math.sqrt(sqDist(X, r, qs[i]))).sort((a, b) => a - b);
          expect(got.dist[i]).toEqual(brute.slice(0, Math.min(k, rows.length)));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('does not depend on the order rows are visited in', () => {
    fc.assert(
      fc.property(batch, fc.integer(), ({ rows, queries, leafSize, k }, seed) => {
        const X = fromRows(rows);
        const Q = fromRows(queries);
        const tree = KdTree.build(X, leafSize);
        const order = Int32Array.from(queries.map((_, i) => i));
        let s = seed >>> 0;
        for (let i = order.length - 1; i > 0; i--) {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          const j = s % (i + 1);
          [order[i], order[j]] = [order[j], order[i]];
        }
        expect(batched(tree, Q, k, order)).toEqual(batched(tree, Q, k));
      }),
      { numRuns: 80 },
    );
  });

  it('breaks ties at the k-th distance the same way on a dense grid with duplicates', () => {
    const rows: number[][] = [];
    for (let a = -3; a <= 3; a++) for (let b = -3; b <= 3; b++) for (let c = 0; c < 3; c++) rows.push([a, b]);
    const X = fromRows(rows);
    const queries: number[][] = [];
    for (let a = -35; a <= 35; a++) for (let b = -35; b <= 35; b++) queries.push([a / 10, b / 10]);
    const Q = fromRows(queries);
    for (const leafSize of [1, 4, 16]) {
      const tree = KdTree.build(X, leafSize);
      for (const k of [1, 2, 5, 7, 20]) expect(batched(tree, Q, k)).toEqual(plain(tree, Q, k));
    }
  });

  it('caps k at n and rejects bad input', () => {
    const X = fromRows([
      [0, 0],
      [1, 1],
    ]);
    const tree = KdTree.build(X);
    const Q = fromRows(Array.from({ length: 300 }, (_, i) => [i / 100, 0]));
    const got = batched(tree, Q, 5);
    expect(got.idx[0]).toEqual([0, 1]);
    expect(() => tree.knnAll(fromRows([[0, 0, 0]]), 1, () => undefined)).toThrow(ModelInputError);
    expect(() => tree.knnAll(Q, 0, () => undefined)).toThrow(ModelInputError);
    expect(() => tree.knnAll(Q, 1, () => undefined, new Int32Array(2))).toThrow(ModelInputError);
  });
});
