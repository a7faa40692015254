import type { ColumnDef } from '@splitwatch/core';

/**
 * Finds the rows of this run that are not accepted as they are: retry duplicates (same `_id`, same content,
 * timestamps at most 1 s apart; the first is kept, curated rows first, then by time, source and line) and
 * conflicts (the same `_id` with different content, or further apart: quarantined, never merged). Compared with
 * this run's other rows and with curated rows of other sources near the same dates.
 *
 * Cost: almost every `_id` is unique, so one narrow hash aggregation over a 64-bit hash of the ids finds the
 * repeated ones, and only those rows are read whole and compared (window aggregates over that small set, by the ids
 * themselves: a hash shared by two ids only adds candidates, each still classified by its own `_id`). Grouping by the
 * hash rather than the text holds no string per id, so it spills where the text did not: at a 384MB limit, 10M ids
 * classify in 3.4 s where grouping the text failed out of memory (4.4 s at 448MB). The output is small — the
 * exceptions, not the accepted rows — so no full-size intermediate is written; curated Parquet is later written
 * straight from the staged rows minus these exceptions. No CTE is referenced twice (DuckDB would materialise it),
 * nothing sorts all rows: bounded memory, spilling when it must. Shared Athena/DuckDB dialect.
 *
 * An `_id` an earlier run quarantined as a conflict (`{{conflicted}}`: the ids each source quarantined so, see
 * {@link KNOWN_CONFLICT_COLUMNS}) stays one: a row of this run with it is a conflict too, whatever its content.
 *
 * Placeholders: `{{validated}}` (a parenthesised SELECT of validated rows, see {@link validatedRelation}),
 * `{{curated}}`, `{{minDt}}`/`{{maxDt}}` (curated days to compare with), `{{conflicted}}` (the known conflicts
 * table), `{{runSources}}` (sources re-ingested by this run: their curated rows and conflicts are being replaced,
 * so they are not compared with).
 */
export const CLASSIFY_EXCEPTIONS_SQL = `
SELECT source_key, source_line, tx_id, status
FROM (
  SELECT source_key, source_line, tx_id, from_run,
         CASE
           WHEN MAX(known_conflict) OVER (PARTITION BY tx_id) = 1
             OR MIN(content) OVER (PARTITION BY tx_id) <> MAX(content) OVER (PARTITION BY tx_id)
             OR date_diff('second', MIN(transaction_date) OVER (PARTITION BY tx_id),
                          MAX(transaction_date) OVER (PARTITION BY tx_id)) > 1 THEN 'conflict'
           WHEN keeper_rank = MIN(keeper_rank) OVER (PARTITION BY tx_id) THEN 'accepted'
           ELSE 'duplicate'
         END AS status
  FROM (
    SELECT tx_id, transaction_date, source_key, source_line, from_run, known_conflict,
           merchant_id || '|' || subsidiary || '|' || account_number || '|' || user_id || '|'
             || CAST(transaction_amount AS VARCHAR) || '|' || transaction_type AS content,
           CAST(from_run AS VARCHAR) || '|' || CAST(transaction_date AS VARCHAR) || '|' || source_key || '|'
             || lpad(CAST(source_line AS VARCHAR), 12, '0') AS keeper_rank
    FROM (
      SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
             transaction_amount, transaction_type, source_key, source_line, 1 AS from_run, 0 AS known_conflict
      FROM {{validated}} v
      UNION ALL
      SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
             transaction_amount, transaction_type, source_key, source_line, 0 AS from_run, 0 AS known_conflict
      FROM {{curated}}
      WHERE dt BETWEEN {{minDt}} AND {{maxDt}} AND source_key NOT IN ({{runSources}})
      UNION ALL
      SELECT tx_id, CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS TIMESTAMP), CAST(NULL AS VARCHAR),
             CAST(NULL AS VARCHAR), CAST(NULL AS DECIMAL(24,8)), CAST(NULL AS VARCHAR), source_key,
             CAST(NULL AS BIGINT), 0 AS from_run, 1 AS known_conflict
      FROM {{conflicted}}
      WHERE source_key NOT IN ({{runSources}})
    ) candidates
    WHERE xxhash64(to_utf8(tx_id)) IN (
      SELECT id_hash
      FROM (
        SELECT xxhash64(to_utf8(tx_id)) AS id_hash FROM {{validated}} v
        UNION ALL
        SELECT xxhash64(to_utf8(tx_id)) AS id_hash FROM {{curated}}
        WHERE dt BETWEEN {{minDt}} AND {{maxDt}} AND source_key NOT IN ({{runSources}})
        UNION ALL
        SELECT xxhash64(to_utf8(tx_id)) AS id_hash FROM {{conflicted}}
        WHERE source_key NOT IN ({{runSources}})
      ) all_ids
      GROUP BY id_hash
      HAVING COUNT(*) > 1
    )
  ) repeated
) classified
WHERE from_run = 1 AND status <> 'accepted'
`;

/** The ingest classification SQL under its earlier name (the shared-dialect guard test reads it). */
export const CLASSIFY_STAGED_SQL = CLASSIFY_EXCEPTIONS_SQL;

/**
 * Columns of the known conflicts table: one CSV per source that quarantined conflicting `_id`s, under
 * `Keys.knownConflicts`, replaced whenever the source is ingested again.
 */
export const KNOWN_CONFLICT_COLUMNS: ColumnDef[] = [
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'source_key', type: 'VARCHAR' },
];

/** Columns of the exceptions table written by {@link CLASSIFY_EXCEPTIONS_SQL}. */
export const EXCEPTION_COLUMNS: ColumnDef[] = [
  { name: 'source_key', type: 'VARCHAR' },
  { name: 'source_line', type: 'BIGINT' },
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'status', type: 'VARCHAR' },
];

/**
 * DECIMAL(24,8) from the canonical text ingest stages (`<int>.<8 decimals>`). DuckDB parses text into a 128-bit
 * decimal about ten times slower than into a 64-bit one, so amounts that fit DECIMAL(18,8) (ten integer digits:
 * all real ones) take that road; the result is the same exact value either way.
 */
export function decimalFromCanonicalText(expr: string): string {
  return `CASE WHEN length(${expr}) <= 19 THEN CAST(CAST(${expr} AS DECIMAL(18,8)) AS DECIMAL(24,8)) ELSE CAST(${expr} AS DECIMAL(24,8)) END`;
}

/** Columns of the staging CSV the TypeScript validator writes (canonical text; the amount is cast in SQL). */
export const STAGED_CSV_COLUMNS: ColumnDef[] = [
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'subsidiary', type: 'VARCHAR' },
  { name: 'transaction_date', type: 'TIMESTAMP' },
  { name: 'account_number', type: 'VARCHAR' },
  { name: 'user_id', type: 'VARCHAR' },
  { name: 'transaction_amount', type: 'VARCHAR' },
  { name: 'transaction_type', type: 'VARCHAR' },
  { name: 'source_key', type: 'VARCHAR' },
  { name: 'source_line', type: 'BIGINT' },
];
/** Staged CSV files sit under `stage_month=YYYY-MM/`, so a range of days reads only its months' files. */
export const STAGED_CSV_PARTITION: ColumnDef[] = [{ name: 'stage_month', type: 'VARCHAR' }];

/** Columns of the validated Parquet table (Parquet input validated in SQL; `reject_column` NULL when valid). */
export const VALIDATED_COLUMNS: ColumnDef[] = [
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'subsidiary', type: 'VARCHAR' },
  { name: 'transaction_date', type: 'TIMESTAMP' },
  { name: 'account_number', type: 'VARCHAR' },
  { name: 'user_id', type: 'VARCHAR' },
  { name: 'transaction_amount', type: 'DECIMAL(24,8)' },
  { name: 'transaction_type', type: 'VARCHAR' },
  { name: 'source_key', type: 'VARCHAR' },
  { name: 'source_line', type: 'BIGINT' },
  { name: 'reject_column', type: 'VARCHAR' },
  { name: 'reject_reason', type: 'VARCHAR' },
  { name: 'record', type: 'VARCHAR' },
];

const CURATED_SELECT = `tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount,
              transaction_type, source_key, source_line`;

/** Staged CSV rows in the curated shape, the amount typed here (no intermediate copy). */
function stagedCsvSelect(table: string, where = ''): string {
  return `SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id,
              ${decimalFromCanonicalText('transaction_amount')} AS transaction_amount,
              transaction_type, source_key, source_line
       FROM ${table}${where ? ` WHERE ${where}` : ''}`;
}

function validatedParquetSelect(table: string, where = ''): string {
  return `SELECT ${CURATED_SELECT}
       FROM ${table}
       WHERE reject_column IS NULL${where ? ` AND ${where}` : ''}`;
}

/** All valid rows of this run (staged CSV and validated Parquet, whichever exist) as one parenthesised SELECT. */
export function validatedRelation(
  stagedCsvTable: string | null,
  validatedParquetTable: string | null,
): string {
  const parts: string[] = [];
  if (stagedCsvTable) parts.push(stagedCsvSelect(stagedCsvTable));
  if (validatedParquetTable) parts.push(validatedParquetSelect(validatedParquetTable));
  if (parts.length === 0)
    throw new Error('Nothing to classify: no staged CSV and no validated Parquet table');
  return `(${parts.join('\n       UNION ALL\n       ')})`;
}

/** One source's accepted rows of a range of days: its valid rows minus the exceptions, with `dt` last (the partition). */
export function curatedChunkSql(opts: {
  format: 'csv' | 'parquet';
  /** CSV: the staged tables of the months the range touches; Parquet: the validated table. */
  tables: string[];
  exceptions: string | null;
  sourceLiteral: string;
  from: string;
  to: string;
  nextDay: string;
}): string {
  const range = `transaction_date >= TIMESTAMP '${opts.from} 00:00:00' AND transaction_date < TIMESTAMP '${opts.nextDay} 00:00:00'`;
  const where = `source_key = ${opts.sourceLiteral} AND ${range}`;
  const rows = opts.tables
    .map((t) => (opts.format === 'csv' ? stagedCsvSelect(t, where) : validatedParquetSelect(t, where)))
    .join('\n       UNION ALL\n       ');
  // An anti-join against the (small) exceptions of this source; source_line is never NULL, so NOT IN is exact.
  const minus = opts.exceptions
    ? `WHERE s.source_line NOT IN (SELECT source_line FROM ${opts.exceptions} WHERE source_key = ${opts.sourceLiteral})`
    : '';
  return `SELECT s.tx_id, s.merchant_id, s.subsidiary, s.transaction_date, s.account_number, s.user_id, s.transaction_amount,
       s.transaction_type, s.source_key, s.source_line, CAST(CAST(s.transaction_date AS DATE) AS VARCHAR) AS dt
FROM (${rows}) s
${minus}`;
}
