/**
 * Trailing-window features per (account_number, direction), one row per transaction, in the SQL subset
 * Athena (Trino) and DuckDB share. Windows are true sliding windows over epoch seconds
 * (RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW), not calendar days:
 * - ties: transactions in the same second are peers and all fall in each other's window;
 * - a transaction exactly {{windowSeconds}} seconds earlier is inside the window (the bound is inclusive);
 * - windows cross midnight freely; the baseline uses whole days strictly before the transaction's day.
 * std_amount is the sample standard deviation (ddof = 1; NULL for a single transaction).
 * Baseline: the key's daily sums over the previous {{baselineDays}} days (days without activity count as 0),
 * from the key's first active day on; z_sum = (sum_amount - mean daily sum) / max(std daily sum, 1).
 */
export const FEATURES_SQL = `
WITH tx AS (
  SELECT tx_id, user_id, account_number, merchant_id, subsidiary, transaction_type AS direction,
         transaction_date, transaction_amount AS amount,
         date_diff('second', TIMESTAMP '1970-01-01 00:00:00', transaction_date) AS ts_s,
         date_diff('day', DATE '1970-01-01', CAST(transaction_date AS DATE)) AS day_n
  FROM {{transactions}}
),
windows AS (
  SELECT tx.*,
    COUNT(*) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS n_tx,
    SUM(amount) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS sum_amount,
    AVG(CAST(amount AS DOUBLE)) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS mean_amount,
    STDDEV_SAMP(CAST(amount AS DOUBLE)) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS std_amount,
    MIN(amount) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS min_amount,
    MAX(amount) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS max_amount,
    MIN(ts_s) OVER (PARTITION BY account_number, direction ORDER BY ts_s
      RANGE BETWEEN {{windowSeconds}} PRECEDING AND CURRENT ROW) AS first_ts_s,
    ts_s - LAG(ts_s) OVER (PARTITION BY account_number, direction ORDER BY ts_s, tx_id) AS secs_since_prev
  FROM tx
),
daily AS (
  SELECT account_number, direction, day_n,
         CAST(SUM(amount) AS DOUBLE) AS day_sum, COUNT(*) AS day_count
  FROM tx
  GROUP BY account_number, direction, day_n
),
baseline AS (
  SELECT account_number, direction, day_n,
    SUM(day_sum) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_sum,
    SUM(day_sum * day_sum) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_sum_sq,
    SUM(day_count) OVER (PARTITION BY account_number, direction ORDER BY day_n
      RANGE BETWEEN {{baselineDays}} PRECEDING AND 1 PRECEDING) AS hist_count,
    LEAST({{baselineDays}}, day_n - MIN(day_n) OVER (PARTITION BY account_number, direction)) AS hist_days
  FROM daily
),
scored AS (
  SELECT w.*, b.hist_days,
    CASE WHEN b.hist_days > 0 THEN COALESCE(b.hist_sum, 0) / b.hist_days END AS base_mean_daily_sum,
    CASE WHEN b.hist_days > 1 THEN
      sqrt(GREATEST(COALESCE(b.hist_sum_sq, 0) - COALESCE(b.hist_sum, 0) * COALESCE(b.hist_sum, 0) / b.hist_days, 0)
           / (b.hist_days - 1))
    END AS base_std_daily_sum,
    CASE WHEN b.hist_days > 0 THEN CAST(COALESCE(b.hist_count, 0) AS DOUBLE) / b.hist_days END AS base_mean_daily_count
  FROM windows w
  JOIN baseline b ON b.account_number = w.account_number AND b.direction = w.direction AND b.day_n = w.day_n
)
SELECT tx_id, user_id, account_number, merchant_id, subsidiary, direction, transaction_date, amount,
       n_tx, sum_amount, mean_amount, std_amount, min_amount, max_amount,
       ts_s - first_ts_s AS span_seconds, secs_since_prev,
       hist_days, base_mean_daily_sum, base_std_daily_sum, base_mean_daily_count,
       CASE WHEN hist_days > 1 THEN
         (CAST(sum_amount AS DOUBLE) - base_mean_daily_sum) / GREATEST(base_std_daily_sum, 1.0)
       END AS z_sum,
       CAST(CAST(transaction_date AS DATE) AS VARCHAR) AS dt
FROM scored
`;

/** Columns of `features/windows/` (partition `dt` aside), as registered for the detectors. */
export const FEATURE_COLUMNS = [
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
] as const;
