import type { ColumnDef } from '@splitwatch/core';

/**
 * Trailing-window features, one row per transaction, in the SQL subset Athena (Trino) and DuckDB share.
 *
 * Keys (each with the direction: DEBITO = the account is the origin, CREDITO = the destination):
 * - `acct_` (account_number, direction); the unprefixed columns are the same key (kept for the detectors);
 * - `user_` (user_id, direction): every account of the owner;
 * - `um_`   (user_id, merchant_id, direction).
 *
 * Windows are true sliding windows over epoch seconds, RANGE BETWEEN W PRECEDING AND CURRENT ROW with
 * W = {{windowSeconds}} (windowHours of the detection config), not calendar days:
 * - ties: transactions in the same second are peers and all fall in each other's window;
 * - a transaction exactly W seconds earlier is inside the window (both bounds are inclusive), W + 1 is out;
 * - windows cross midnight freely.
 * Order within a key, where one is needed (secs_since_prev), is (transaction_date, tx_id).
 * No feature looks past the current second: every aggregate frame ends at CURRENT ROW or before, and the two
 * helper columns that peek ahead (next_second, sub_run_end) are only read where the answer cannot depend on a
 * later transaction (reasoning beside each). Appending later transactions never changes an earlier row (tested).
 * Output layout: one row per transaction; the transaction's own columns, the unprefixed account-key columns of the
 * first version, window_seconds, then one column group per key (FEATURE_COLUMNS is the exact list, in order), then
 * the day `dt` and the month partition `month` (YYYY-MM).
 *
 * Per key, per transaction (suffixes of the `acct_`/`user_`/`um_` column groups):
 * - n_tx, sum_amount (exact DECIMAL), mean_amount, std_amount (sample std, ddof = 1; NULL for one part),
 *   min_amount, max_amount, span_seconds (current minus first in window), secs_since_prev (previous on the key,
 *   whatever its age; 0 for a tie that is not first by tx_id; NULL for the key's first transaction);
 * - min_gap_seconds / mean_gap_seconds: gaps between consecutive parts inside the window (NULL for one part);
 *   mean = span / (n - 1);
 * - n_subsidiaries: distinct subsidiaries in the window (visit runs: a subsidiary's run starts when its previous
 *   visit on the key is more than W earlier and ends at its last visit + W);
 * - n_on_grid, grid_share: parts that are an exact integer multiple of the currency unit {{gridUnit}}
 *   (DECIMAL modulo, exact in both engines);
 * - cap_amount: the key's historical maximum strictly before the window (transactions at most W + 1 s before the
 *   current one); n_at_cap, cap_share: parts in the window equal to it. All three NULL when the key has no
 *   transaction before the window;
 * - baseline over the {{baselineDays}} days before the window (transactions W + {{baselineDays}} days .. W + 1 s
 *   before the current one, so the window is never in its own baseline): hist_days (whole days of key history
 *   in that span, partial days count as whole, 0 = no history), base_n_tx, base_mean_amount, base_geomean_amount
 *   (exp of the mean log amount: the robust "typical amount" both engines can compute; medians are engine-only),
 *   base_mean_daily_count and base_mean_daily_sum (totals / hist_days: quiet days count as zero);
 *   z_count, z_sum: the window against those rates scaled to the window (r = W / 1 day) under a compound
 *   Poisson model, z_count = (n_tx - λr) / max(√(λr), 1), z_sum = (sum - μr) / max(√(r · Σamount² / hist_days), 1);
 *   NULL when hist_days = 0.
 *
 * Unprefixed baseline columns (account key, unchanged meaning): the key's daily sums over the {{baselineDays}}
 * calendar days strictly before the transaction's day (days without activity count as 0, from the key's first
 * active day on); z_sum = (sum_amount - mean daily sum) / max(std daily sum, mean active-day sum, 1), std with
 * ddof = 1. The floor at one usual active day's total keeps a key with steady days (a commuter's fares) or rare
 * days (std dominated by zeros) from turning an ordinary second purchase into a huge z.
 */

/** A key the windows are computed over: its column-group prefix and partition columns. */
export interface FeatureKey {
  prefix: 'acct' | 'user' | 'um';
  columns: readonly string[];
}

export const FEATURE_KEYS: readonly FeatureKey[] = [
  { prefix: 'acct', columns: ['account_number', 'direction'] },
  { prefix: 'user', columns: ['user_id', 'direction'] },
  { prefix: 'um', columns: ['user_id', 'merchant_id', 'direction'] },
];

/** Columns of each key's group (the key prefix and `_` go before the name), with their meaning. */
export const KEY_FEATURE_COLUMNS: readonly (ColumnDef & { doc: string })[] = [
  {
    name: 'n_tx',
    type: 'BIGINT',
    doc: 'Transactions in the trailing window (ties and the exact lower bound included)',
  },
  { name: 'sum_amount', type: 'DECIMAL(38,8)', doc: 'Exact sum of the window amounts' },
  { name: 'mean_amount', type: 'DOUBLE', doc: 'Mean window amount' },
  {
    name: 'std_amount',
    type: 'DOUBLE',
    doc: 'Sample std (ddof 1) of the window amounts; NULL for one transaction',
  },
  { name: 'min_amount', type: 'DECIMAL(24,8)', doc: 'Smallest window amount' },
  { name: 'max_amount', type: 'DECIMAL(24,8)', doc: 'Largest window amount' },
  { name: 'span_seconds', type: 'BIGINT', doc: 'Seconds from the first window transaction to this one' },
  {
    name: 'secs_since_prev',
    type: 'BIGINT',
    doc: 'Seconds since the previous transaction on the key; NULL for the first',
  },
  {
    name: 'min_gap_seconds',
    type: 'BIGINT',
    doc: 'Smallest gap between consecutive window transactions; NULL for one',
  },
  {
    name: 'mean_gap_seconds',
    type: 'DOUBLE',
    doc: 'Mean gap between consecutive window transactions (span / (n - 1))',
  },
  { name: 'n_subsidiaries', type: 'BIGINT', doc: 'Distinct subsidiaries in the window' },
  { name: 'n_on_grid', type: 'BIGINT', doc: 'Window amounts that are exact multiples of the currency unit' },
  { name: 'grid_share', type: 'DOUBLE', doc: 'n_on_grid / n_tx' },
  {
    name: 'cap_amount',
    type: 'DECIMAL(24,8)',
    doc: 'Key maximum amount strictly before the window; NULL without history',
  },
  { name: 'n_at_cap', type: 'BIGINT', doc: 'Window amounts equal to cap_amount' },
  { name: 'cap_share', type: 'DOUBLE', doc: 'n_at_cap / n_tx' },
  {
    name: 'hist_days',
    type: 'BIGINT',
    doc: 'Days of key history in the baseline span before the window (0 to 30)',
  },
  { name: 'base_n_tx', type: 'BIGINT', doc: 'Transactions in the baseline span' },
  { name: 'base_mean_amount', type: 'DOUBLE', doc: 'Mean baseline amount' },
  {
    name: 'base_geomean_amount',
    type: 'DOUBLE',
    doc: 'Geometric mean baseline amount (robust typical amount)',
  },
  {
    name: 'base_mean_daily_count',
    type: 'DOUBLE',
    doc: 'Baseline transactions per day (quiet days count as 0)',
  },
  { name: 'base_mean_daily_sum', type: 'DOUBLE', doc: 'Baseline amount per day (quiet days count as 0)' },
  {
    name: 'z_count',
    type: 'DOUBLE',
    doc: 'Window count against the baseline rate (compound Poisson); NULL without history',
  },
  {
    name: 'z_sum',
    type: 'DOUBLE',
    doc: 'Window sum against the baseline rate (compound Poisson); NULL without history',
  },
];

/** The account-key columns the detectors read since the first version; names and meanings never change. */
const LEGACY_COLUMNS: readonly ColumnDef[] = [
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'user_id', type: 'VARCHAR' },
  { name: 'account_number', type: 'VARCHAR' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'subsidiary', type: 'VARCHAR' },
  { name: 'direction', type: 'VARCHAR' },
  { name: 'transaction_date', type: 'TIMESTAMP' },
  { name: 'amount', type: 'DECIMAL(24,8)' },
  { name: 'n_tx', type: 'BIGINT' },
  { name: 'sum_amount', type: 'DECIMAL(38,8)' },
  { name: 'mean_amount', type: 'DOUBLE' },
  { name: 'std_amount', type: 'DOUBLE' },
  { name: 'min_amount', type: 'DECIMAL(24,8)' },
  { name: 'max_amount', type: 'DECIMAL(24,8)' },
  { name: 'span_seconds', type: 'BIGINT' },
  { name: 'secs_since_prev', type: 'BIGINT' },
  { name: 'hist_days', type: 'BIGINT' },
  { name: 'base_mean_daily_sum', type: 'DOUBLE' },
  { name: 'base_std_daily_sum', type: 'DOUBLE' },
  { name: 'base_mean_daily_count', type: 'DOUBLE' },
  { name: 'z_sum', type: 'DOUBLE' },
];

/**
 * Columns of the files under `features/windows/month=YYYY-MM/` (the transaction's day `dt` aside, which follows
 * them), as registered for the detectors, in file order. The month is the partition: an incremental BuildFeatures
 * rewrites whole months (one file each in DuckDB; days would be 334 small files and cost a quarter more to write).
 */
export const FEATURE_COLUMNS: readonly ColumnDef[] = [
  ...LEGACY_COLUMNS,
  { name: 'window_seconds', type: 'BIGINT' },
  ...FEATURE_KEYS.flatMap((k) =>
    KEY_FEATURE_COLUMNS.map((c) => ({ name: `${k.prefix}_${c.name}`, type: c.type })),
  ),
];

/** The day column written after FEATURE_COLUMNS, and the month partition (the query's last column). */
export const FEATURES_DAY: ColumnDef = { name: 'dt', type: 'VARCHAR' };
export const FEATURES_PARTITION: ColumnDef[] = [{ name: 'month', type: 'VARCHAR' }];

const over = (keys: string, frame: string) =>
  `OVER (PARTITION BY ${keys} ORDER BY ts_s RANGE BETWEEN ${frame})`;

/**
 * The CTEs of one key, ending in `<prefix>_feat` (tx_id and the key's column group). Four window passes, kept
 * narrow because in DuckDB a pass costs about in proportion to the columns it carries: seconds (next busy second,
 * ties, cap), cap matches (partitioned by amount), subsidiary runs (partitioned by subsidiary), then the window
 * aggregates.
 */
function keyCtes({ prefix: p, columns }: FeatureKey): string {
  const keys = columns.join(', ');
  const pass = `tx_id, ${keys}, ts_s, amount`;
  const inWindow = (agg: string) => `${agg} ${over(keys, '{{windowSeconds}} PRECEDING AND CURRENT ROW')}`;
  const inBaseline = (agg: string) =>
    `${agg} ${over(keys, '{{baselineFrameStart}} PRECEDING AND {{windowSecondsPlus1}} PRECEDING')}`;
  return `
${p}_seconds AS (
  -- Per second of the key: the next busy second, the transactions in this second, and the cap (the maximum
  -- amount more than W before). next_second looks ahead: it is only read for seconds before the current one
  -- inside a window, whose next busy second is at or before the current one.
  SELECT ${pass}, subsidiary, on_grid,
    FIRST_VALUE(ts_s) ${over(keys, '1 FOLLOWING AND UNBOUNDED FOLLOWING')} AS next_second,
    COUNT(*) ${over(keys, 'CURRENT ROW AND CURRENT ROW')} AS n_same_second,
    MAX(amount) ${over(keys, 'UNBOUNDED PRECEDING AND {{windowSecondsPlus1}} PRECEDING')} AS cap_amount
  FROM tx
),
${p}_cap_rows AS (
  -- Each transaction once as a query for its cap (match_amount = cap_amount), and once more as a part when it
  -- can equal some window's cap: caps never decrease, so such a part is at or above its own cap.
  SELECT s.*, q.is_query,
    CASE WHEN q.is_query = 1 THEN s.cap_amount ELSE s.amount END AS match_amount
  FROM ${p}_seconds s
  CROSS JOIN (VALUES (0), (1)) AS q (is_query)
  WHERE q.is_query = 1 OR s.cap_amount IS NULL OR s.amount >= s.cap_amount
),
${p}_capped AS (
  SELECT c.*,
    SUM(1 - is_query) OVER (PARTITION BY ${keys}, match_amount ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS parts_at_cap
  FROM ${p}_cap_rows c
),
${p}_runs AS (
  -- Visit runs of each subsidiary on the key, in (time, tx_id) order: a run starts when the subsidiary's
  -- previous visit is more than W earlier and ends at a visit whose next one is more than W later.
  SELECT c.*,
    CASE WHEN LAG(ts_s) OVER (PARTITION BY ${keys}, subsidiary ORDER BY ts_s, tx_id) >= ts_s - {{windowSeconds}}
      THEN 0 ELSE 1 END AS sub_run_start,
    CASE WHEN LEAD(ts_s) OVER (PARTITION BY ${keys}, subsidiary ORDER BY ts_s, tx_id) <= ts_s + {{windowSeconds}}
      THEN 0 ELSE 1 END AS sub_run_end
  FROM ${p}_capped c
  WHERE is_query = 1
),
${p}_win AS (
  SELECT ${pass}, cap_amount, parts_at_cap,
    LAST_VALUE(ts_s) ${over(keys, 'UNBOUNDED PRECEDING AND 1 PRECEDING')} AS prev_second,
    MIN(tx_id) ${over(keys, 'CURRENT ROW AND CURRENT ROW')} AS first_tx_of_second,
    FIRST_VALUE(ts_s) ${over(keys, 'UNBOUNDED PRECEDING AND CURRENT ROW')} AS key_first_ts_s,
    ${inWindow('COUNT(*)')} AS n_tx,
    ${inWindow('SUM(amount)')} AS sum_amount,
    ${inWindow('STDDEV_SAMP(CAST(amount AS DOUBLE))')} AS std_amount,
    ${inWindow('MIN(amount)')} AS min_amount,
    ${inWindow('MAX(amount)')} AS max_amount,
    ${inWindow('FIRST_VALUE(ts_s)')} AS first_ts_s,
    ${inWindow('SUM(on_grid)')} AS n_on_grid,
    ${inWindow('MAX(n_same_second)')} AS max_same_second,
    -- Seconds before the current one in the window: their next busy second is in the window too.
    MIN(next_second - ts_s) ${over(keys, '{{windowSeconds}} PRECEDING AND 1 PRECEDING')} AS min_gap_earlier,
    -- Runs alive now: started up to now, minus those ended (last visit + W) before now. A run end is read only
    -- when its last visit is more than W back, where any later visit, known or not, would have ended it too.
    SUM(sub_run_start) ${over(keys, 'UNBOUNDED PRECEDING AND CURRENT ROW')} AS sub_runs_started,
    SUM(sub_run_end) ${over(keys, 'UNBOUNDED PRECEDING AND {{windowSecondsPlus1}} PRECEDING')} AS sub_runs_ended,
    ${inBaseline('COUNT(*)')} AS base_n_tx,
    ${inBaseline('SUM(CAST(amount AS DOUBLE))')} AS base_sum,
    ${inBaseline('SUM(CAST(amount AS DOUBLE) * CAST(amount AS DOUBLE))')} AS base_sum_sq,
    ${inBaseline('SUM(ln(CAST(amount AS DOUBLE)))')} AS base_sum_ln
  FROM ${p}_runs
),
${p}_hist AS (
  SELECT w.*,
    CASE WHEN tx_id > first_tx_of_second THEN 0 ELSE ts_s - prev_second END AS secs_since_prev,
    CASE WHEN ts_s - {{windowSeconds}} > key_first_ts_s THEN
      LEAST({{baselineDays}}, CAST(ceiling(CAST(ts_s - {{windowSeconds}} - key_first_ts_s AS DOUBLE) / 86400) AS BIGINT))
    ELSE 0 END AS base_days
  FROM ${p}_win w
),
${p}_feat AS (
  SELECT tx_id,
    n_tx AS ${p}_n_tx,
    sum_amount AS ${p}_sum_amount,
    CAST(sum_amount AS DOUBLE) / n_tx AS ${p}_mean_amount,
    std_amount AS ${p}_std_amount,
    min_amount AS ${p}_min_amount,
    max_amount AS ${p}_max_amount,
    ts_s - first_ts_s AS ${p}_span_seconds,
    secs_since_prev AS ${p}_secs_since_prev,
    CASE WHEN n_tx > 1 THEN (CASE WHEN max_same_second > 1 THEN 0 ELSE min_gap_earlier END) END AS ${p}_min_gap_seconds,
    CASE WHEN n_tx > 1 THEN CAST(ts_s - first_ts_s AS DOUBLE) / (n_tx - 1) END AS ${p}_mean_gap_seconds,
    sub_runs_started - COALESCE(sub_runs_ended, 0) AS ${p}_n_subsidiaries,
    n_on_grid AS ${p}_n_on_grid,
    CAST(n_on_grid AS DOUBLE) / n_tx AS ${p}_grid_share,
    cap_amount AS ${p}_cap_amount,
    CASE WHEN cap_amount IS NOT NULL THEN parts_at_cap END AS ${p}_n_at_cap,
    CASE WHEN cap_amount IS NOT NULL THEN CAST(parts_at_cap AS DOUBLE) / n_tx END AS ${p}_cap_share,
    base_days AS ${p}_hist_days,
    base_n_tx AS ${p}_base_n_tx,
    CASE WHEN base_n_tx > 0 THEN base_sum / base_n_tx END AS ${p}_base_mean_amount,
    CASE WHEN base_n_tx > 0 THEN exp(base_sum_ln / base_n_tx) END AS ${p}_base_geomean_amount,
    CASE WHEN base_days > 0 THEN CAST(base_n_tx AS DOUBLE) / base_days END AS ${p}_base_mean_daily_count,
    CASE WHEN base_days > 0 THEN COALESCE(base_sum, 0) / base_days END AS ${p}_base_mean_daily_sum,
    CASE WHEN base_days > 0 THEN
      (n_tx - {{windowDays}} * base_n_tx / base_days) / GREATEST(sqrt({{windowDays}} * base_n_tx / base_days), 1.0)
    END AS ${p}_z_count,
    CASE WHEN base_days > 0 THEN
      (CAST(sum_amount AS DOUBLE) - {{windowDays}} * COALESCE(base_sum, 0) / base_days)
        / GREATEST(sqrt({{windowDays}} * COALESCE(base_sum_sq, 0) / base_days), 1.0)
    END AS ${p}_z_sum
  FROM ${p}_hist
)`;
}

/** The transaction's own columns, taken from `tx` at the end (window passes stay narrow: their width is their cost). */
const CARRIED = [
  'tx_id',
  'user_id',
  'account_number',
  'merchant_id',
  'subsidiary',
  'direction',
  'transaction_date',
  'day_n',
];

const cast = (expr: string, c: ColumnDef) => `CAST(${expr} AS ${c.type}) AS ${c.name}`;

function finalSelect(): string {
  const legacyFrom: Record<string, string> = {
    amount: 't.amount',
    hist_days: 'b.hist_days',
    base_mean_daily_sum: 'b.base_mean_daily_sum',
    base_std_daily_sum: 'b.base_std_daily_sum',
    base_mean_daily_count: 'b.base_mean_daily_count',
    z_sum: `CASE WHEN b.hist_days > 1 THEN
         (CAST(a.acct_sum_amount AS DOUBLE) - b.base_mean_daily_sum)
           / GREATEST(b.base_std_daily_sum, COALESCE(b.base_active_day_sum, 0), 1.0)
       END`,
  };
  const alias: Record<FeatureKey['prefix'], string> = { acct: 'a', user: 'u', um: 'm' };
  const lines = FEATURE_COLUMNS.map((c) => {
    if (c.name in legacyFrom) return cast(legacyFrom[c.name], c);
    if (c.name === 'window_seconds') return cast('{{windowSeconds}}', c);
    if (CARRIED.includes(c.name)) return cast(`t.${c.name}`, c);
    const prefix = FEATURE_KEYS.find((k) => c.name.startsWith(`${k.prefix}_`))?.prefix;
    if (prefix) return cast(`${alias[prefix]}.${c.name}`, c);
    return cast(`a.acct_${c.name}`, c); // the legacy window columns are the account key's
  });
  const day = 'CAST(CAST(t.transaction_date AS DATE) AS VARCHAR)';
  return `SELECT
  ${[...lines, `${day} AS dt`, `substr(${day}, 1, 7) AS month`].join(',\n  ')}
FROM tx t
JOIN acct_feat a ON a.tx_id = t.tx_id
JOIN user_feat u ON u.tx_id = t.tx_id
JOIN um_feat m ON m.tx_id = t.tx_id
JOIN legacy_baseline b ON b.account_number = t.account_number AND b.direction = t.direction AND b.day_n = t.day_n`;
}

/**
 * The features query (placeholders: transactions, windowSeconds, windowSecondsPlus1, windowDays, baselineDays,
 * baselineFrameStart, gridUnit); fill it with {@link featuresSql} in build-features.use-case.
 */
export const FEATURES_SQL = `
WITH tx AS (
  SELECT tx_id, user_id, account_number, merchant_id, subsidiary, transaction_type AS direction,
         transaction_date, transaction_amount AS amount,
         date_diff('second', TIMESTAMP '1970-01-01 00:00:00', transaction_date) AS ts_s,
         date_diff('day', DATE '1970-01-01', CAST(transaction_date AS DATE)) AS day_n,
         CASE WHEN transaction_amount % CAST({{gridUnit}} AS DECIMAL(24,8)) = 0 THEN 1 ELSE 0 END AS on_grid
  FROM {{transactions}}
),${FEATURE_KEYS.map((k) => keyCtes(k)).join(',')},
legacy_daily AS (
  SELECT account_number, direction, day_n,
         CAST(SUM(amount) AS DOUBLE) AS day_sum, COUNT(*) AS day_count
  FROM tx
  GROUP BY account_number, direction, day_n
),
legacy_history AS (
  SELECT account_number, direction, day_n,
    SUM(day_sum) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_sum,
    SUM(day_sum * day_sum) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_sum_sq,
    SUM(day_count) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_count,
    COUNT(*) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_active_days,
    LEAST({{baselineDays}}, day_n - MIN(day_n) OVER (PARTITION BY account_number, direction)) AS hist_days
  FROM legacy_daily
),
legacy_baseline AS (
  SELECT account_number, direction, day_n, hist_days,
    CASE WHEN hist_days > 0 THEN COALESCE(hist_sum, 0) / hist_days END AS base_mean_daily_sum,
    CASE WHEN hist_days > 1 THEN
      sqrt(GREATEST(COALESCE(hist_sum_sq, 0) - COALESCE(hist_sum, 0) * COALESCE(hist_sum, 0) / hist_days, 0)
           / (hist_days - 1))
    END AS base_std_daily_sum,
    CASE WHEN hist_days > 0 THEN CAST(COALESCE(hist_count, 0) AS DOUBLE) / hist_days END AS base_mean_daily_count,
    CASE WHEN hist_active_days > 0 THEN COALESCE(hist_sum, 0) / hist_active_days END AS base_active_day_sum
  FROM legacy_history
)
${finalSelect()}
`;
