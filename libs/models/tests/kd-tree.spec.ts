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
