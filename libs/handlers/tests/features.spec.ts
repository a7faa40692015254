import fc from 'fast-check';
import { DEFAULT_CONFIG, formatDecimalUnits, parseDecimalUnits, resolveConfig } from '@splitwatch/core';
import {
  buildFeatures,
  FEATURE_COLUMNS,
  FEATURE_KEYS,
  ingest,
  registerFeatures,
} from '@splitwatch/use-cases';
import { csvOf, inFreshWorld, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;
type Row = Record<string, unknown>;

const DAY = 86_400;
const T0 = Date.UTC(2021, 0, 1, 0, 0, 0) / 1000;
const UNIT = 594_445_501n; // the currency unit 5.94445501 in 1e-8 units
const BASELINE_DAYS = 30;
const PROPERTY_TIMEOUT_MS = 300_000;

const fmtTs = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);
const tsOf = (r: Tx) => Date.parse(`${r.date.replace(' ', 'T')}Z`) / 1000;
const dir = (r: Tx) => r.type ?? 'DEBITO';
const user = (r: Tx) => r.user ?? `u-${r.account}`;
const keyOf: Record<string, (r: Tx) => string> = {
  acct: (r) => `${r.account}|${dir(r)}`,
  user: (r) => `${user(r)}|${dir(r)}`,
  um: (r) => `${user(r)}|${r.merchant ?? 'm1'}|${dir(r)}`,
};
const byTimeThenId = (a: Tx, b: Tx) => tsOf(a) - tsOf(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Brute force, straight from the documented definitions: for each transaction and key, every transaction of the
 * key within [t - W, t] (ties included), the key's history strictly before the window, and its baseline span.
 * Decimals as exact text, counts as numbers, doubles as numbers.
 */
function reference(rows: Tx[], windowSeconds: number): Map<string, Row> {
  const out = new Map<string, Row>();
  const W = windowSeconds;
  const r = W / DAY;
  for (const c of rows) {
    const t = tsOf(c);
    const row: Row = {};
    for (const [p, key] of Object.entries(keyOf)) {
      const same = rows.filter((x) => key(x) === key(c));
      const win = same.filter((x) => tsOf(x) >= t - W && tsOf(x) <= t).sort(byTimeThenId);
      const units = win.map((x) => parseDecimalUnits(x.amount)!);
      const vals = units.map((u) => Number(u) / 1e8);
      const n = win.length;
      const sum = units.reduce((a, b) => a + b, 0n);
      const mean = vals.reduce((a, b) => a + b, 0) / n;
      const ordered = [...same].sort(byTimeThenId);
      const idx = ordered.indexOf(c);
      const gaps = win.slice(1).map((x, i) => tsOf(x) - tsOf(win[i]));
      const before = same.filter((x) => tsOf(x) < t - W).map((x) => parseDecimalUnits(x.amount)!);
      const cap = before.length > 0 ? before.reduce((a, b) => (b > a ? b : a)) : null;
      const atCap = cap === null ? null : units.filter((u) => u === cap).length;
      const first = Math.min(...same.map(tsOf));
      const histDays = t - W > first ? Math.min(BASELINE_DAYS, Math.ceil((t - W - first) / DAY)) : 0;
      const base = same
        .filter((x) => tsOf(x) >= t - W - BASELINE_DAYS * DAY && tsOf(x) <= t - W - 1)
        .map((x) => Number(parseDecimalUnits(x.amount)!) / 1e8);
      const baseSum = base.reduce((a, b) => a + b, 0);
      const baseSq = base.reduce((a, b) => a + b * b, 0);
      const onGrid = units.filter((u) => u % UNIT === 0n).length;
      Object.assign(row, {
        [`${p}_n_tx`]: n,
        [`${p}_sum_amount`]: formatDecimalUnits(sum),
        [`${p}_mean_amount`]: mean,
        [`${p}_std_amount`]:
          n > 1 ? Math.sqrt(vals.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null,
        [`${p}_min_amount`]: formatDecimalUnits(units.reduce((a, b) => (b < a ? b : a))),
        [`${p}_max_amount`]: formatDecimalUnits(units.reduce((a, b) => (b > a ? b : a))),
        [`${p}_span_seconds`]: t - tsOf(win[0]),
        [`${p}_secs_since_prev`]: idx > 0 ? t - tsOf(ordered[idx - 1]) : null,
        [`${p}_min_gap_seconds`]: n > 1 ? Math.min(...gaps) : null,
        [`${p}_mean_gap_seconds`]: n > 1 ? (t - tsOf(win[0])) / (n - 1) : null,
        [`${p}_n_subsidiaries`]: new Set(win.map((x) => x.subsidiary ?? 's1')).size,
        [`${p}_n_on_grid`]: onGrid,
        [`${p}_grid_share`]: onGrid / n,
        [`${p}_cap_amount`]: cap === null ? null : formatDecimalUnits(cap),
        [`${p}_n_at_cap`]: atCap,
        [`${p}_cap_share`]: atCap === null ? null : atCap / n,
        [`${p}_hist_days`]: histDays,
        [`${p}_base_n_tx`]: base.length,
        [`${p}_base_mean_amount`]: base.length > 0 ? baseSum / base.length : null,
        [`${p}_base_geomean_amount`]:
          base.length > 0 ? Math.exp(base.reduce((a, b) => a + Math.log(b), 0) / base.length) : null,
        [`${p}_base_mean_daily_count`]: histDays > 0 ? base.length / histDays : null,
        [`${p}_base_mean_daily_sum`]: histDays > 0 ? baseSum / histDays : null,
        [`${p}_z_count`]:
          histDays > 0
            ? (n - (r * base.length) / histDays) / Math.max(Math.sqrt((r * base.length) / histDays), 1)
            : null,
        [`${p}_z_sum`]:
          histDays > 0
            ? (Number(sum) / 1e8 - (r * baseSum) / histDays) / Math.max(Math.sqrt((r * baseSq) / histDays), 1)
            : null,
      });
    }
    // The unprefixed columns are the account key's window, unchanged since the first version.
    for (const name of [
      'n_tx',
      'sum_amount',
      'mean_amount',
      'std_amount',
      'min_amount',
      'max_amount',
      'span_seconds',
      'secs_since_prev',
    ]) {
      row[name] = row[`acct_${name}`];
    }
    Object.assign(row, legacyBaseline(rows, c, String(row.acct_sum_amount)), { window_seconds: W });
    out.set(c.id, row);
  }
  return out;
}

/** The account key's daily sums over the 30 calendar days strictly before the transaction's day. */
function legacyBaseline(rows: Tx[], c: Tx, windowSum: string): Row {
  const day = (x: Tx) => Math.floor(tsOf(x) / DAY);
  const same = rows.filter((x) => keyOf.acct(x) === keyOf.acct(c));
  const d = day(c);
  const histDays = Math.min(BASELINE_DAYS, d - Math.min(...same.map(day)));
  const sums = Array.from({ length: histDays }, (_, i) =>
    same
      .filter((x) => day(x) === d - 1 - i)
      .reduce((a, x) => a + Number(parseDecimalUnits(x.amount)!) / 1e8, 0),
  );
  const mean = histDays > 0 ? sums.reduce((a, b) => a + b, 0) / histDays : null;
  const activeDays = Array.from({ length: histDays }, (_, i) => same.some((x) => day(x) === d - 1 - i)).filter(Boolean).length;
  const std =
    histDays > 1 ? Math.sqrt(sums.reduce((a, b) => a + (b - mean!) ** 2, 0) / (histDays - 1)) : null;
  return {
    hist_days: histDays,
    base_mean_daily_sum: mean,
    base_std_daily_sum: std,
    base_mean_daily_count:
      histDays > 0 ? same.filter((x) => day(x) < d && day(x) >= d - histDays).length / histDays : null,
    z_sum:
      histDays > 1
        ? (Number(parseDecimalUnits(windowSum)!) / 1e8 - mean!) /
          Math.max(std!, activeDays > 0 ? sums.reduce((a, b) => a + b, 0) / activeDays : 0, 1)
        : null,
  };
}

const DOUBLE = new Set(FEATURE_COLUMNS.filter((c) => c.type === 'DOUBLE').map((c) => c.name));

/** Every reference value equals the SQL's: exact for counts and decimals, 1e-9 (relative above 1) for doubles. */
function expectSame(got: Row | undefined, want: Row, where: string): void {
  expect(got).toBeDefined();
  for (const [name, w] of Object.entries(want)) {
    const g = got![name];
    const label = `${where} ${name}: SQL ${String(g)}, reference ${String(w)}`;
    if (w === null || w === undefined) {
      if (g !== null) throw new Error(label);
    } else if (DOUBLE.has(name)) {
      if (typeof g !== 'number' || Math.abs(g - (w as number)) > 1e-9 * Math.max(1, Math.abs(w as number)))
        throw new Error(label);
    } else if (g !== w) {
      throw new Error(label);
    }
  }
}

async function features(w: World, rows: Tx[], windowHours = 24): Promise<Map<string, Row>> {
  await w.objectStore.putText('raw/f.csv', csvOf(rows));
  await ingest(w, { runId: 'r1', sources: ['raw/f.csv'] });
  await buildFeatures(w, { runId: 'r1', config: resolveConfig({ windowHours }) });
  await registerFeatures(w.sqlEngine);
  const decimals = FEATURE_COLUMNS.filter((c) => c.type.startsWith('DECIMAL'));
  const got = await w.sqlEngine.query(
    `SELECT *, ${decimals.map((c) => `CAST(${c.name} AS VARCHAR) AS ${c.name}`).join(', ')} FROM features ORDER BY tx_id`,
  );
  // The casts come last, so they win over the typed columns of the same name.
  return new Map(got.map((r) => [String(r.tx_id), r]));
}

/** Random logs shaped to hit every rule: shared users and merchants, ties, exact-window gaps, caps, the unit grid. */
const logArb = fc
  .array(
    fc.record({
      holder: fc.constantFrom(['a1', 'u1'], ['a2', 'u1'], ['a3', 'u2'], ['a4', 'u3']),
      merchant: fc.constantFrom('m1', 'm2'),
      subsidiary: fc.constantFrom('s1', 's2', 's3'),
      type: fc.constantFrom('DEBITO', 'DEBITO', 'CREDITO'),
      anchor: fc.constantFrom(0, 2 * DAY, 20 * DAY, 33 * DAY, 38 * DAY),
      delta: fc.oneof(
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.constantFrom(0, 1, 3600, 3601, 21_600, 21_601, DAY - 1, DAY, DAY + 1, 7 * DAY, 7 * DAY + 1),
      ),
      units: fc.oneof(
        fc.bigInt({ min: 1n, max: 200n }).map((k) => k * UNIT),
        fc.constantFrom(100n * 10n ** 8n, 250n * 10n ** 8n, 50n * UNIT, 50n * UNIT + 1n),
        fc.bigInt({ min: 1n, max: 5_000n * 10n ** 8n }),
      ),
    }),
    { minLength: 1, maxLength: 30 },
  )
  .map((txs) =>
    txs.map((t, i): Tx => ({
      id: `r${String(i).padStart(3, '0')}`,
      account: t.holder[0],
      user: t.holder[1],
      merchant: t.merchant,
      subsidiary: t.subsidiary,
      type: t.type,
      date: fmtTs(T0 + t.anchor + t.delta),
      amount: formatDecimalUnits(t.units),
    })),
  );

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
    expect(got.get('t5')).toMatchObject({
      n_tx: 4,
      sum_amount: '1400.00000000',
      min_amount: '200.00000000',
      max_amount: '500.00000000',
    });
    expect(got.get('t6')).toMatchObject({
      n_tx: 1,
      sum_amount: '1.00000000',
      secs_since_prev: null,
      std_amount: null,
    });
  });

  it('applies the same rules on the user and user-merchant keys, across accounts and merchants', async () => {
    const rows: Tx[] = [
      {
        id: 't1',
        account: 'a1',
        user: 'u1',
        merchant: 'm1',
        subsidiary: 's1',
        date: '2021-01-01 23:30:00',
        amount: '100',
      },
      {
        id: 't2',
        account: 'a2',
        user: 'u1',
        merchant: 'm1',
        subsidiary: 's2',
        date: '2021-01-02 00:10:00',
        amount: '200',
      },
      {
        id: 't3',
        account: 'a1',
        user: 'u1',
        merchant: 'm2',
        subsidiary: 's1',
        date: '2021-01-02 00:10:00',
        amount: '300',
      },
      {
        id: 't4',
        account: 'a2',
        user: 'u1',
        merchant: 'm1',
        subsidiary: 's1',
        date: '2021-01-02 23:30:00',
        amount: '400',
      },
      {
        id: 't5',
        account: 'a1',
        user: 'u1',
        merchant: 'm1',
        subsidiary: 's3',
        date: '2021-01-02 23:30:01',
        amount: '500',
      },
    ];
    const got = await features(w, rows);
    // User key: every transaction; t2 and t3 tie (t2 first by tx_id), t1 is exactly 24 h before t4.
    expect(got.get('t2')).toMatchObject({
      user_n_tx: 3,
      user_secs_since_prev: 2400,
      user_min_gap_seconds: 0,
    });
    expect(got.get('t3')).toMatchObject({
      user_n_tx: 3,
      user_sum_amount: '600.00000000',
      user_secs_since_prev: 0,
    });
    expect(got.get('t4')).toMatchObject({
      user_n_tx: 4,
      user_sum_amount: '1000.00000000',
      user_n_subsidiaries: 2,
    });
    expect(got.get('t5')).toMatchObject({
      user_n_tx: 4,
      user_sum_amount: '1400.00000000',
      user_n_subsidiaries: 3,
    });
    // Account key: a1 holds t1, t3, t5; a2 holds t2, t4.
    expect(got.get('t3')).toMatchObject({ acct_n_tx: 2, acct_sum_amount: '400.00000000', n_tx: 2 });
    expect(got.get('t5')).toMatchObject({
      acct_n_tx: 2,
      acct_sum_amount: '800.00000000',
      acct_span_seconds: 84_001,
    });
    expect(got.get('t4')).toMatchObject({ acct_n_tx: 2, acct_sum_amount: '600.00000000' });
    // User-merchant key: (u1, m1) holds t1, t2, t4, t5; t3 is alone at m2.
    expect(got.get('t4')).toMatchObject({ um_n_tx: 3, um_sum_amount: '700.00000000' });
    expect(got.get('t5')).toMatchObject({
      um_n_tx: 3,
      um_sum_amount: '1100.00000000',
      um_min_gap_seconds: 1,
      um_mean_gap_seconds: 42_000.5,
    });
    expect(got.get('t3')).toMatchObject({
      um_n_tx: 1,
      um_min_gap_seconds: null,
      um_mean_gap_seconds: null,
      um_std_amount: null,
    });
  });

  it('counts parts equal to the historical cap, on the unit grid, and never a later maximum', async () => {
    const on = (k: bigint) => formatDecimalUnits(k * UNIT);
    const rows: Tx[] = [
      { id: 'h1', account: 'c', date: '2021-01-01 10:00:00', amount: on(10n) },
      { id: 'h2', account: 'c', date: '2021-01-01 11:00:00', amount: on(50n) }, // the cap from 24 h later on
      { id: 'p1', account: 'c', date: '2021-01-05 09:00:00', amount: on(50n) },
      { id: 'p2', account: 'c', date: '2021-01-05 09:30:00', amount: on(50n) },
      { id: 'p3', account: 'c', date: '2021-01-05 10:00:00', amount: formatDecimalUnits(20n * UNIT + 1n) }, // off grid
      { id: 'p4', account: 'c', date: '2021-01-05 11:00:00', amount: on(80n) }, // a new maximum: not the cap yet
    ];
    const got = await features(w, rows);
    expect(got.get('h1')).toMatchObject({ acct_cap_amount: null, acct_n_at_cap: null, acct_cap_share: null });
    expect(got.get('p3')).toMatchObject({
      acct_cap_amount: on(50n),
      acct_n_at_cap: 2,
      acct_n_tx: 3,
      acct_n_on_grid: 2,
    });
    expect(got.get('p4')).toMatchObject({
      acct_cap_amount: on(50n),
      acct_n_at_cap: 2,
      acct_cap_share: 0.5,
      acct_grid_share: 0.75,
    });
  });

  it(
    'equals the brute-force reference on random logs, for every key and column, with 1 h, 6 h, 24 h and 7 d windows',
    async () => {
      await fc.assert(
        fc.asyncProperty(logArb, fc.constantFrom(1, 6, 24, 168), async (rows, hours) => {
          const got = await inFreshWorld((fresh) => features(fresh, rows, hours));
          const want = reference(rows, hours * 3600);
          expect(got.size).toBe(rows.length);
          for (const [id, ref] of want) expectSame(got.get(id), ref, `${id} (${hours} h)`);
        }),
        { numRuns: 16 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'never looks into the future: later transactions leave every earlier row unchanged',
    async () => {
      await fc.assert(
        fc.asyncProperty(logArb, logArb, fc.constantFrom(6, 24), async (early, late, hours) => {
          const last = Math.max(...early.map(tsOf));
          const later = late.map((t, i) => ({
            ...t,
            id: `z${String(i).padStart(3, '0')}`,
            date: fmtTs(last + 1 + (tsOf(t) - T0)),
          }));
          const before = await inFreshWorld((fresh) => features(fresh, early, hours));
          const after = await inFreshWorld((fresh) => features(fresh, [...early, ...later], hours));
          for (const [id, row] of before) {
            const { dt: _dt, ...columns } = row;
            expectSame(after.get(id), columns, `${id} after appending ${later.length} later rows`);
          }
        }),
        { numRuns: 6 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('computes the z-score against past days only', async () => {
    const rows: Tx[] = [];
    for (let d = 0; d < 10; d++)
      rows.push({ id: `h${d}`, account: 'z', date: fmtTs(T0 + d * DAY + 3600 * 12), amount: '50' });
    rows.push({ id: 'spike1', account: 'z', date: fmtTs(T0 + 10 * DAY + 3600 * 13), amount: '900' });
    rows.push({ id: 'spike2', account: 'z', date: fmtTs(T0 + 10 * DAY + 3600 * 14), amount: '900' });
    const got = await features(w, rows);
    expect(got.get('h0')).toMatchObject({ hist_days: 0, z_sum: null, acct_hist_days: 0, acct_z_sum: null });
    const spike = got.get('spike2')!;
    expect(spike.hist_days).toBe(10);
    // Past daily sums are all 50 (std 0, floored at one usual active day, 50); h9 is 26 h back, outside the window:
    // z = (1800 - 50) / 50.
    expect(Number(spike.z_sum)).toBeCloseTo(35, 6);
    // The 30 days before the window: h0..h9 (h9 is 26 h back), 10 × 50 over 10 days of history (9 d 2 h, rounded up).
    expect(spike).toMatchObject({
      acct_hist_days: 10,
      acct_base_n_tx: 10,
      acct_base_mean_amount: 50,
      acct_base_mean_daily_sum: 50,
    });
    expect(Number(spike.acct_base_geomean_amount)).toBeCloseTo(50, 9);
    // Compound Poisson: z_sum = (1800 - 50) / √(10 · 50² / 10) = 35; z_count = (2 - 1) / 1.
    expect(Number(spike.acct_z_sum)).toBeCloseTo(35, 9);
    expect(Number(spike.acct_z_count)).toBeCloseTo(1, 9);
    expect(DEFAULT_CONFIG.windowHours).toBe(24);
  });

  it('writes exactly the declared columns, in order, with the declared types', async () => {
    await features(w, [{ id: 'x', account: 'a', date: '2021-01-01 00:00:00', amount: '1' }]);
    const described = await w.sqlEngine.query(
      `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${w.root}/features/windows/month=2021-01/*.parquet', hive_partitioning = false))`,
    );
    expect(described.map((d) => `${String(d.column_name)} ${String(d.column_type)}`)).toEqual(
      [...FEATURE_COLUMNS, { name: 'dt', type: 'VARCHAR' }].map((c) => `${c.name} ${c.type}`),
    );
    expect(FEATURE_KEYS.map((k) => k.prefix)).toEqual(['acct', 'user', 'um']);
  });
});
