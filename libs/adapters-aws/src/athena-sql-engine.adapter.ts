import {
  type AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type QueryExecution,
  type Row,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  ConfigError,
  QueryFailedError,
  SplitwatchError,
  TransientError,
  type SqlEngine,
  type TableDef,
} from '@splitwatch/core';
import { athenaResultRecords } from './athena-result-csv';
import { dropTableStatements, registerTableStatements, s3Location, unloadStatement } from './athena-ddl';
import { describeAwsError, isThrottlingError, isTransientAwsError, sqlSnippet } from './aws-errors';
import { pollSettings, pollUntil, type PollSettings } from './polling';
import { listS3Objects } from './s3-object-store.adapter';

/** Options of {@link AthenaSqlEngine}. */
export interface AthenaSqlEngineOptions {
  client: AthenaClient;
  /** Glue database the tables live in. */
  database: string;
  workGroup: string;
  /** Query result location; leave out when the workgroup enforces its own. */
  outputLocation?: string;
  /** Bucket holding the data layout (table prefixes and UNLOAD destinations). */
  dataBucket: string;
  /** First wait between status checks (default 250 ms); doubles up to `maxPollIntervalMs` (default 5 s). */
  pollIntervalMs?: number;
  maxPollIntervalMs?: number;
  /** Longest wait for one query (default 10 min); past it the query is stopped and TransientError raised. */
  timeoutMs?: number;
  /** Tables declared as Glue tables in CloudFormation; registerTable leaves them alone. */
  managedTables?: string[];
  sleep?: (ms: number) => Promise<void>;
  /**
   * Lists the files UNLOAD wrote (required by unload()); with it, stream() reads a SELECT's rows from its result file
   * in S3 rather than through GetQueryResults, 1,000 rows a request.
   */
  s3Client?: S3Client;
}

/** GetQueryResults returns at most 1000 rows per page. */
const MAX_PAGE_ROWS = 1000;

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'integer', 'int']);
const FLOAT_TYPES = new Set(['double', 'float', 'real']);

/**
 * Converts one Athena result value (always text on the wire) by its column type, as the SqlEngine port
 * promises: numbers, bigint beyond 2^53 as text, decimals as exact text, `YYYY-MM-DD HH:MM:SS` timestamps.
 */
export function athenaValue(value: string | undefined, type: string | undefined): unknown {
  if (value === undefined) return null;
  const base = (type ?? '')
    .toLowerCase()
    .replace(/\(.*?\)/g, '')
    .trim();
  if (INTEGER_TYPES.has(base) || FLOAT_TYPES.has(base)) return Number(value);
  if (base === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : value;
  }
  if (base === 'boolean') return value === 'true';
  if (base === 'timestamp') return value.replace(/\.0+$/, '');
  return value;
}

function toRecord(row: Row, columns: ColumnInfo[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  const data = row.Data ?? [];
  columns.forEach((c, i) => {
    record[c.Name ?? `_col${i}`] = athenaValue(data[i]?.VarCharValue, c.Type);
  });
  return record;
}

/** The bucket and key of a finished query's result file (`ResultConfiguration.OutputLocation`), if it is a `.csv`. */
function resultFileOf(execution: QueryExecution): { bucket: string; key: string } | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+\.csv)$/.exec(execution.ResultConfiguration?.OutputLocation ?? '');
  return m ? { bucket: m[1], key: m[2] } : undefined;
}

/**
 * SqlEngine on Amazon Athena. Each statement is started, then polled with exponential backoff; failed or
 * cancelled queries raise QueryFailedError with Athena's reason, throttling and retryable failures
 * TransientError. Tables are registered as external tables over the data bucket (see registerTable).
 *
 * @example
 * const engine = new AthenaSqlEngine({ client: new AthenaClient({}), database: 'splitwatch_dev',
 *   workGroup: 'splitwatch-dev', dataBucket: 'splitwatch-data-dev', s3Client });
 * const rows = await engine.query('SELECT count(*) AS n FROM curated_transactions');
 */
export class AthenaSqlEngine implements SqlEngine {
  readonly name = 'athena' as const;
  private readonly client: AthenaClient;
  private readonly options: AthenaSqlEngineOptions;
  private readonly poll: PollSettings;
  private readonly managed: Set<string>;
  /** Format of each table this engine registered, so dropTable removes exactly what was made. */
  private readonly registered = new Map<string, TableDef['format']>();

  constructor(options: AthenaSqlEngineOptions) {
    for (const key of ['database', 'workGroup', 'dataBucket'] as const) {
      if (!options[key]) throw new ConfigError(`AthenaSqlEngine needs ${key}`);
    }
    this.client = options.client;
    this.options = options;
    this.poll = pollSettings('AthenaSqlEngine', options, {
      pollIntervalMs: 250,
      maxPollIntervalMs: 5000,
      timeoutMs: 10 * 60_000,
    });
    this.managed = new Set(options.managedTables ?? []);
  }

  /**
   * Drops and recreates `def` so a changed definition takes effect; dropping an external table leaves its
   * data in S3. Tables listed in `managedTables` are skipped. CSV tables become `<name>_raw` plus a typed
   * view `<name>`.
   */
  async registerTable(def: TableDef): Promise<void> {
    if (this.managed.has(def.name)) return;
    for (const statement of registerTableStatements(def, this.options.dataBucket)) {
      await this.execute(statement);
    }
    this.registered.set(def.name, def.format);
  }

  /**
   * Drops the Glue table(s) behind `name` (a CSV table's view and `<name>_raw` too); the data in S3 stays.
   * Refuses the tables listed in `managedTables`, which belong to CloudFormation.
   */
  async dropTable(name: string): Promise<void> {
    if (this.managed.has(name)) throw new ConfigError(`Refusing to drop ${name}: it is managed by CloudFormation`);
    for (const statement of dropTableStatements(name, this.registered.get(name))) {
      await this.execute(statement);
    }
    this.registered.delete(name);
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    for await (const page of this.pages(sql, MAX_PAGE_ROWS)) rows.push(...page);
    return rows;
  }

  /**
   * Yields the rows in batches of `batchSize`. A SELECT's rows are read from its result file in S3 (one streamed
   * GetObject: at the real log's size a Detect slice is millions of rows, thousands of GetQueryResults requests),
   * converted by the column types as query() converts them; without an S3 client, or for a statement without a
   * result file, one batch per GetQueryResults page of up to `batchSize` (≤ 1000) rows.
   */
  async *stream(sql: string, batchSize = MAX_PAGE_ROWS): AsyncIterable<Record<string, unknown>[]> {
    const execution = await this.execute(sql);
    const file = this.options.s3Client && execution.StatementType === 'DML' ? resultFileOf(execution) : undefined;
    if (file) {
      yield* this.resultFileRows(execution, file, sql, Math.max(Math.floor(batchSize) || 1, 1));
      return;
    }
    const size = Math.min(Math.max(Math.floor(batchSize) || 1, 1), MAX_PAGE_ROWS);
    for await (const page of this.pagesOf(execution, sql, size)) {
      if (page.length > 0) yield page;
    }
  }

  /** The rows of a finished SELECT read from its result file, checked against its columns. */
  private async *resultFileRows(
    execution: QueryExecution,
    file: { bucket: string; key: string },
    sql: string,
    batchSize: number,
  ): AsyncGenerator<Record<string, unknown>[]> {
    const id = execution.QueryExecutionId as string;
    // The column types come with the first results page (one row asked for).
    const meta = await this.call(sql, () =>
      this.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1 })),
    );
    const columns = meta.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
    const textColumn = columns.map((c) => /^(varchar|char|string)/i.test(c.Type ?? ''));
    const where = `s3://${file.bucket}/${file.key}`;
    let body: AsyncIterable<Uint8Array>;
    try {
      const object = await (this.options.s3Client as S3Client).send(new GetObjectCommand({ Bucket: file.bucket, Key: file.key }));
      body = object.Body as unknown as AsyncIterable<Uint8Array>;
    } catch (err) {
      const message = `Reading the result file ${where} of Athena query ${id} failed: ${describeAwsError(err)}`;
      throw isTransientAwsError(err) ? new TransientError(message, { cause: err }) : new SplitwatchError(message, { cause: err });
    }
    let header = true;
    let rows: Record<string, unknown>[] = [];
    try {
      for await (const records of athenaResultRecords(body, batchSize)) {
        let from = 0;
        if (header) {
          header = false;
          from = 1;
          const names = records[0] ?? [];
          const expected = columns.map((c) => c.Name ?? '');
          if (names.length !== expected.length || names.some((n, i) => n !== expected[i])) {
            throw new Error(`its header ${JSON.stringify(names)} is not the query's columns ${JSON.stringify(expected)}`);
          }
        }
        for (let r = from; r < records.length; r++) {
          const fields = records[r];
          if (fields.length !== columns.length) throw new Error(`a row has ${fields.length} values for ${columns.length} columns`);
          // An empty value of a column that is not text can only be a NULL, however the file wrote it.
          const data = fields.map((v, i) => (v === null || (v === '' && !textColumn[i]) ? {} : { VarCharValue: v }));
          rows.push(toRecord({ Data: data }, columns));
          if (rows.length === batchSize) {
            yield rows;
            rows = [];
          }
        }
      }
      if (rows.length > 0) yield rows;
    } catch (err) {
      if (err instanceof SplitwatchError) throw err;
      const message = `Reading the result file ${where} of Athena query ${id} failed: ${err instanceof Error ? err.message : String(err)}`;
      throw isTransientAwsError(err) ? new TransientError(message, { cause: err }) : new SplitwatchError(message, { cause: err });
    }
  }

  /**
   * Runs `UNLOAD … WITH (format = 'PARQUET', compression = 'SNAPPY')` into `destPrefix` of the data bucket
   * and returns the keys written (relative to the bucket). Partition columns must come last in the SELECT.
   */
  async unload(
    selectSql: string,
    destPrefix: string,
    options?: { partitionBy?: string[] },
  ): Promise<string[]> {
    const s3 = this.options.s3Client;
    if (!s3)
      throw new ConfigError('AthenaSqlEngine.unload needs the s3Client option to list the files written');
    const statement = unloadStatement(selectSql, this.options.dataBucket, destPrefix, options?.partitionBy);
    await this.execute(statement);
    const prefix = s3Location(this.options.dataBucket, destPrefix).slice(
      `s3://${this.options.dataBucket}/`.length,
    );
    try {
      return (await listS3Objects(s3, this.options.dataBucket, prefix)).map((o) => o.key);
    } catch (err) {
      const message = `Listing the UNLOAD output s3://${this.options.dataBucket}/${prefix} failed: ${describeAwsError(err)}`;
      throw isTransientAwsError(err)
        ? new TransientError(message, { cause: err })
        : new SplitwatchError(message, { cause: err });
    }
  }

  private async *pages(sql: string, maxResults: number): AsyncGenerator<Record<string, unknown>[]> {
    yield* this.pagesOf(await this.execute(sql), sql, maxResults);
  }

  private async *pagesOf(execution: QueryExecution, sql: string, maxResults: number): AsyncGenerator<Record<string, unknown>[]> {
    const id = execution.QueryExecutionId as string;
    // Only SELECT-like (DML) results start with a header row; SHOW/DESCRIBE (DDL, UTILITY) do not.
    let skipHeader = execution.StatementType !== 'DDL' && execution.StatementType !== 'UTILITY';
    let columns: ColumnInfo[] | undefined;
    let token: string | undefined;
    do {
      const page = await this.call(sql, () =>
        this.client.send(
          new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: maxResults }),
        ),
      );
      columns ??= page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      let rows = page.ResultSet?.Rows ?? [];
      if (skipHeader) {
        rows = rows.slice(1);
        skipHeader = false;
      }
      const cols = columns;
      yield rows.map((r) => toRecord(r, cols));
      token = page.NextToken;
    } while (token);
  }

  /** Starts `sql` and waits for it to succeed; returns the final QueryExecution. */
  private async execute(sql: string): Promise<QueryExecution> {
    const { database, workGroup, outputLocation } = this.options;
    const started = await this.call(sql, () =>
      this.client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          QueryExecutionContext: { Database: database },
          WorkGroup: workGroup,
          ...(outputLocation ? { ResultConfiguration: { OutputLocation: outputLocation } } : {}),
        }),
      ),
    );
    const id = started.QueryExecutionId;
    if (!id) throw new QueryFailedError(`Athena returned no query id for: ${sqlSnippet(sql)}`);

    const done = await pollUntil(async () => {
      let execution: QueryExecution | undefined;
      try {
        ({ QueryExecution: execution } = await this.client.send(
          new GetQueryExecutionCommand({ QueryExecutionId: id }),
        ));
      } catch (err) {
        // The query keeps running while status checks are throttled: back off and ask again.
        if (isThrottlingError(err)) return undefined;
        throw this.mapError(err, sql);
      }
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') return { ...execution, QueryExecutionId: id };
      if (state === 'FAILED' || state === 'CANCELLED') throw this.failure(id, state, execution, sql);
      return undefined;
    }, this.poll);
    if (done) return done;

    // Stop the query so it does not keep scanning (and billing) after we give up; best effort.
    await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
    throw new TransientError(
      `Athena query ${id} did not finish within ${this.poll.timeoutMs} ms: ${sqlSnippet(sql)}`,
    );
  }

  private failure(id: string, state: string, execution: QueryExecution | undefined, sql: string): Error {
    const status = execution?.Status;
    const reason = status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'no reason given';
    const message = `Athena query ${id} ${state}: ${reason} (SQL: ${sqlSnippet(sql)})`;
    return status?.AthenaError?.Retryable ? new TransientError(message) : new QueryFailedError(message);
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
    const message = `Athena ${describeAwsError(err)} (SQL: ${sqlSnippet(sql)})`;
    return isTransientAwsError(err)
      ? new TransientError(message, { cause: err })
      : new QueryFailedError(message, { cause: err });
  }
}
