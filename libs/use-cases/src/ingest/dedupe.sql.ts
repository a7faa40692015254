/**
 * Classifies this run's staged rows against each other and against curated rows of other sources near the
 * same dates: a retry duplicate has the same `_id`, the same content and timestamps at most 1 s apart (the
 * first one is kept, curated rows first); the same `_id` with different content, or further apart, is a
 * conflict and is quarantined, never merged. Shared Athena/DuckDB dialect.
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
           || CAST(transaction_amount AS VARCHAR) || '|' || transaction_type AS content
  FROM candidates c
),
ranked AS (
  SELECT w.*,
         MIN(content) OVER (PARTITION BY tx_id) AS min_content,
         MAX(content) OVER (PARTITION BY tx_id) AS max_content,
         MIN(transaction_date) OVER (PARTITION BY tx_id) AS first_ts,
         MAX(transaction_date) OVER (PARTITION BY tx_id) AS last_ts,
         ROW_NUMBER() OVER (PARTITION BY tx_id ORDER BY from_run, transaction_date, source_key, source_line) AS rank_in_id
  FROM with_content w
)
SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
       transaction_amount, transaction_type, source_key, source_line,
       CASE
         WHEN min_content <> max_content OR date_diff('second', first_ts, last_ts) > 1 THEN 'conflict'
         WHEN rank_in_id = 1 THEN 'accepted'
         ELSE 'duplicate'
       END AS status
FROM ranked
WHERE from_run = 1
`;
