import fc from 'fast-check';
import { findEngineOnlySql, planDayChunks, renderSql } from '../src';
import {
  CLASSIFY_EXCEPTIONS_SQL,
  curatedChunkSql,
  decimalFromCanonicalText,
  validatedRelation,
} from '../src/ingest/dedupe.sql';

describe('ingest SQL', () => {
  const exceptions = renderSql(CLASSIFY_EXCEPTIONS_SQL, {
    validated: validatedRelation('staged_r1', 'validated_r1'),
    curated: 'transactions',
    conflicted: 'known_conflicts_r1',
    minDt: "'2021-01-01'",
    maxDt: "'2021-01-31'",
    runSources: "'raw/a.csv'",
  });

  it.each([
    ['exceptions (retries and conflicts)', exceptions],
    [
      'curated write of a CSV range',
      curatedChunkSql({
        format: 'csv',
        tables: ['staged_r1_202101'],
        exceptions: 'exceptions_r1',
        sourceLiteral: "'raw/a.csv'",
        from: '2021-01-01',
        to: '2021-01-31',
        nextDay: '2021-02-01',
      }),
    ],
    [
      'curated write of a Parquet range',
      curatedChunkSql({
        format: 'parquet',
        tables: ['validated_r1'],
        exceptions: null,
        sourceLiteral: "'raw/p.parquet'",
        from: '2021-01-01',
        to: '2021-01-31',
        nextDay: '2021-02-01',
      }),
    ],
    ['amount typing', decimalFromCanonicalText('a')],
  ])('keeps the %s SQL in the subset Athena and DuckDB share', (_name, sql) => {
    expect(findEngineOnlySql(sql)).toEqual([]);
    expect(sql).not.toMatch(/\{\{/);
  });

  it('reads each relation without a CTE referenced twice (DuckDB would materialise it)', () => {
    expect(exceptions).not.toMatch(/\bWITH\b/i);
  });

  it('puts the partition column last, as Athena UNLOAD requires', () => {
    const sql = curatedChunkSql({
      format: 'csv',
      tables: ['t'],
      exceptions: null,
      sourceLiteral: "'s'",
      from: '2021-01-01',
      to: '2021-01-02',
      nextDay: '2021-01-03',
    });
    expect(sql).toMatch(/s\.source_line, CAST\(CAST\(s\.transaction_date AS DATE\) AS VARCHAR\) AS dt\nFROM/);
  });
});

describe('planDayChunks', () => {
  const day = fc
    .date({
      min: new Date('2020-01-01T00:00:00Z'),
      max: new Date('2022-12-31T00:00:00Z'),
      noInvalidDate: true,
    })
    .map((d) => d.toISOString().slice(0, 10));
  const days = fc.uniqueArray(fc.record({ dt: day, n: fc.integer({ min: 1, max: 5000 }) }), {
    selector: (d) => d.dt,
    maxLength: 200,
  });

  it('covers every day once, in order, never across a month, within the row and day limits', () => {
    fc.assert(
      fc.property(
        days,
        fc.integer({ min: 1, max: 20_000 }),
        fc.integer({ min: 1, max: 40 }),
        (ds, maxRows, maxDays) => {
          const chunks = planDayChunks(ds, maxRows, maxDays);
          const sorted = [...ds].sort((a, b) => (a.dt < b.dt ? -1 : 1));
          let k = 0;
          for (const c of chunks) {
            expect(c.from.slice(0, 7)).toBe(c.to.slice(0, 7));
            const inside = sorted.filter((d) => d.dt >= c.from && d.dt <= c.to);
            expect(inside[0].dt).toBe(sorted[k].dt);
            k += inside.length;
            expect(inside.reduce((s, d) => s + d.n, 0)).toBe(c.rows);
            expect(inside.length).toBeLessThanOrEqual(maxDays);
            if (inside.length > 1) expect(c.rows).toBeLessThanOrEqual(maxRows);
          }
          expect(k).toBe(ds.length);
        },
      ),
      { numRuns: 120 },
    );
  });
});
