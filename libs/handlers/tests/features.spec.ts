import fc from 'fast-check';
import { DEFAULT_CONFIG, formatDecimalUnits, parseDecimalUnits, resolveConfig } from '@splitwatch/core';
import { buildFeatures, ingest, registerFeatures } from '@splitwatch/use-cases';
import { csvOf, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

const T0 = Date.UTC(2021, 0, 1, 0, 0, 0) / 1000;
const fmtTs = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);

interface Ref {
  n_tx: number;
  sum_amount: string;
  min_amount: string;
  max_amount: string;
  mean_amount: number;
  std_amount: number | null;
  secs_since_prev: number | null;
}

/** Brute force: for each transaction, every transaction of its key within [ts - window, ts] (ties included). */
function reference(rows: Tx[], windowSeconds: number): Map<string, Ref> {
  const out = new Map<string, Ref>();
  const ts = (r: Tx) => Date.parse(`${r.date.replace(' ', 'T')}Z`) / 1000;
  for (const r of rows) {
    const key = (x: Tx) => `${x.account}|${x.type ?? 'DEBITO'}`;
    const same = rows.filter((x) => key(x) === key(r));
    const inWin = same.filter((x) => ts(x) >= ts(r) - windowSeconds && ts(x) <= ts(r));
    const units = inWin.map((x) => parseDecimalUnits(x.amount)!);
    const vals = units.map((u) => Number(u) / 1e8);
    const mean = vals.reduce((a, b) => a + b, 0) / vals.length;
    const std = vals.length > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (vals.length - 1)) : null;
    const ordered = [...same].sort((a, b) => ts(a) - ts(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const idx = ordered.indexOf(r);
    out.set(r.id, {
      n_tx: inWin.length,
      sum_amount: formatDecimalUnits(units.reduce((a, b) => a + b, 0n)),
      min_amount: formatDecimalUnits(units.reduce((a, b) => (b < a ? b : a))),
      max_amount: formatDecimalUnits(units.reduce((a, b) => (b > a ? b : a))),
      mean_amount: mean,
      std_amount: std,
      secs_since_prev: idx > 0 ? ts(r) - ts(ordered[idx - 1]) : null,
    });
  }
  return out;
}

async function features(w: World, rows: Tx[], windowHours = 24) {
  await w.objectStore.putText('raw/f.csv', csvOf(rows));
  await ingest(w, { runId: 'r1', sources: ['raw/f.csv'] });
  await buildFeatures(w, { runId: 'r1', config: resolveConfig({ windowHours }) });
  await registerFeatures(w.sqlEngine);
  const got = await w.sqlEngine.query(
    `SELECT tx_id, n_tx, CAST(sum_amount AS VARCHAR) AS sum_amount, CAST(min_amount AS VARCHAR) AS min_amount,
            CAST(max_amount AS VARCHAR) AS max_amount, mean_amount, std_amount, secs_since_prev, z_sum, hist_days
     FROM features ORDER BY tx_id`,
  );
  return new Map(got.map((r) => [String(r.tx_id), r]));
}

describe('window features (SQL on DuckDB) against a brute-force reference', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  it('treats ties, a gap of exactly 24 h and midnight as documented', async () => {
    const rows: Tx[] = [
      { id: 't1', account: 'a', date: '2021-01-01 23:30:00', amount: '100' },
      { id: 't2', account: 'a', date: '2021-01-02 00:10:00', amount: '200' }, // crosses midnight
      { id: 't3', account: 'a', date: '2021-01-02 00:10:00', amount: '300' }, // tie with t2
      { id: 't4', account: 'a', date: '2021-01-02 23:30:00', amount: '400' }, // exactly 24 h after t1: t1 inside
      { id: 't5', account: 'a', date: '2021-01-02 23:30:01', amount: '500' }, // t1 now outside
      { id: 't6', account: 'a', date: '2021-01-02 23:30:01', amount: '1', type: 'CREDITO' }, // other direction
    ];
    const got = await features(w, rows);
    expect(got.get('t2')).toMatchObject({ n_tx: 3, sum_amount: '600.00000000', secs_since_prev: 2400 });
    expect(got.get('t3')).toMatchObject({ n_tx: 3, sum_amount: '600.00000000', secs_since_prev: 0 });
    expect(got.get('t4')).toMatchObject({ n_tx: 4, sum_amount: '1000.00000000' });
    expect(got.get('t5')).toMatchObject({ n_tx: 4, sum_amount: '1400.00000000', min_amount: '200.00000000', max_amount: '500.00000000' });
    expect(got.get('t6')).toMatchObject({ n_tx: 1, sum_amount: '1.00000000', secs_since_prev: null, std_amount: null });
  });

  it('equals the brute-force windows on random data (count, exact sum/min/max, mean and sample std to 1e-9)', async () => {
    const txArb = fc.record({
      account: fc.constantFrom('a', 'b'),
      type: fc.constantFrom('DEBITO', 'CREDITO'),
      offset: fc.oneof(fc.integer({ min: 0, max: 4 * 86400 }), fc.constantFrom(0, 86400, 86399, 86401, 2 * 86400)),
      units: fc.bigInt({ min: 1n, max: 5_000n * 10n ** 8n }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(txArb, { minLength: 1, maxLength: 25 }), fc.constantFrom(1, 6, 24), async (txs, hours) => {
        const rows: Tx[] = txs.map((t, i) => ({
          id: `r${String(i).padStart(3, '0')}`,
          account: t.account,
          type: t.type,
          date: fmtTs(T0 + t.offset),
          amount: formatDecimalUnits(t.units),
        }));
        const fresh = await localWorld();
        try {
          const got = await features(fresh, rows, hours);
          const want = reference(rows, hours * 3600);
          expect(got.size).toBe(rows.length);
          for (const [id, ref] of want) {
            const g = got.get(id)!;
            expect(g.n_tx).toBe(ref.n_tx);
            expect(g.sum_amount).toBe(ref.sum_amount);
            expect(g.min_amount).toBe(ref.min_amount);
            expect(g.max_amount).toBe(ref.max_amount);
            expect(Math.abs(Number(g.mean_amount) - ref.mean_amount)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.mean_amount));
            if (ref.std_amount === null) expect(g.std_amount).toBeNull();
            else expect(Math.abs(Number(g.std_amount) - ref.std_amount)).toBeLessThanOrEqual(1e-9 * Math.max(1, ref.std_amount));
            expect(g.secs_since_prev).toBe(ref.secs_since_prev);
          }
        } finally {
          await fresh.dispose();
        }
      }),
      { numRuns: 12 },
    );
  });

  it('computes the z-score against past days only', async () => {
    const rows: Tx[] = [];
    for (let d = 0; d < 10; d++) rows.push({ id: `h${d}`, account: 'z', date: fmtTs(T0 + d * 86400 + 3600 * 12), amount: '50' });
    rows.push({ id: 'spike1', account: 'z', date: fmtTs(T0 + 10 * 86400 + 3600 * 13), amount: '900' });
    rows.push({ id: 'spike2', account: 'z', date: fmtTs(T0 + 10 * 86400 + 3600 * 14), amount: '900' });
    const got = await features(w, rows);
    expect(got.get('h0')).toMatchObject({ hist_days: 0, z_sum: null });
    const spike = got.get('spike2')!;
    expect(spike.hist_days).toBe(10);
    // Past daily sums are all 50 (std 0, floored at 1); h9 is 26 h back, outside the window: z = (1800 - 50) / 1.
    expect(Number(spike.z_sum)).toBeCloseTo(1750, 6);
    expect(DEFAULT_CONFIG.windowHours).toBe(24);
  });
});
