import {
  BatchExecuteStatementCommand,
  CancelStatementCommand,
  type ColumnMetadata,
  DescribeStatementCommand,
  type DescribeStatementResponse,
  ExecuteStatementCommand,
  type Field,
  GetStatementResultCommand,
  type RedshiftDataClient,
} from '@aws-sdk/client-redshift-data';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  ALERT_COLUMNS,
  ALERTS_DDL,
  ALERTS_TABLE,
  type Alert,
  type AlertFilter,
  type AlertSummary,
  type AlertSummaryOptions,
  ConfigError,
  type ObjectStore,
  type ResultsStore,
  alertCountsSql,
  alertSummaryOf,
  alertValues,
  deleteAlertStatements,
  ResultsStoreError,
  restampAlertsSql,
  retireAlertsSql,
  rowToAlert,
  selectAlertsSql,
  SplitwatchError,
  summarizeAlertsSql,
  TransientError,
  upsertAlertStatements,
} from '@splitwatch/core';
import { describeAwsError, isThrottlingError, isTransientAwsError, sqlSnippet } from './aws-errors';
import { pollSettings, pollUntil, type PollSettings } from './polling';

/** Options of {@link RedshiftDataResultsStore}: exactly one of `workgroupName` (Serverless) or `clusterIdentifier`. */
export interface RedshiftDataResultsStoreOptions {
  client: RedshiftDataClient;
  database: string;
  workgroupName?: string;
  clusterIdentifier?: string;
  /** Secrets Manager secret with the database credentials; without it the caller's IAM identity is used. */
  secretArn?: string;
  /** Database user for temporary credentials (provisioned clusters only). */
  dbUser?: string;
  /** First wait between status checks (default 250 ms); doubles up to `maxPollIntervalMs` (default 5 s). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Longest wait for one statement (default 5 min); past it the statement is cancelled and TransientError raised. */
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * Bulk load through S3: upserts of at least `minAlerts` alerts are written as gzip CSV parts under one prefix of
   * the data bucket and loaded with `COPY … IAM_ROLE` into a temporary table, then merged — one request instead of
   * one per ~70 alerts (the Data API takes at most 100 kB of SQL per request). Off when absent.
   */
  bulkLoad?: RedshiftBulkLoadOptions;
}

/** Where and how {@link RedshiftDataResultsStore} stages alerts for COPY. */
export interface RedshiftBulkLoadOptions {
  /** The data bucket's store (S3 in AWS): the staged parts are written and deleted through it. */
  objectStore: ObjectStore;
  /** Its bucket name, for the `s3://` URI COPY reads. */
  bucket: string;
  /** Key prefix of the staged parts, ending in `/` (default `staging/sink/`; each upsert adds `<uuid>/part-…`). */
  prefix?: string;
  /** The IAM role Redshift assumes to read them (an ARN associated with the namespace or cluster, or `default`). */
  iamRole: string;
  /** Smallest upsert loaded through S3 (default 500); smaller ones go as SQL statements. */
  minAlerts?: number;
}

/** Alerts per staged object of a bulk load (about 40 MB of CSV, a few MB gzipped). */
const BULK_PART_ALERTS = 50_000;

/** The temporary table COPY fills (every column text, as wide as the alert table's: cast as they are merged). */
const LOAD_TABLE = 'splitwatch_alerts_load';

/** Every field quoted; `""` inside. Empty text stays empty text (COPY's NULL marker is `\0`, which text cannot hold). */
function csvQuoted(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/**
 * The alerts as CSV rows in ALERT_COLUMNS order, for {@link bulkUpsertSqls}: a NULL (account_number or merchant_id
 * of a user-level alert) is written as an empty string and restored by NULLIF — ids are never empty (ingest rejects
 * empty ids) —, numbers as JavaScript writes them (as the SQL statements do).
 */
export function alertsCsv(alerts: Alert[]): string {
  let text = '';
  for (const a of alerts) {
    text +=
      alertValues(a)
        .map((v) => (v === null ? '""' : csvQuoted(String(v))))
        .join(',') + '\n';
  }
  return text;
}

/** Text widths of the load table: the alert table's (ALERTS_DDL) for text columns, 64 for the typed ones' text. */
const LOAD_WIDTHS: Partial<Record<(typeof ALERT_COLUMNS)[number], number>> = {
  entity_type: 32,
  direction: 16,
  reasons: 4096,
  transaction_ids: 65535,
};

const CAST_ON_MERGE: Partial<Record<(typeof ALERT_COLUMNS)[number], string>> = {
  account_number: "NULLIF(account_number, '')",
  merchant_id: "NULLIF(merchant_id, '')",
  window_start: 'CAST(window_start AS TIMESTAMP)',
  window_end: 'CAST(window_end AS TIMESTAMP)',
  n_tx: 'CAST(n_tx AS INTEGER)',
  total_amount: 'CAST(total_amount AS DECIMAL(24,8))',
  score: 'CAST(score AS DOUBLE PRECISION)',
  threshold: 'CAST(threshold AS DOUBLE PRECISION)',
};

/**
 * One transaction (a BatchExecuteStatement): a temporary text table, COPY of the staged gzip CSV into it, then the
 * same replacement by alert_id as the SQL statements (DELETE of the ids it holds, INSERT of its rows, cast).
 */
export function bulkUpsertSqls(s3Uri: string, iamRole: string): string[] {
  const quote = (v: string) => `'${v.replace(/'/g, "''")}'`;
  return [
    `CREATE TEMP TABLE ${LOAD_TABLE} (${ALERT_COLUMNS.map((c) => `${c} VARCHAR(${LOAD_WIDTHS[c] ?? 64})`).join(', ')})`,
    `COPY ${LOAD_TABLE} (${ALERT_COLUMNS.join(', ')}) FROM ${quote(s3Uri)} IAM_ROLE ${iamRole === 'default' ? 'default' : quote(iamRole)} ` +
      `FORMAT AS CSV GZIP NULL AS '\\0'`,
    `DELETE FROM ${ALERTS_TABLE} USING ${LOAD_TABLE} WHERE ${ALERTS_TABLE}.alert_id = ${LOAD_TABLE}.alert_id`,
    `INSERT INTO ${ALERTS_TABLE} (${ALERT_COLUMNS.join(', ')}) SELECT ${ALERT_COLUMNS.map((c) => CAST_ON_MERGE[c] ?? c).join(', ')} FROM ${LOAD_TABLE}`,
  ];
}

/** Data API limits: SQL text of a request (checked here on the whole batch, to be safe) and statements per batch. */
const MAX_REQUEST_SQL_BYTES = 100_000;
const MAX_BATCH_STATEMENTS = 40;
/** Leaves room for multi-byte UTF-8 in reasons when a DELETE + INSERT pair is measured in bytes. */
const STATEMENT_MAX_CHARS = 60_000;

/** Redshift aborts one of two concurrent writers with this; running it again succeeds. */
const SERIALIZATION_CONFLICT = /serializable isolation violation|concurrent transaction/i;

/** Maps one Data API `Field` union to a plain value. */
export function redshiftFieldValue(field: Field): unknown {
  if (field.isNull) return null;
  if (field.stringValue !== undefined) return field.stringValue;
  if (field.longValue !== undefined) return field.longValue;
  if (field.doubleValue !== undefined) return field.doubleValue;
  if (field.booleanValue !== undefined) return field.booleanValue;
  if (field.blobValue !== undefined) return Buffer.from(field.blobValue).toString('base64');
  return null;
}

function toRecord(fields: Field[], columns: ColumnMetadata[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  columns.forEach((c, i) => {
    // `label` carries the alias of `expr AS alias`; `name` may be the underlying column.
    record[c.label || c.name || `column${i}`] =
      fields[i] === undefined ? null : redshiftFieldValue(fields[i]);
  });
  return record;
}

/**
 * ResultsStore on Amazon Redshift through the Data API (no connections or drivers). Upserts run as
 * DELETE + INSERT pairs in BatchExecuteStatement transactions; failed statements raise ResultsStoreError,
 * throttling, concurrency limits and serialization conflicts TransientError.
 *
 * @example new RedshiftDataResultsStore({ client: new RedshiftDataClient({}), database: 'dev', workgroupName: 'splitwatch' })
 */
export class RedshiftDataResultsStore implements ResultsStore {
  readonly name = 'redshift';
  private readonly client: RedshiftDataClient;
  private readonly target: {
    Database: string;
    WorkgroupName?: string;
    ClusterIdentifier?: string;
    SecretArn?: string;
    DbUser?: string;
  };
  private readonly poll: PollSettings;
  private readonly bulkLoad?: RedshiftBulkLoadOptions;

  constructor(options: RedshiftDataResultsStoreOptions) {
    if (!options.database) throw new ConfigError('RedshiftDataResultsStore needs a database');
    if (Boolean(options.workgroupName) === Boolean(options.clusterIdentifier)) {
      throw new ConfigError(
        'RedshiftDataResultsStore needs exactly one of workgroupName and clusterIdentifier',
      );
    }
    if (options.workgroupName && options.dbUser) {
      throw new ConfigError(
        'RedshiftDataResultsStore: dbUser applies to provisioned clusters, not to Serverless workgroups',
      );
    }
    if (options.bulkLoad && !options.bulkLoad.iamRole)
      throw new ConfigError('RedshiftDataResultsStore: bulkLoad needs the IAM role Redshift reads S3 with');
    this.client = options.client;
    this.bulkLoad = options.bulkLoad;
    this.target = {
      Database: options.database,
      ...(options.workgroupName ? { WorkgroupName: options.workgroupName } : {}),
      ...(options.clusterIdentifier ? { ClusterIdentifier: options.clusterIdentifier } : {}),
      ...(options.secretArn ? { SecretArn: options.secretArn } : {}),
      ...(options.dbUser ? { DbUser: options.dbUser } : {}),
    };
    this.poll = pollSettings('RedshiftDataResultsStore', options, {
      pollIntervalMs: 250,
      maxPollIntervalMs: 5000,
      timeoutMs: 5 * 60_000,
    });
  }

  async ensureSchema(): Promise<void> {
    const { Id } = await this.call(ALERTS_DDL, () =>
      this.client.send(
        new ExecuteStatementCommand({
          ...this.target,
          Sql: ALERTS_DDL,
          StatementName: 'splitwatch-ensure-schema',
        }),
      ),
    );
    await this.waitFor(Id, ALERTS_DDL);
  }

  /**
   * Replaces alerts by alert_id. Each batch is one transaction of whole DELETE + INSERT pairs, so an
   * interrupted run leaves no half-replaced alert and a re-run converges. Duplicate ids keep the last alert.
   * With `bulkLoad`, an upsert of `minAlerts` or more is staged in S3 and loaded in one transaction instead.
   */
  async upsertAlerts(alerts: Alert[]): Promise<number> {
    const unique = [...new Map(alerts.map((a) => [a.alert_id, a])).values()];
    if (unique.length === 0) return 0;
    if (this.bulkLoad && unique.length >= (this.bulkLoad.minAlerts ?? 500))
      return this.bulkUpsert(unique, this.bulkLoad);
    for (const sqls of batchStatements(upsertAlertStatements(unique, STATEMENT_MAX_CHARS), 2)) {
      const { Id } = await this.call(sqls[0], () =>
        this.client.send(
          new BatchExecuteStatementCommand({
            ...this.target,
            Sqls: sqls,
            StatementName: 'splitwatch-upsert-alerts',
          }),
        ),
      );
      await this.waitFor(Id, sqls[0]);
    }
    return unique.length;
  }

  /**
   * Stages the alerts as gzip CSV objects under one prefix, loads and merges them in one transaction, and deletes
   * the objects whatever the outcome (a failed batch changes nothing: it runs as one transaction).
   */
  private async bulkUpsert(alerts: Alert[], bulk: RedshiftBulkLoadOptions): Promise<number> {
    // Parts of BULK_PART_ALERTS alerts (a few MB compressed each), under one prefix that COPY reads whole.
    const prefix = `${bulk.prefix ?? 'staging/sink/'}${randomUUID()}/part-`;
    const keys: string[] = [];
    try {
      for (let i = 0; i < alerts.length; i += BULK_PART_ALERTS) {
        const key = `${prefix}${String(keys.length).padStart(5, '0')}.csv.gz`;
        keys.push(key);
        await bulk.objectStore.putBytes(
          key,
          gzipSync(alertsCsv(alerts.slice(i, i + BULK_PART_ALERTS))),
          'application/gzip',
        );
      }
      const sqls = bulkUpsertSqls(`s3://${bulk.bucket}/${prefix}`, bulk.iamRole);
      const { Id } = await this.call(sqls[1], () =>
        this.client.send(
          new BatchExecuteStatementCommand({
            ...this.target,
            Sqls: sqls,
            StatementName: 'splitwatch-bulk-upsert-alerts',
          }),
        ),
      );
      await this.waitFor(Id, sqls[1]);
    } finally {
      await bulk.objectStore.delete(keys).catch(() => undefined);
    }
    return alerts.length;
  }

  /** Deletes the alerts run `runId` did not write, in one statement; Redshift reports the rows it deleted. */
  async retireAlerts(runId: string): Promise<number> {
    return this.execute(retireAlertsSql(runId).delete, 'splitwatch-retire-alerts');
  }

  /** DELETE statements in batches within the Data API's limits (each batch one transaction). */
  async deleteAlerts(alertIds: string[]): Promise<number> {
    const unique = [...new Set(alertIds)];
    for (const sqls of batchStatements(deleteAlertStatements(unique, STATEMENT_MAX_CHARS), 1)) {
      const { Id } = await this.call(sqls[0], () =>
        this.client.send(
          new BatchExecuteStatementCommand({
            ...this.target,
            Sqls: sqls,
            StatementName: 'splitwatch-delete-alerts',
          }),
        ),
      );
      await this.waitFor(Id, sqls[0]);
    }
    return unique.length;
  }

  /** One UPDATE; Redshift reports the rows it changed. */
  async restampAlerts(from: string, to: string, exceptMethod: string): Promise<number> {
    return this.execute(restampAlertsSql(from, to, exceptMethod).update, 'splitwatch-restamp-alerts');
  }

  async alertCounts(runId: string): Promise<{ total: number; ofRun: number }> {
    const sql = alertCountsSql(runId);
    const { Id } = await this.call(sql, () =>
      this.client.send(new ExecuteStatementCommand({ ...this.target, Sql: sql })),
    );
    const done = await this.waitFor(Id, sql);
    const page = await this.call(sql, () => this.client.send(new GetStatementResultCommand({ Id: done.Id })));
    const [fields] = page.Records ?? [];
    const row = fields ? toRecord(fields, page.ColumnMetadata ?? []) : {};
    return { total: Number(row.total ?? 0), ofRun: Number(row.of_run ?? 0) };
  }

  private async execute(sql: string, name: string): Promise<number> {
    const { Id } = await this.call(sql, () =>
      this.client.send(new ExecuteStatementCommand({ ...this.target, Sql: sql, StatementName: name })),
    );
    const done = await this.waitFor(Id, sql);
    return Math.max(0, done.ResultRows ?? 0);
  }

  async listAlerts(filter?: AlertFilter): Promise<Alert[]> {
    return (await this.select(selectAlertsSql(filter))).map(rowToAlert);
  }

  /** One statement; each page of its result (the Data API's pages, whatever `pageSize`) handed over as it comes. */
  async forEachAlertPage(
    filter: { runId?: string },
    _pageSize: number,
    onPage: (alerts: Alert[]) => Promise<void>,
  ): Promise<number> {
    let count = 0;
    await this.select(selectAlertsSql(filter), async (rows) => {
      count += rows.length;
      await onPage(rows.map(rowToAlert));
    });
    return count;
  }

  /** Two statements (the counts, the top alerts): a few hundred rows come back, not every alert. */
  async summarizeAlerts(options: AlertSummaryOptions): Promise<AlertSummary> {
    const sql = summarizeAlertsSql(options);
    return alertSummaryOf(await this.select(sql.counts), await this.select(sql.top), await this.select(sql.latest));
  }

  /** Runs a SELECT and reads every page of its result: returned, or handed to `onPage` page by page (then none kept). */
  private async select(
    sql: string,
    onPage?: (rows: Record<string, unknown>[]) => Promise<void>,
  ): Promise<Record<string, unknown>[]> {
    const { Id } = await this.call(sql, () =>
      this.client.send(new ExecuteStatementCommand({ ...this.target, Sql: sql })),
    );
    const done = await this.waitFor(Id, sql);
    if (done.HasResultSet === false) return [];

    const rows: Record<string, unknown>[] = [];
    let columns: ColumnMetadata[] | undefined;
    let token: string | undefined;
    do {
      const page = await this.call(sql, () =>
        this.client.send(new GetStatementResultCommand({ Id: done.Id, NextToken: token })),
      );
      if (!columns?.length) columns = page.ColumnMetadata ?? [];
      const records = (page.Records ?? []).map((fields) => toRecord(fields, columns!));
      if (onPage) {
        if (records.length > 0) await onPage(records);
      } else rows.push(...records);
      token = page.NextToken;
    } while (token);
    return rows;
  }

  async close(): Promise<void> {
    // The Data API holds no connection.
  }

  /** Polls DescribeStatement until the statement (or batch) finishes. */
  private async waitFor(
    id: string | undefined,
    sql: string,
  ): Promise<DescribeStatementResponse & { Id: string }> {
    if (!id)
      throw new ResultsStoreError(`Redshift Data API returned no statement id for: ${sqlSnippet(sql)}`);
    const done = await pollUntil(async () => {
      let statement: DescribeStatementResponse;
      try {
        statement = await this.client.send(new DescribeStatementCommand({ Id: id }));
      } catch (err) {
        // The statement keeps running while status checks are throttled: back off and ask again.
        if (isThrottlingError(err)) return undefined;
        throw this.mapError(err, sql);
      }
      switch (statement.Status) {
        case 'FINISHED':
          return { ...statement, Id: id };
        case 'FAILED': {
          // A failed batch may carry its reason only on the sub-statement that failed.
          const error =
            statement.Error ?? statement.SubStatements?.find((s) => s.Error)?.Error ?? 'no error text';
          const message = `Redshift statement ${id} failed: ${error} (SQL: ${sqlSnippet(sql)})`;
          throw SERIALIZATION_CONFLICT.test(error)
            ? new TransientError(message)
            : new ResultsStoreError(message);
        }
        case 'ABORTED':
          throw new ResultsStoreError(`Redshift statement ${id} was aborted (SQL: ${sqlSnippet(sql)})`);
        default:
          return undefined;
      }
    }, this.poll);
    if (done) return done;

    await this.client.send(new CancelStatementCommand({ Id: id })).catch(() => undefined);
    throw new TransientError(
      `Redshift statement ${id} did not finish within ${this.poll.timeoutMs} ms: ${sqlSnippet(sql)}`,
    );
  }

  private async call<T>(sql: string, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (err) {
      throw this.mapError(err, sql);
    }
  }

  private mapError(err: unknown, sql: string): Error {
    if (err instanceof SplitwatchError) return err;
    const message = `Redshift Data API ${describeAwsError(err)} (SQL: ${sqlSnippet(sql)})`;
    return isTransientAwsError(err)
      ? new TransientError(message, { cause: err })
      : new ResultsStoreError(message, { cause: err });
  }
}

/**
 * Groups statements into batches within the Data API's limits, `groupSize` at a time and never splitting a group
 * (2 for the DELETE + INSERT pairs of upsertAlertStatements).
 */
function batchStatements(statements: string[], groupSize: number): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (let i = 0; i < statements.length; i += groupSize) {
    const group = statements.slice(i, i + groupSize);
    const groupBytes = group.reduce((n, s) => n + Buffer.byteLength(s, 'utf8'), 0);
    if (
      current.length > 0 &&
      (bytes + groupBytes > MAX_REQUEST_SQL_BYTES || current.length + group.length > MAX_BATCH_STATEMENTS)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(...group);
    bytes += groupBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
