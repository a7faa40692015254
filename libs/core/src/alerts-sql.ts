import { ALERT_COLUMNS, type Alert } from './alert';

/**
 * SQL shared by every results store (PostgreSQL, PGlite, Redshift): the statements are plain enough for all
 * three, so the alert table looks the same wherever analysts query it.
 */
export const ALERTS_TABLE = 'splitwatch_alerts';

export const ALERTS_DDL = `CREATE TABLE IF NOT EXISTS ${ALERTS_TABLE} (
  alert_id VARCHAR(64) NOT NULL PRIMARY KEY,
  run_id VARCHAR(64) NOT NULL,
  method VARCHAR(64) NOT NULL,
  entity_type VARCHAR(32) NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  account_number VARCHAR(64),
  merchant_id VARCHAR(64),
  direction VARCHAR(16) NOT NULL,
  window_start TIMESTAMP NOT NULL,
  window_end TIMESTAMP NOT NULL,
  n_tx INTEGER NOT NULL,
  total_amount DECIMAL(24,8) NOT NULL,
  score DOUBLE PRECISION NOT NULL,
  threshold DOUBLE PRECISION NOT NULL,
  reasons VARCHAR(4096) NOT NULL,
  transaction_ids VARCHAR(65535) NOT NULL
)`;

/** Quotes a value as a SQL literal (standard SQL: single quotes doubled). */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`Cannot write non-finite number ${value} to SQL`);
    return String(value);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * One alert's values in ALERT_COLUMNS order, as every results store writes them: the member ids `;`-joined; a
 * non-finite number (no store can hold one) refused with a RangeError naming the column and the alert.
 */
export function alertValues(a: Alert): (string | number | null)[] {
  return ALERT_COLUMNS.map((column) => {
    if (column === 'transaction_ids') return a.transaction_ids.join(';');
    const value = a[column];
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new RangeError(`Cannot write non-finite number ${value} to SQL (${column} of alert ${a.alert_id})`);
    return value;
  });
}

/** One alert as a parenthesised VALUES tuple in ALERT_COLUMNS order. */
export function alertValuesTuple(a: Alert): string {
  return `(${alertValues(a).map(sqlLiteral).join(', ')})`;
}

/**
 * Statements that replace `alerts` by alert_id (delete, then insert), to run inside one transaction.
 * Batches keep each statement under `maxChars` (Redshift Data API caps SQL text at 100 kB).
 */
export function upsertAlertStatements(alerts: Alert[], maxChars = 90_000): string[] {
  const statements: string[] = [];
  let ids: string[] = [];
  let tuples: string[] = [];
  let size = 0;
  const flush = () => {
    if (tuples.length === 0) return;
    statements.push(`DELETE FROM ${ALERTS_TABLE} WHERE alert_id IN (${ids.join(', ')})`);
    statements.push(`INSERT INTO ${ALERTS_TABLE} (${ALERT_COLUMNS.join(', ')}) VALUES ${tuples.join(',\n')}`);
    ids = [];
    tuples = [];
    size = 0;
  };
  for (const a of alerts) {
    const tuple = alertValuesTuple(a);
    if (size + tuple.length > maxChars) flush();
    ids.push(sqlLiteral(a.alert_id));
    tuples.push(tuple);
    size += tuple.length + a.alert_id.length + 4;
  }
  flush();
  return statements;
}

/** DELETE statements for these alert ids, each under `maxChars`. */
export function deleteAlertStatements(alertIds: string[], maxChars = 90_000): string[] {
  const statements: string[] = [];
  let ids: string[] = [];
  let size = 0;
  const flush = () => {
    if (ids.length) statements.push(`DELETE FROM ${ALERTS_TABLE} WHERE alert_id IN (${ids.join(', ')})`);
    ids = [];
    size = 0;
  };
  for (const id of alertIds) {
    const literal = sqlLiteral(id);
    if (size + literal.length + 2 > maxChars) flush();
    ids.push(literal);
    size += literal.length + 2;
  }
  flush();
  return statements;
}

/** Run `from`'s alerts (but `exceptMethod`'s), counted, then moved to run `to`. */
export function restampAlertsSql(from: string, to: string, exceptMethod: string): { count: string; update: string } {
  const where = `WHERE run_id = ${sqlLiteral(from)} AND method <> ${sqlLiteral(exceptMethod)}`;
  return {
    count: `SELECT COUNT(*) AS n FROM ${ALERTS_TABLE} ${where}`,
    update: `UPDATE ${ALERTS_TABLE} SET run_id = ${sqlLiteral(to)} ${where}`,
  };
}

/** Counts every alert and those of one run (columns total, of_run). */
export function alertCountsSql(runId: string): string {
  return `SELECT COUNT(*) AS total, SUM(CASE WHEN run_id = ${sqlLiteral(runId)} THEN 1 ELSE 0 END) AS of_run FROM ${ALERTS_TABLE}`;
}

/** The alerts a run did not write (see ResultsStore.retireAlerts): counted, then deleted. */
export function retireAlertsSql(runId: string): { count: string; delete: string } {
  const where = `WHERE run_id <> ${sqlLiteral(runId)}`;
  return { count: `SELECT COUNT(*) AS n FROM ${ALERTS_TABLE} ${where}`, delete: `DELETE FROM ${ALERTS_TABLE} ${where}` };
}

/** ALERT_COLUMNS with timestamps and decimals as text, so every store maps rows alike (see rowToAlert). */
const ALERT_SELECT_LIST =
  `alert_id, run_id, method, entity_type, user_id, account_number, merchant_id, direction, ` +
  `TO_CHAR(window_start, 'YYYY-MM-DD HH24:MI:SS') AS window_start, ` +
  `TO_CHAR(window_end, 'YYYY-MM-DD HH24:MI:SS') AS window_end, n_tx, ` +
  `CAST(total_amount AS VARCHAR(40)) AS total_amount, score, threshold, reasons, transaction_ids`;

const limitClause = (limit: number | undefined) => (limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(limit))}` : '');

/** Which alerts a listing returns: those last written by `runId`, those of `alertIds`, at most `limit`. */
export interface AlertFilter {
  runId?: string;
  alertIds?: string[];
  limit?: number;
}

/** SELECT returning ALERT_COLUMNS with timestamps and decimals as text, so every store maps rows alike. */
export function selectAlertsSql(filter?: AlertFilter): string {
  const conditions = [
    ...(filter?.runId ? [`run_id = ${sqlLiteral(filter.runId)}`] : []),
    ...(filter?.alertIds ? [filter.alertIds.length ? `alert_id IN (${filter.alertIds.map(sqlLiteral).join(', ')})` : '1 = 0'] : []),
  ];
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  return `SELECT ${ALERT_SELECT_LIST} FROM ${ALERTS_TABLE}${where} ORDER BY score DESC, alert_id${limitClause(filter?.limit)}`;
}

/** What a dashboard shows of the store's alerts, computed by the store (see ResultsStore.summarizeAlerts). */
export interface AlertSummary {
  total: number;
  /** [key, alerts] by count descending, then key. */
  byMethod: [string, number][];
  byDirection: [string, number][];
  /** By hour of window_end (`00`…`23`), in hour order; hours without alerts are left out. */
  byHour: [string, number][];
  /** The `limit` merchants (`(none)` for alerts without one) and clients (user_id) with most alerts. */
  byMerchant: [string, number][];
  byUser: [string, number][];
  /** The `topN` highest-scoring alerts of `preferMethod`, or of every method when it has none. */
  top: Alert[];
  /**
   * The same, of the latest day only: those alerts whose window ends on the day of the latest `window_end` among them
   * (after a daily run, the new day's alerts — what analysts triage that morning).
   */
  latest: Alert[];
}

export interface AlertSummaryOptions {
  limit: number;
  topN: number;
  preferMethod: string;
}

const SUMMARY_DIMENSIONS = {
  method: 'method',
  direction: 'direction',
  hour: `TO_CHAR(window_end, 'HH24')`,
  merchant: `COALESCE(merchant_id, '(none)')`,
  user: 'user_id',
} as const;
type SummaryDimension = keyof typeof SUMMARY_DIMENSIONS;
const LIMITED: readonly SummaryDimension[] = ['merchant', 'user'];

/**
 * The three statements behind ResultsStore.summarizeAlerts: alert counts per dimension (rows dim, k, n; merchants and
 * users cut to the `limit` largest), the top alerts and the latest day's top alerts (rowToAlert rows). Plain enough for PostgreSQL, PGlite and
 * Redshift, and only the few rows a dashboard shows cross the wire, not every alert.
 */
export function summarizeAlertsSql(options: AlertSummaryOptions): { counts: string; top: string; latest: string } {
  const limit = Math.max(0, Math.floor(options.limit));
  const counted = Object.entries(SUMMARY_DIMENSIONS)
    .map(([dim, expr]) => `SELECT '${dim}' AS dim, ${expr} AS k, COUNT(*) AS n FROM ${ALERTS_TABLE} GROUP BY ${expr}`)
    .join('\n  UNION ALL ');
  const counts =
    `SELECT dim, k, n FROM (\n` +
    `SELECT dim, k, n, ROW_NUMBER() OVER (PARTITION BY dim ORDER BY n DESC, k) AS rank_in_dim FROM (\n  ${counted}\n) c\n` +
    `) r WHERE dim NOT IN (${LIMITED.map((d) => `'${d}'`).join(', ')}) OR rank_in_dim <= ${limit}`;
  const prefer = sqlLiteral(options.preferMethod);
  const top =
    `SELECT ${ALERT_SELECT_LIST} FROM ${ALERTS_TABLE} ` +
    `WHERE method = ${prefer} OR NOT EXISTS (SELECT 1 FROM ${ALERTS_TABLE} WHERE method = ${prefer}) ` +
    `ORDER BY score DESC, alert_id${limitClause(options.topN)}`;
  const shown = `SELECT * FROM ${ALERTS_TABLE} WHERE method = ${prefer} OR NOT EXISTS (SELECT 1 FROM ${ALERTS_TABLE} WHERE method = ${prefer})`;
  const latest =
    `WITH shown AS (${shown}) SELECT ${ALERT_SELECT_LIST} FROM shown ` +
    `WHERE window_end >= (SELECT DATE_TRUNC('day', MAX(window_end)) FROM shown) ` +
    `ORDER BY score DESC, alert_id${limitClause(options.topN)}`;
  return { counts, top, latest };
}

/** An AlertSummary from the rows of summarizeAlertsSql's two statements (values may arrive as strings). */
export function alertSummaryOf(
  countRows: Record<string, unknown>[],
  topRows: Record<string, unknown>[],
  latestRows: Record<string, unknown>[],
): AlertSummary {
  const by = (dim: SummaryDimension): [string, number][] =>
    countRows
      .filter((r) => r.dim === dim)
      .map((r): [string, number] => [String(r.k), Number(r.n)])
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const byMethod = by('method');
  return {
    total: byMethod.reduce((sum, [, n]) => sum + n, 0),
    byMethod,
    byDirection: by('direction'),
    byHour: by('hour').sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    byMerchant: by('merchant'),
    byUser: by('user'),
    top: topRows.map(rowToAlert),
    latest: latestRows.map(rowToAlert),
  };
}

/** Maps a row of selectAlertsSql (values may arrive as strings or numbers) back to an Alert. */
export function rowToAlert(row: Record<string, unknown>): Alert {
  const str = (k: string) => (row[k] === null || row[k] === undefined ? null : String(row[k]));
  const ids = str('transaction_ids');
  return {
    alert_id: String(row.alert_id),
    run_id: String(row.run_id),
    method: String(row.method),
    entity_type: String(row.entity_type) as Alert['entity_type'],
    user_id: String(row.user_id),
    account_number: str('account_number'),
    merchant_id: str('merchant_id'),
    direction: String(row.direction) as Alert['direction'],
    window_start: String(row.window_start),
    window_end: String(row.window_end),
    n_tx: Number(row.n_tx),
    total_amount: String(row.total_amount),
    score: Number(row.score),
    threshold: Number(row.threshold),
    reasons: String(row.reasons),
    transaction_ids: ids ? ids.split(';') : [],
  };
}
