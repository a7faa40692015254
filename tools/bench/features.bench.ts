/**
 * Feature-builder benchmark: `npm run bench:features [-- --rows 1000000,5000000,21516918] [--threads N]
 * [--memory-limit 12GB] [--window-hours 24] [--dir DIR] [--fresh] [--phases reference,fair,features]
 * [--check-rows 1000000] [--prepare-only]`.
 *
 * For each size: a synthetic log with the real extract's sparsity (libs/synth, ~7.2 rows per user over 334 days)
 * is written straight to curated Parquet with DuckDB (ingest's validation is not what is measured), then up to
 * three measurements run, each in a child process of its own so that peak RSS (and CPU) is per measurement, with
 * the same DuckDB settings (threads, memory_limit, temp_directory `<data>/.duckdb-spill` so it spills, not dies):
 * - `reference` (minimal): one hand-written DuckDB query, COUNT/SUM/STDDEV over RANGE 24 h on (account, direction),
 *   curated Parquet in, Parquet out. Not the same work: a floor, kept for continuity with earlier figures.
 * - `fair` (the comparison the issue asks for): one hand-written DuckDB statement ({@link fairReferenceSql}) in
 *   DuckDB's own dialect (epoch(), named WINDOWs, COUNT(DISTINCT …) OVER, list() OVER + list_filter lambda for the
 *   cap matches, GROUP BY ALL) that yields every column buildFeatures writes (FEATURE_COLUMNS, same names, order
 *   and types): for each of the three keys n_tx, sum/mean/std/min/max, span, secs_since_prev, min/mean gap,
 *   n_subsidiaries, grid and cap counts and shares, hist_days, the 30-day baselines and both z-scores; plus the
 *   unprefixed account columns and the legacy calendar-day baseline (daily sums, std, active-day floor, z_sum).
 *   Curated Parquet in, Parquet out. It leaves out only what is not SQL work: buildFeatures' bookkeeping (deleting
 *   the previous output, registering views, its integrity COUNT over the written features, the step record), which
 *   stays inside the buildFeatures figure.
 * - `features`: buildFeatures (the shared Athena/DuckDB SQL: three keys, every feature), Parquet in and out, from
 *   scratch (the state of an earlier build is removed first).
 * - `incremental` (not in the default phases): a scheduled run's case. The newest curated day is held out while a
 *   full build runs, then put back and buildFeatures measured again (it recomputes only that day's users and
 *   rewrites the months from that day on); with at most --check-rows rows its output is compared with a full build
 *   of the same data, row by row.
 * When a size has at most --check-rows rows (default 1M), the fair reference's output is joined to buildFeatures'
 * on tx_id and compared column by column (max abs difference; exact for counts/decimals/text, 1e-9 relative for
 * doubles), so the ratio compares equal results. CPU is user + system of the child (DuckDB's threads included), the
 * steadier figure on a shared machine; the 1-minute load average is printed beside each measurement.
 * Data is kept under --dir (default $TMPDIR/splitwatch-bench) and reused by later runs unless --fresh;
 * --prepare-only just synthesises and curates.
 */
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalObjectStore } from '@splitwatch/adapters-local';
import { Keys, resolveConfig, type ColumnDef } from '@splitwatch/core';
import { synthesize } from '@splitwatch/synth';
import {
  BASELINE_DAYS,
  buildFeatures,
  FEATURE_COLUMNS,
  FEATURE_KEYS,
  GRID_UNIT,
} from '@splitwatch/use-cases';
import {
  fmt,
  log,
  measureInChild,
  openBenchEngine,
  reportFromChild,
  ROWS_PER_USER,
  secs,
  type ChildMeasurement,
} from './measure';

/** Where the two DuckDB references write their output (beside buildFeatures' `features/`). */
const REFERENCE_PREFIX = 'bench/reference/';
const FAIR_PREFIX = 'bench/fair-reference/';

interface Options {
  rows: number[];
  dir: string;
  threads?: number;
  memoryLimit?: string;
  windowHours: number;
  fresh: boolean;
  prepareOnly: boolean;
  phases: Phase[];
  checkRows: number;
}

interface Measurement extends ChildMeasurement {
  /** 1-minute load average when the measurement started and ended (the machine is shared). */
  load?: [number, number];
}

function readOptions(argv: string[]): Options & { child?: string; root?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000,5000000' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench') },
      threads: { type: 'string' },
      'memory-limit': { type: 'string' },
      'window-hours': { type: 'string', default: '24' },
      fresh: { type: 'boolean', default: false },
      'prepare-only': { type: 'boolean', default: false },
      phases: { type: 'string', default: 'reference,fair,features' },
      'check-rows': { type: 'string', default: '1000000' },
      child: { type: 'string' },
      root: { type: 'string' },
    },
  });
  const rows = values.rows.split(',').map((r) => Number(r.replace(/_/g, '')));
  if (rows.some((r) => !Number.isInteger(r) || r < 1000))
    throw new Error(`--rows must be integers ≥ 1000, got ${values.rows}`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new Error(`--threads must be a positive integer`);
  const phases = values.phases.split(',') as Phase[];
  if (phases.some((p) => !(p in PHASE_NAMES)))
    throw new Error(`--phases: one of ${Object.keys(PHASE_NAMES).join(',')}`);
  const windowHours = Number(values['window-hours']);
  if (!(windowHours > 0)) throw new Error(`--window-hours must be positive, got ${values['window-hours']}`);
  return {
    rows,
    dir: values.dir,
    threads,
    memoryLimit: values['memory-limit'],
    windowHours,
    fresh: values.fresh,
    prepareOnly: values['prepare-only'],
    phases,
    checkRows: Number(values['check-rows'].replace(/_/g, '')),
    child: values.child,
    root: values.root,
  };
}

const openEngine = openBenchEngine;

/** Synthesises about `rows` transactions and writes them as curated Parquet under `<sizeDir>/data/`. */
async function prepare(sizeDir: string, rows: number, o: Options): Promise<number> {
  const ready = join(sizeDir, 'READY.json');
  if (!o.fresh && existsSync(ready))
    return (JSON.parse(await readFile(ready, 'utf-8')) as { rows: number }).rows;
  await rm(sizeDir, { recursive: true, force: true });
  const synthDir = join(sizeDir, 'synth');
  const root = join(sizeDir, 'data');
  await mkdir(root, { recursive: true });
  let t = Date.now();
  const summary = await synthesize(
    { users: Math.max(1, Math.round(rows / ROWS_PER_USER)), days: 334, seed: 2021 },
    synthDir,
  );
  log(`  synthesised ${fmt(summary.rows)} rows in ${secs(Date.now() - t)}`);
  t = Date.now();
  const engine = await openEngine(root, o);
  try {
    const csv = summary.files.transactions.replace(/'/g, "''");
    // Bench-only DuckDB SQL: the curated layout ingest writes, retries (same _id) reduced to their first row.
    await engine.unload(
      `SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount,
              transaction_type, 'raw/bench.csv' AS source_key, source_line, CAST(CAST(transaction_date AS DATE) AS VARCHAR) AS dt
       FROM (
         SELECT "_id" AS tx_id, merchant_id, subsidiary, CAST(transaction_date AS TIMESTAMP) AS transaction_date,
                account_number, user_id, CAST(transaction_amount AS DECIMAL(24,8)) AS transaction_amount,
                transaction_type, row_number() OVER () + 1 AS source_line
         FROM read_csv('${csv}', header = true, all_varchar = true)
       )
       QUALIFY row_number() OVER (PARTITION BY tx_id ORDER BY transaction_date, source_line) = 1`,
      'curated/transactions/',
      { partitionBy: ['dt'] },
    );
    const [{ n }] = (await engine.query(
      `SELECT COUNT(*) AS n FROM read_parquet('${root}/curated/transactions/**/*.parquet')`,
    )) as {
      n: number;
    }[];
    log(`  curated ${fmt(n)} rows (Parquet by day) in ${secs(Date.now() - t)}`);
    await rm(synthDir, { recursive: true, force: true });
    await writeFile(ready, JSON.stringify({ rows: n }));
    return n;
  } finally {
    await engine.close();
  }
}

/** The hand-written comparison query: one window on the account key, Parquet in and out. */
async function runReference(root: string, o: Options): Promise<number> {
  await rm(join(root, REFERENCE_PREFIX), { recursive: true, force: true });
  const engine = await openEngine(root, o);
  try {
    await engine.unload(
      `SELECT tx_id, account_number, transaction_type, transaction_date, transaction_amount,
              COUNT(*) OVER w AS n_tx, SUM(transaction_amount) OVER w AS sum_amount,
              STDDEV_SAMP(CAST(transaction_amount AS DOUBLE)) OVER w AS std_amount
       FROM read_parquet('${root}/curated/transactions/**/*.parquet')
       WINDOW w AS (PARTITION BY account_number, transaction_type ORDER BY transaction_date
                    RANGE BETWEEN INTERVAL ${o.windowHours} HOURS PRECEDING AND CURRENT ROW)`,
      REFERENCE_PREFIX,
    );
    const [{ n }] = (await engine.query(
      `SELECT COUNT(*) AS n FROM read_parquet('${root}/${REFERENCE_PREFIX}*.parquet')`,
    )) as {
      n: number;
    }[];
    return Number(n);
  } finally {
    await engine.close();
  }
}

/**
 * The fair comparison: the same feature columns as buildFeatures (FEATURE_COLUMNS, same order and types), written
 * the way a DuckDB user would, in DuckDB's own dialect: epoch(), named WINDOWs, COUNT(DISTINCT …) OVER, a list
 * aggregate with a lambda for the cap matches. One statement, two window levels (LAG/LEAD, then the framed
 * aggregates), the legacy daily baseline as GROUP BY + window + join.
 */
export function fairReferenceSql(glob: string, windowHours: number): string {
  const W = Math.round(windowHours * 3600);
  const r = `(${W}.0 / 86400)`;
  const B = BASELINE_DAYS;
  const spec = (cols: readonly string[], order = 'ts_s') =>
    `PARTITION BY ${cols.join(', ')} ORDER BY ${order}`;
  const lags: string[] = [];
  const windows: string[] = [];
  const aggs: string[] = [];
  const out: Record<string, string> = {};
  for (const { prefix: p, columns } of FEATURE_KEYS) {
    const cols = columns.map((c) => (c === 'direction' ? 'transaction_type' : c));
    const o = `(${spec(cols, 'ts_s, tx_id')})`;
    lags.push(
      `ts_s - LAG(ts_s) OVER ${o} AS ${p}_secs_since_prev`,
      `LEAD(ts_s) OVER ${o} - ts_s AS ${p}_next_gap`,
    );
    windows.push(
      `${p}_w AS (${spec(cols)} RANGE BETWEEN ${W} PRECEDING AND CURRENT ROW)`,
      `${p}_before AS (${spec(cols)} RANGE BETWEEN ${W} PRECEDING AND 1 PRECEDING)`,
      `${p}_peers AS (${spec(cols)} RANGE BETWEEN CURRENT ROW AND CURRENT ROW)`,
      `${p}_hist AS (${spec(cols)} RANGE BETWEEN UNBOUNDED PRECEDING AND ${W + 1} PRECEDING)`,
      `${p}_base AS (${spec(cols)} RANGE BETWEEN ${W + B * 86400} PRECEDING AND ${W + 1} PRECEDING)`,
    );
    aggs.push(
      `COUNT(*) OVER ${p}_w AS ${p}_n_tx`,
      `SUM(amount) OVER ${p}_w AS ${p}_sum_amount`,
      `AVG(x) OVER ${p}_w AS ${p}_mean_amount`,
      `STDDEV_SAMP(x) OVER ${p}_w AS ${p}_std_amount`,
      `MIN(amount) OVER ${p}_w AS ${p}_min_amount`,
      `MAX(amount) OVER ${p}_w AS ${p}_max_amount`,
      `ts_s - MIN(ts_s) OVER ${p}_w AS ${p}_span_seconds`,
      `MIN(${p}_next_gap) OVER ${p}_before AS ${p}_min_gap_earlier`,
      `COUNT(*) OVER ${p}_peers AS ${p}_peers`,
      `COUNT(DISTINCT subsidiary) OVER ${p}_w AS ${p}_n_subsidiaries`,
      `SUM(on_grid) OVER ${p}_w AS ${p}_n_on_grid`,
      `MAX(amount) OVER ${p}_hist AS ${p}_cap_amount`,
      `list(amount) OVER ${p}_w AS ${p}_amounts`,
      `ts_s - ${W} - MIN(ts_s) OVER (PARTITION BY ${cols.join(', ')}) AS ${p}_hist_secs`,
      `COUNT(*) OVER ${p}_base AS ${p}_base_n_tx`,
      `SUM(x) OVER ${p}_base AS ${p}_base_sum`,
      `SUM(x * x) OVER ${p}_base AS ${p}_base_sum_sq`,
      `SUM(ln(x)) OVER ${p}_base AS ${p}_base_sum_ln`,
    );
    const hd = `${p}_hist_days`;
    Object.assign(out, {
      [`${p}_min_gap_seconds`]: `CASE WHEN ${p}_n_tx > 1 THEN (CASE WHEN ${p}_peers > 1 THEN 0 ELSE ${p}_min_gap_earlier END) END`,
      [`${p}_mean_gap_seconds`]: `CASE WHEN ${p}_n_tx > 1 THEN ${p}_span_seconds / (${p}_n_tx - 1) END`,
      [`${p}_grid_share`]: `${p}_n_on_grid / ${p}_n_tx`,
      [`${p}_n_at_cap`]: `CASE WHEN ${p}_cap_amount IS NOT NULL THEN len(list_filter(${p}_amounts, lambda a: a = ${p}_cap_amount)) END`,
      [`${p}_cap_share`]: `CASE WHEN ${p}_cap_amount IS NOT NULL THEN len(list_filter(${p}_amounts, lambda a: a = ${p}_cap_amount)) / ${p}_n_tx END`,
      [hd]: `CASE WHEN ${p}_hist_secs > 0 THEN LEAST(${B}, ceil(${p}_hist_secs / 86400))::BIGINT ELSE 0 END`,
      [`${p}_base_mean_amount`]: `${p}_base_sum / nullif(${p}_base_n_tx, 0)`,
      [`${p}_base_geomean_amount`]: `exp(${p}_base_sum_ln / nullif(${p}_base_n_tx, 0))`,
      [`${p}_base_mean_daily_count`]: `${p}_base_n_tx / nullif(${hd}, 0)`,
      [`${p}_base_mean_daily_sum`]: `coalesce(${p}_base_sum, 0) / nullif(${hd}, 0)`,
      [`${p}_z_count`]: `(${p}_n_tx - ${r} * ${p}_base_n_tx / nullif(${hd}, 0)) / greatest(sqrt(${r} * ${p}_base_n_tx / nullif(${hd}, 0)), 1)`,
      [`${p}_z_sum`]: `(${p}_sum_amount::DOUBLE - ${r} * coalesce(${p}_base_sum, 0) / nullif(${hd}, 0)) / greatest(sqrt(${r} * coalesce(${p}_base_sum_sq, 0) / nullif(${hd}, 0)), 1)`,
    });
  }
  const legacy: Record<string, string> = {
    amount: 'amount',
    direction: 'transaction_type',
    window_seconds: String(W),
    hist_days: 'l.hist_days',
    base_mean_daily_sum: 'l.hist_sum / nullif(l.hist_days, 0)',
    base_std_daily_sum:
      'CASE WHEN l.hist_days > 1 THEN sqrt(greatest(l.hist_sum_sq - l.hist_sum * l.hist_sum / l.hist_days, 0) / (l.hist_days - 1)) END',
    base_mean_daily_count: 'l.hist_count / nullif(l.hist_days, 0)',
    z_sum:
      'CASE WHEN l.hist_days > 1 THEN (acct_sum_amount::DOUBLE - l.hist_sum / l.hist_days) / greatest(sqrt(greatest(l.hist_sum_sq - l.hist_sum * l.hist_sum / l.hist_days, 0) / (l.hist_days - 1)), coalesce(l.hist_sum / nullif(l.active_days, 0), 0), 1) END',
  };
  const select = FEATURE_COLUMNS.map((c) => {
    const e =
      legacy[c.name] ??
      out[c.name] ??
      (c.name.startsWith('acct_') ||
      c.name.startsWith('user_') ||
      c.name.startsWith('um_') ||
      c.name === 'tx_id' ||
      c.name === 'user_id' ||
      c.name === 'account_number' ||
      c.name === 'merchant_id' ||
      c.name === 'subsidiary' ||
      c.name === 'transaction_date'
        ? c.name
        : `acct_${c.name}`);
    return `CAST(${e} AS ${c.type}) AS ${c.name}`;
  });
  return `
WITH tx AS (
  SELECT tx_id, user_id, account_number, merchant_id, subsidiary, transaction_type, transaction_date,
         transaction_amount AS amount, transaction_amount::DOUBLE AS x, epoch(transaction_date)::BIGINT AS ts_s,
         transaction_date::DATE AS day, (transaction_amount % ${GRID_UNIT} = 0)::INT AS on_grid
  FROM read_parquet('${glob}', hive_partitioning = false)
),
lagged AS (SELECT *, ${lags.join(',\n  ')} FROM tx),
windowed AS (
  SELECT *,
  ${aggs.join(',\n  ')}
  FROM lagged
  WINDOW ${windows.join(',\n  ')}
),
daily AS (
  SELECT account_number, transaction_type, day, SUM(amount)::DOUBLE AS day_sum, COUNT(*) AS day_count
  FROM tx GROUP BY ALL
),
legacy AS (
  SELECT account_number, transaction_type, day,
    coalesce(SUM(day_sum) OVER d, 0) AS hist_sum, coalesce(SUM(day_sum * day_sum) OVER d, 0) AS hist_sum_sq,
    coalesce(SUM(day_count) OVER d, 0) AS hist_count, COUNT(*) OVER d AS active_days,
    LEAST(${B}, day - MIN(day) OVER (PARTITION BY account_number, transaction_type)) AS hist_days
  FROM daily
  WINDOW d AS (PARTITION BY account_number, transaction_type ORDER BY day
               RANGE BETWEEN INTERVAL ${B} DAYS PRECEDING AND INTERVAL 1 DAY PRECEDING)
)
SELECT ${select.join(',\n  ')}, dt
FROM (SELECT *, day::VARCHAR AS dt FROM windowed) w
JOIN legacy l USING (account_number, transaction_type, day)`;
}

async function runFairReference(root: string, o: Options): Promise<number> {
  await rm(join(root, FAIR_PREFIX), { recursive: true, force: true });
  const engine = await openEngine(root, o);
  try {
    await engine.unload(
      fairReferenceSql(`${root}/curated/transactions/**/*.parquet`, o.windowHours),
      FAIR_PREFIX,
    );
    const [{ n }] = (await engine.query(
      `SELECT COUNT(*) AS n FROM read_parquet('${root}/${FAIR_PREFIX}*.parquet')`,
    )) as { n: number }[];
    return Number(n);
  } finally {
    await engine.close();
  }
}

/** buildFeatures from scratch (the state of an earlier build is removed first, so it cannot be skipped). */
async function runFeatures(root: string, o: Options): Promise<number> {
  await rm(join(root, Keys.featuresState), { force: true });
  return (await runBuild(root, o, 'full')).rows;
}

/** buildFeatures after the last day came back: it must take the incremental path. */
async function runIncremental(root: string, o: Options): Promise<{ rows: number; detail: string }> {
  const r = await runBuild(root, o, 'incremental');
  return { rows: r.rows, detail: `${fmt(r.recomputedRows)} transactions recomputed, ${r.files} file(s) written` };
}

async function runBuild(root: string, o: Options, expected: 'full' | 'incremental') {
  const engine = await openEngine(root, o);
  try {
    const result = await buildFeatures(
      { objectStore: new LocalObjectStore({ root }), sqlEngine: engine },
      { runId: `bench-${expected}`, config: resolveConfig({ windowHours: o.windowHours }) },
    );
    if (result.mode !== expected) throw new Error(`expected a ${expected} build, got ${result.mode}: ${result.reason}`);
    return result;
  } finally {
    await engine.close();
  }
}

/**
 * The `incremental` phase: the scheduled run's case. The newest curated day is held out while a full build runs
 * (measured too: the previous night's run), then put back and buildFeatures measured again: it recomputes only
 * that day's users. With at most --check-rows rows, the result is compared with a third, full build.
 */
async function measureIncremental(
  sizeDir: string,
  root: string,
  rows: number,
  argv: string[],
  o: Options,
): Promise<{ before: Measurement; after: Measurement; day: string; check?: string }> {
  const curatedDir = join(root, Keys.curated);
  const held = join(sizeDir, 'held-day');
  if (existsSync(held)) throw new Error(`${held} exists: a previous run stopped half-way; move its dt=… folder back`);
  const day = (await readdir(curatedDir)).filter((d) => d.startsWith('dt=')).sort().pop();
  if (!day) throw new Error(`no dt=… folder under ${curatedDir}`);
  await mkdir(held);
  await rename(join(curatedDir, day), join(held, day));
  let before: Measurement;
  try {
    before = measure('features', root, argv);
  } finally {
    await rename(join(held, day), join(curatedDir, day));
    await rm(held, { recursive: true });
  }
  const after = measure('incremental', root, argv);
  if (after.rows !== rows) throw new Error(`row counts differ: curated ${rows}, incremental ${after.rows}`);
  if (rows > o.checkRows) return { before, after, day };
  const kept = join(sizeDir, 'incremental-features');
  await rm(kept, { recursive: true, force: true });
  await cp(join(root, Keys.features), kept, { recursive: true });
  measure('features', root, argv);
  const engine = await openEngine(root, o);
  try {
    const read = (dir: string) => `read_parquet('${dir}/**/*.parquet', hive_partitioning = true)`;
    const differs = (c: ColumnDef) =>
      c.type === 'DOUBLE'
        ? `abs(a.${c.name} - b.${c.name}) > 1e-12 * GREATEST(abs(b.${c.name}), 1) OR (a.${c.name} IS NULL) <> (b.${c.name} IS NULL)`
        : `a.${c.name} IS DISTINCT FROM b.${c.name}`;
    const columns: ColumnDef[] = [...FEATURE_COLUMNS, { name: 'dt', type: 'VARCHAR' }, { name: 'month', type: 'VARCHAR' }];
    const [r] = await engine.query(
      `SELECT (SELECT COUNT(*) FROM ${read(kept)}) AS a, (SELECT COUNT(*) FROM ${read(join(root, Keys.features))}) AS b,
         COUNT(*) AS joined, SUM(CASE WHEN ${columns.map(differs).join(' OR ')} THEN 1 ELSE 0 END) AS differing
       FROM ${read(kept)} a JOIN ${read(join(root, Keys.features))} b USING (tx_id)`,
    );
    const check =
      `incremental vs full build: ${fmt(Number(r.a))} vs ${fmt(Number(r.b))} rows, ${fmt(Number(r.joined))} joined on tx_id, ` +
      `${fmt(Number(r.differing))} differing (exact for text, counts and decimals; doubles to 1e-12 relative)`;
    return { before, after, day, check };
  } finally {
    await engine.close();
    await rm(kept, { recursive: true, force: true });
  }
}

/** Runs one measurement in a fresh process (same loader and flags) and reads its report line. */
type Phase = 'reference' | 'fair' | 'features' | 'incremental';

function measure(phase: Phase, root: string, argv: string[]): Measurement {
  const load0 = loadavg()[0];
  const m = measureInChild(phase, [...argv, '--child', phase, '--root', root]);
  return { ...m, load: [load0, loadavg()[0]] };
}

async function child(phase: string, root: string, o: Options): Promise<void> {
  if (phase === 'incremental') return reportFromChild(() => runIncremental(root, o));
  const run = { reference: runReference, fair: runFairReference, features: runFeatures }[phase as Exclude<Phase, 'incremental'>];
  if (!run) throw new Error(`unknown phase ${phase}`);
  await reportFromChild(async () => ({ rows: await run(root, o) }));
}


/**
 * Compares the fair reference's output with buildFeatures' row by row (joined on tx_id): per column, the rows where
 * one is NULL and the other not, and the largest absolute difference (numbers) or the rows that differ (text).
 */
async function check(root: string, o: Options, sample: number): Promise<string[]> {
  const engine = await openEngine(root, o);
  try {
    const where = sample < 1 ? `WHERE hash(f.tx_id) % 1000 < ${Math.round(sample * 1000)}` : '';
    const parts = FEATURE_COLUMNS.filter((c) => c.name !== 'tx_id').map((c) => {
      const [a, b] = [`f.${c.name}`, `r.${c.name}`];
      const numeric = c.type === 'BIGINT' || c.type === 'DOUBLE' || c.type.startsWith('DECIMAL');
      const diff = numeric
        ? `MAX(abs(CAST(${a} AS DOUBLE) - CAST(${b} AS DOUBLE)))`
        : `SUM(CASE WHEN ${a} <> ${b} THEN 1 ELSE 0 END)`;
      // Doubles: relative difference above 1 (the feature tests' 1e-9 rule); the rest must be equal.
      const off =
        c.type === 'DOUBLE'
          ? `MAX(abs(${a} - ${b}) / greatest(1, abs(${b})))`
          : numeric
            ? `SUM(CASE WHEN ${a} <> ${b} THEN 1 ELSE 0 END)`
            : diff;
      return `${diff} AS "${c.name}|diff", ${off} AS "${c.name}|off", SUM(CASE WHEN (${a} IS NULL) <> (${b} IS NULL) THEN 1 ELSE 0 END) AS "${c.name}|nulls"`;
    });
    const [row] = await engine.query(
      `SELECT COUNT(*) AS n, COUNT(r.tx_id) AS matched, ${parts.join(', ')}
       FROM read_parquet('${root}/features/windows/**/*.parquet') f
       LEFT JOIN read_parquet('${root}/${FAIR_PREFIX}*.parquet') r USING (tx_id) ${where}`,
    );
    const lines = [`rows compared ${fmt(Number(row.n))}, matched by tx_id ${fmt(Number(row.matched))}`];
    const bad: string[] = [];
    for (const c of FEATURE_COLUMNS.filter((x) => x.name !== 'tx_id')) {
      const d = Number(row[`${c.name}|diff`] ?? 0);
      const off = Number(row[`${c.name}|off`] ?? 0);
      const nulls = Number(row[`${c.name}|nulls`] ?? 0);
      if (nulls > 0 || off > (c.type === 'DOUBLE' ? 1e-9 : 0))
        bad.push(`${c.name} (max abs diff ${d}, null mismatches ${nulls})`);
    }
    const shown = [
      'acct_std_amount',
      'user_min_gap_seconds',
      'user_n_subsidiaries',
      'um_n_at_cap',
      'user_z_sum',
      'z_sum',
    ];
    lines.push(
      'max abs diff: ' +
        shown.map((c) => `${c} ${Number(row[`${c}|diff`] ?? 0).toExponential(2)}`).join(', '),
    );
    lines.push(
      bad.length === 0
        ? `all ${FEATURE_COLUMNS.length} columns agree (doubles within 1e-9 relative, the rest exactly)`
        : `DIFFER: ${bad.join('; ')}`,
    );
    return lines;
  } finally {
    await engine.close();
  }
}

const PHASE_NAMES: Record<Phase, string> = {
  reference: 'minimal reference (1 key: COUNT/SUM/STDDEV)',
  fair: 'fair reference (hand-written DuckDB, same columns)',
  features: 'buildFeatures (shared Athena/DuckDB SQL)',
  incremental: 'buildFeatures, incremental: the newest day added to a built log',
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = readOptions(argv);
  if (o.child) {
    if (!o.root) throw new Error('--child needs --root');
    await child(o.child, o.root, o);
    return;
  }
  const passOn = [
    ...(o.threads ? ['--threads', String(o.threads)] : []),
    ...(o.memoryLimit ? ['--memory-limit', o.memoryLimit] : []),
    '--window-hours',
    String(o.windowHours),
  ];
  log(
    `bench:features — window ${o.windowHours} h, DuckDB threads ${o.threads ?? 'default'}, ` +
      `memory_limit ${o.memoryLimit ?? 'default (80% of RAM)'}, data under ${o.dir}, phases ${o.phases.join(',')}`,
  );
  const table: string[] = [
    '| rows | query | wall | rows/s | CPU (user+sys) | peak RSS | load avg (start→end) |',
    '|---:|---|---:|---:|---:|---:|---:|',
  ];
  const checks: string[] = [];
  for (const target of o.rows) {
    log(`\n${fmt(target)} rows`);
    const sizeDir = join(o.dir, `rows-${target}`);
    const rows = await prepare(sizeDir, target, o);
    const root = join(sizeDir, 'data');
    if (o.prepareOnly) continue;
    const done: Partial<Record<Phase, Measurement>> = {};
    for (const phase of o.phases) {
      if (phase === 'incremental') {
        const inc = await measureIncremental(sizeDir, root, rows, passOn, o);
        const row = (label: string, m: Measurement, n: number) =>
          `| ${fmt(n)} | ${label} | ${secs(m.wallMs)} | ${fmt(Math.round(n / (m.wallMs / 1000)))} | ` +
          `${secs(m.cpuMs)} | ${m.maxRssMb.toFixed(0)} MB | ${m.load?.map((l) => l.toFixed(1)).join('→')} |`;
        table.push(
          row(`buildFeatures, full, without the newest day (${inc.day})`, inc.before, inc.before.rows),
          row(`buildFeatures, incremental, ${inc.day} added (${inc.after.detail ?? ''})`, inc.after, rows),
          `| ${fmt(rows)} | ratio full (one day less) / incremental | ${(inc.before.wallMs / inc.after.wallMs).toFixed(1)}× | | ` +
            `${(inc.before.cpuMs / inc.after.cpuMs).toFixed(1)}× | | |`,
        );
        log(`  full without ${inc.day}: ${secs(inc.before.wallMs)}; incremental: ${secs(inc.after.wallMs)} (${inc.after.detail ?? ''})`);
        if (inc.check) {
          checks.push(`${fmt(rows)} rows: ${inc.check}`);
          log(`  ${inc.check}`);
        }
        continue;
      }
      const m = measure(phase, root, passOn);
      done[phase] = m;
      log(
        `  ${PHASE_NAMES[phase]}: ${secs(m.wallMs)} wall, ${secs(m.cpuMs)} CPU, peak RSS ${m.maxRssMb.toFixed(0)} MB, ` +
          `load ${m.load?.map((l) => l.toFixed(1)).join('→')}`,
      );
      if (m.rows !== rows) throw new Error(`row counts differ: curated ${rows}, ${phase} ${m.rows}`);
      table.push(
        `| ${fmt(rows)} | ${PHASE_NAMES[phase]} | ${secs(m.wallMs)} | ${fmt(Math.round(rows / (m.wallMs / 1000)))} | ` +
          `${secs(m.cpuMs)} | ${m.maxRssMb.toFixed(0)} MB | ${m.load?.map((l) => l.toFixed(1)).join('→')} |`,
      );
    }
    const feat = done.features;
    for (const ref of ['fair', 'reference'] as const) {
      const r = done[ref];
      if (feat && r)
        table.push(
          `| ${fmt(rows)} | ratio buildFeatures / ${ref === 'fair' ? 'fair' : 'minimal'} reference | ` +
            `${(feat.wallMs / r.wallMs).toFixed(2)}× | | ${(feat.cpuMs / r.cpuMs).toFixed(2)}× | ` +
            `${(feat.maxRssMb / r.maxRssMb).toFixed(2)}× | |`,
        );
    }
    if (feat && done.fair && rows <= o.checkRows) {
      const t = Date.now();
      const lines = await check(root, o, rows <= 1_000_000 ? 1 : 0.01);
      checks.push(...lines.map((l) => `${fmt(rows)} rows: ${l}`));
      log(`  check (${secs(Date.now() - t)}):\n    ${lines.join('\n    ')}`);
    }
  }
  if (o.prepareOnly) return;
  process.stdout.write('\n' + table.join('\n') + '\n');
  if (checks.length) process.stdout.write('\nchecks\n' + checks.join('\n') + '\n');
}

main().catch((error: unknown) => {
  log(`bench:features failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
