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
import {
  ALERTS_DDL,
  type Alert,
  type AlertSummary,
  type AlertSummaryOptions,
  ConfigError,
  type ResultsStore,
  alertCountsSql,
  alertSummaryOf,
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
    this.client = options.client;
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
   */
  async upsertAlerts(alerts: Alert[]): Promise<number> {
    const unique = [...new Map(alerts.map((a) => [a.alert_id, a])).values()];
    if (unique.length === 0) return 0;
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

  /** Deletes the alerts run `runId` did not write, in one statement; Redshift reports the rows it deleted. */
  async retireAlerts(runId: string): Promise<number> {
    return this.execute(retireAlertsSql(runId).delete, 'splitwatch-retire-alerts');
  }

  /** DELETE statements in batches within the Data API's limits (each batch one transaction). */
  async deleteAlerts(alertIds: string[]): Promise<number> {
    const unique = [...new Set(alertIds)];
    for (const sqls of batchStatements(deleteAlertStatements(unique, STATEMENT_MAX_CHARS), 1)) {
      const { Id } = await this.call(sqls[0], () =>
        this.client.send(new BatchExecuteStatementCommand({ ...this.target, Sqls: sqls, StatementName: 'splitwatch-delete-alerts' })),
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
    const { Id } = await this.call(sql, () => this.client.send(new ExecuteStatementCommand({ ...this.target, Sql: sql })));
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

  async listAlerts(filter?: { runId?: string; limit?: number }): Promise<Alert[]> {
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
    return alertSummaryOf(await this.select(sql.counts), await this.select(sql.top));
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
