import {
  ALERT_COLUMNS,
  ALERTS_DDL,
  ALERTS_TABLE,
  alertCountsSql,
  alertValues,
  ResultsStoreError,
  restampAlertsSql,
  retireAlertsSql,
  rowToAlert,
  alertSummaryOf,
  selectAlertsSql,
  summarizeAlertsSql,
  type Alert,
  type AlertFilter,
  type AlertSummary,
  type AlertSummaryOptions,
  type ResultsStore,
} from '@splitwatch/core';
import { PgClient, type PgClientOptions } from './pg-client.adapter';
import { PgliteClient } from './pglite-client.adapter';
import type { SqlClient } from './sql-client';

const SQL_SNIPPET_CHARS = 200;

/**
 * Alerts written per statement pair (DELETE, INSERT): each column goes as one array parameter, so PostgreSQL parses
 * two short statements instead of a VALUES list per 90 kB (twice as fast on PGlite and on a server: 100,000 alerts in
 * about 4 s instead of 8 s on PGlite, 2.8 s instead of 4.9 s on PostgreSQL 15).
 */
const UPSERT_BATCH = 10_000;

/** The SQL type of each alert column's array parameter (the table's column types, ALERTS_DDL). */
const ARRAY_TYPES: Record<(typeof ALERT_COLUMNS)[number], string> = {
  alert_id: 'VARCHAR',
  run_id: 'VARCHAR',
  method: 'VARCHAR',
  entity_type: 'VARCHAR',
  user_id: 'VARCHAR',
  account_number: 'VARCHAR',
  merchant_id: 'VARCHAR',
  direction: 'VARCHAR',
  window_start: 'TIMESTAMP',
  window_end: 'TIMESTAMP',
  n_tx: 'INTEGER',
  total_amount: 'DECIMAL(24,8)',
  score: 'DOUBLE PRECISION',
  threshold: 'DOUBLE PRECISION',
  reasons: 'VARCHAR',
  transaction_ids: 'VARCHAR',
};

const DELETE_BY_IDS_SQL = `DELETE FROM ${ALERTS_TABLE} WHERE alert_id = ANY($1::VARCHAR[])`;
const INSERT_ARRAYS_SQL =
  `INSERT INTO ${ALERTS_TABLE} (${ALERT_COLUMNS.join(', ')}) ` +
  `SELECT * FROM unnest(${ALERT_COLUMNS.map((c, i) => `$${i + 1}::${ARRAY_TYPES[c]}[]`).join(', ')})`;

/** One array per alert column, in ALERT_COLUMNS order (the values every store writes: `alertValues`). */
function columnArrays(alerts: Alert[]): unknown[][] {
  const rows = alerts.map(alertValues);
  return ALERT_COLUMNS.map((_, j) => rows.map((row) => row[j]));
}

/** Keeps the last alert of each alert_id: one INSERT cannot hold the same primary key twice. */
function lastPerId(alerts: Alert[]): Alert[] {
  const byId = new Map<string, Alert>();
  for (const alert of alerts) {
    byId.delete(alert.alert_id);
    byId.set(alert.alert_id, alert);
  }
  return [...byId.values()];
}

/**
 * Results store over PostgreSQL or PGlite, using the alert SQL shared with Redshift (`ALERTS_DDL`, `selectAlertsSql`,
 * the summaries, retiring and restamping), so the table looks the same wherever analysts query it; upserts and
 * deletes bind the values as PostgreSQL arrays (Redshift has no array parameters: it takes `upsertAlertStatements`).
 *
 * @example
 * const store = await PostgresResultsStore.openPglite('.splitwatch/pglite');
 * await store.ensureSchema();
 * await store.upsertAlerts(alerts);
 */
export class PostgresResultsStore implements ResultsStore {
  /**
   * @param client where the statements run; the store owns it and closes it in {@link close}.
   * @param name `'pglite'` or `'postgresql'`, shown in messages and manifests.
   */
  constructor(
    private readonly client: SqlClient,
    readonly name: 'pglite' | 'postgresql',
    /** Alerts per DELETE/INSERT pair of an upsert (all of them in one transaction whatever the size). */
    private readonly upsertBatch = UPSERT_BATCH,
  ) {}

  /** A store on an embedded PGlite, persisted in `dataDir` or in memory when it is undefined. */
  static async openPglite(dataDir?: string): Promise<PostgresResultsStore> {
    try {
      return new PostgresResultsStore(await PgliteClient.open(dataDir), 'pglite');
    } catch (error) {
      throw new ResultsStoreError(
        `Cannot open PGlite ${dataDir === undefined ? 'in memory' : `in ${dataDir}`}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** A store on a PostgreSQL server; fails fast when the server does not answer. */
  static async connect(connectionString: string, options?: PgClientOptions): Promise<PostgresResultsStore> {
    try {
      return new PostgresResultsStore(await PgClient.connect(connectionString, options), 'postgresql');
    } catch (error) {
      const where = connectionString.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@'); // never echo a password
      throw new ResultsStoreError(`Cannot connect to PostgreSQL at ${where}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async ensureSchema(): Promise<void> {
    await this.run(this.client, ALERTS_DDL);
  }

  /**
   * Replaces alerts by alert_id in one transaction (a duplicate id in `alerts` keeps its last occurrence): the same
   * table and result as the Redshift store's statements (`upsertAlertStatements`), with the values bound as arrays.
   */
  async upsertAlerts(alerts: Alert[]): Promise<number> {
    const unique = lastPerId(alerts);
    if (unique.length === 0) return 0;
    const batches: unknown[][][] = [];
    for (let i = 0; i < unique.length; i += this.upsertBatch)
      batches.push(columnArrays(unique.slice(i, i + this.upsertBatch)));
    try {
      await this.client.transaction(async (tx) => {
        for (const columns of batches) {
          await this.run(tx, DELETE_BY_IDS_SQL, [columns[0]]);
          await this.run(tx, INSERT_ARRAYS_SQL, columns);
        }
      });
    } catch (error) {
      if (error instanceof ResultsStoreError) throw error;
      throw new ResultsStoreError(
        `${this.name}: upserting ${unique.length} alerts failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    return unique.length;
  }

  /** Counts and deletes, in one transaction, the alerts run `runId` did not write. */
  async retireAlerts(runId: string): Promise<number> {
    const sql = retireAlertsSql(runId);
    return this.client.transaction(async (tx) => {
      const [row] = await this.run(tx, sql.count);
      await this.run(tx, sql.delete);
      return Number(row?.n ?? 0);
    });
  }

  async deleteAlerts(alertIds: string[]): Promise<number> {
    const unique = [...new Set(alertIds)];
    if (unique.length > 0) await this.run(this.client, DELETE_BY_IDS_SQL, [unique]);
    return unique.length;
  }

  /** Counts and moves, in one transaction, run `from`'s alerts but `exceptMethod`'s. */
  async restampAlerts(from: string, to: string, exceptMethod: string): Promise<number> {
    const sql = restampAlertsSql(from, to, exceptMethod);
    return this.client.transaction(async (tx) => {
      const [row] = await this.run(tx, sql.count);
      await this.run(tx, sql.update);
      return Number(row?.n ?? 0);
    });
  }

  async alertCounts(runId: string): Promise<{ total: number; ofRun: number }> {
    const [row] = await this.run(this.client, alertCountsSql(runId));
    return { total: Number(row?.total ?? 0), ofRun: Number(row?.of_run ?? 0) };
  }

  async listAlerts(filter?: AlertFilter): Promise<Alert[]> {
    const rows = await this.run(this.client, selectAlertsSql(filter));
    return rows.map(rowToAlert);
  }

  /** One query read through a server-side cursor, `pageSize` rows per FETCH, in one transaction. */
  async forEachAlertPage(
    filter: { runId?: string },
    pageSize: number,
    onPage: (alerts: Alert[]) => Promise<void>,
  ): Promise<number> {
    const size = Math.max(1, Math.floor(pageSize));
    return this.client.transaction(async (tx) => {
      await this.run(tx, `DECLARE splitwatch_alert_pages NO SCROLL CURSOR FOR ${selectAlertsSql(filter)}`);
      let count = 0;
      for (;;) {
        const rows = await this.run(tx, `FETCH FORWARD ${size} FROM splitwatch_alert_pages`);
        if (rows.length === 0) break;
        count += rows.length;
        await onPage(rows.map(rowToAlert));
      }
      await this.run(tx, 'CLOSE splitwatch_alert_pages');
      return count;
    });
  }

  /** Both statements in one transaction, so the counts and the top alerts see the same store. */
  async summarizeAlerts(options: AlertSummaryOptions): Promise<AlertSummary> {
    const sql = summarizeAlertsSql(options);
    return this.client.transaction(async (tx) =>
      alertSummaryOf(await this.run(tx, sql.counts), await this.run(tx, sql.top), await this.run(tx, sql.latest)),
    );
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run(client: SqlClient, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]> {
    try {
      return (await client.query(sql, params)).rows;
    } catch (error) {
      const flat = sql.replace(/\s+/g, ' ').trim();
      const shown = flat.length > SQL_SNIPPET_CHARS ? `${flat.slice(0, SQL_SNIPPET_CHARS)}…` : flat;
      throw new ResultsStoreError(`${this.name}: ${(error as Error).message} [SQL: ${shown}]`, {
        cause: error,
      });
    }
  }
}
