import {
  ALERTS_DDL,
  alertCountsSql,
  deleteAlertStatements,
  ResultsStoreError,
  restampAlertsSql,
  retireAlertsSql,
  rowToAlert,
  alertSummaryOf,
  selectAlertsSql,
  summarizeAlertsSql,
  upsertAlertStatements,
  type Alert,
  type AlertSummary,
  type AlertSummaryOptions,
  type ResultsStore,
} from '@splitwatch/core';
import { PgClient, type PgClientOptions } from './pg-client.adapter';
import { PgliteClient } from './pglite-client.adapter';
import type { SqlClient } from './sql-client';

const SQL_SNIPPET_CHARS = 200;

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
 * Results store over PostgreSQL or PGlite, using the alert SQL shared with Redshift (`ALERTS_DDL`,
 * `upsertAlertStatements`, `selectAlertsSql`), so the table looks the same wherever analysts query it.
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

  /** Replaces alerts by alert_id in one transaction (a duplicate id in `alerts` keeps its last occurrence). */
  async upsertAlerts(alerts: Alert[]): Promise<number> {
    const unique = lastPerId(alerts);
    if (unique.length === 0) return 0;
    const statements = upsertAlertStatements(unique);
    try {
      await this.client.transaction(async (tx) => {
        for (const sql of statements) await this.run(tx, sql);
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
    await this.client.transaction(async (tx) => {
      for (const sql of deleteAlertStatements(unique)) await this.run(tx, sql);
    });
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

  async listAlerts(filter?: { runId?: string; limit?: number }): Promise<Alert[]> {
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
    return this.client.transaction(async (tx) => alertSummaryOf(await this.run(tx, sql.counts), await this.run(tx, sql.top)));
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async run(client: SqlClient, sql: string): Promise<Record<string, unknown>[]> {
    try {
      return (await client.query(sql)).rows;
    } catch (error) {
      const flat = sql.replace(/\s+/g, ' ').trim();
      const shown = flat.length > SQL_SNIPPET_CHARS ? `${flat.slice(0, SQL_SNIPPET_CHARS)}…` : flat;
      throw new ResultsStoreError(`${this.name}: ${(error as Error).message} [SQL: ${shown}]`, {
        cause: error,
      });
    }
  }
}
