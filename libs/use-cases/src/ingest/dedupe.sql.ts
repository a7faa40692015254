/**
 * Classifies this run's staged rows against each other and against curated rows of other sources near the
 * same dates: a retry duplicate has the same `_id`, the same content and timestamps at most 1 s apart (the
 * first one is kept, curated rows first, then by time, source and line); the same `_id` with different
 * content, or further apart, is a conflict and is quarantined, never merged. One hash aggregation per `_id`
 * (no window sort). Shared Athena/DuckDB dialect.
 */
export const CLASSIFY_STAGED_SQL = `
WITH candidates AS (
  SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
         transaction_amount, transaction_type, source_key, source_line, 1 AS from_run
  FROM {{staged}}
  UNION ALL
  SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
         transaction_amount, transaction_type, source_key, source_line, 0 AS from_run
  FROM {{curated}}
  WHERE dt BETWEEN {{minDt}} AND {{maxDt}} AND source_key NOT IN ({{runSources}})
),
with_content AS (
  SELECT c.*,
         merchant_id || '|' || subsidiary || '|' || account_number || '|' || user_id || '|'
           || CAST(transaction_amount AS VARCHAR) || '|' || transaction_type AS content,
         CAST(from_run AS VARCHAR) || '|' || CAST(transaction_date AS VARCHAR) || '|' || source_key || '|'
           || lpad(CAST(source_line AS VARCHAR), 12, '0') AS keeper_rank
  FROM candidates c
),
ids AS (
  SELECT tx_id,
         MIN(content) AS min_content, MAX(content) AS max_content,
         MIN(transaction_date) AS first_ts, MAX(transaction_date) AS last_ts,
         MIN(keeper_rank) AS keeper
  FROM with_content
  GROUP BY tx_id
)
SELECT w.tx_id, w.merchant_id, w.subsidiary, w.transaction_date, w.account_number, w.user_id,
       w.transaction_amount, w.transaction_type, w.source_key, w.source_line,
       CASE
         WHEN i.min_content <> i.max_content OR date_diff('second', i.first_ts, i.last_ts) > 1 THEN 'conflict'
         WHEN w.keeper_rank = i.keeper THEN 'accepted'
         ELSE 'duplicate'
       END AS status,
       CAST(CAST(w.transaction_date AS DATE) AS VARCHAR) AS dt
FROM with_content w
JOIN ids i ON i.tx_id = w.tx_id
WHERE w.from_run = 1
`;
