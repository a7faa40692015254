import {
  AthenaClient,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  InvalidRequestException,
  StartQueryExecutionCommand,
  type StatementType,
  StopQueryExecutionCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-athena';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { CURATED_COLUMNS, CURATED_PARTITION, SplitwatchError, STAGED_COLUMNS, TransientError, type TableDef } from '@splitwatch/core';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { AthenaSqlEngine, type AthenaSqlEngineOptions } from '../src';
import { awsError, recordingSleep } from './helpers';

const BUCKET = 'splitwatch-data-test';

const athenaClient = new AthenaClient({ region: 'us-east-1' });
const s3Client = new S3Client({ region: 'us-east-1' });
const athena = mockClient(athenaClient);
const s3 = mockClient(s3Client);

function engine(overrides: Partial<AthenaSqlEngineOptions> = {}) {
  const { sleep, calls: sleeps } = recordingSleep();
  const sql = new AthenaSqlEngine({
    client: athenaClient,
    s3Client,
    database: 'splitwatch_test',
    workGroup: 'splitwatch-test',
    outputLocation: 's3://splitwatch-athena-results/test/',
    dataBucket: BUCKET,
    pollIntervalMs: 100,
    maxPollIntervalMs: 400,
    sleep,
    ...overrides,
  });
  return { sql, sleeps };
}

/** Every query succeeds at once with the given id. */
function queriesSucceed(id = 'q-1', statementType: StatementType = 'DML') {
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: id });
  athena.on(GetQueryExecutionCommand).resolves({
    QueryExecution: { QueryExecutionId: id, StatementType: statementType, Status: { State: 'SUCCEEDED' } },
  });
}

function resultPage(
  columns: ColumnInfo[],
  rows: (string | undefined)[][],
  nextToken?: string,
): GetQueryResultsCommandOutput {
  return {
    $metadata: {},
    NextToken: nextToken,
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: columns },
      Rows: rows.map((r) => ({ Data: r.map((v) => (v === undefined ? {} : { VarCharValue: v })) })),
    },
  };
}

const startedQueries = () =>
  athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.QueryString ?? '');

describe('AthenaSqlEngine', () => {
  beforeEach(() => {
    athena.reset();
    s3.reset();
  });

  it('is named athena', () => {
    expect(engine().sql.name).toBe('athena');
  });

  describe('running a query', () => {
    it('starts the query in the database and workgroup, then polls with capped exponential backoff', async () => {
      // Prepare
      const { sql, sleeps } = engine();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-7' });
      athena
        .on(GetQueryExecutionCommand)
        .resolvesOnce({ QueryExecution: { Status: { State: 'QUEUED' } } })
        .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
        .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
        .resolvesOnce({ QueryExecution: { Status: { State: 'RUNNING' } } })
        .resolves({ QueryExecution: { StatementType: 'DML', Status: { State: 'SUCCEEDED' } } });
      athena
        .on(GetQueryResultsCommand)
        .resolves(resultPage([{ Name: 'n', Type: 'bigint' }], [['n'], ['42']]));

      // Act
      const rows = await sql.query('SELECT count(*) AS n FROM curated_transactions');

      // Assess
      expect(rows).toEqual([{ n: 42 }]);
      expect(athena).toHaveReceivedCommandWith(StartQueryExecutionCommand, {
        QueryString: 'SELECT count(*) AS n FROM curated_transactions',
        QueryExecutionContext: { Database: 'splitwatch_test' },
        WorkGroup: 'splitwatch-test',
        ResultConfiguration: { OutputLocation: 's3://splitwatch-athena-results/test/' },
      });
      expect(athena).toHaveReceivedCommandTimes(GetQueryExecutionCommand, 5);
      expect(athena).toHaveReceivedCommandWith(GetQueryExecutionCommand, { QueryExecutionId: 'q-7' });
      expect(sleeps).toEqual([100, 200, 400, 400]);
    });

    it('leaves the result location to the workgroup when none is configured', async () => {
      const { sql } = engine({ outputLocation: undefined });
      queriesSucceed();
      athena.on(GetQueryResultsCommand).resolves(resultPage([], [[]]));

      await sql.query('SELECT 1');

      expect(
        athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input.ResultConfiguration,
      ).toBeUndefined();
    });

    it('raises QueryFailedError with Athena’s reason and the query id when the query fails', async () => {
      const { sql } = engine();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-bad' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: {
          Status: {
            State: 'FAILED',
            StateChangeReason:
              "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.splitwatch_test.nope' does not exist",
            AthenaError: { ErrorCategory: 2, Retryable: false },
          },
        },
      });

      await expect(sql.query('SELECT * FROM nope')).rejects.toMatchObject({
        name: 'QueryFailedError',
        message:
          "Athena query q-bad FAILED: TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.splitwatch_test.nope' " +
          'does not exist (SQL: SELECT * FROM nope)',
      });
    });

    it('raises QueryFailedError when the query is cancelled', async () => {
      const { sql } = engine();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-c' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: { Status: { State: 'CANCELLED', StateChangeReason: 'Query cancelled by user' } },
      });

      await expect(sql.query('SELECT 1')).rejects.toMatchObject({
        name: 'QueryFailedError',
        message: expect.stringContaining('Athena query q-c CANCELLED: Query cancelled by user'),
      });
    });

    it('raises TransientError when Athena marks the failure as retryable', async () => {
      const { sql } = engine();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-r' });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: {
          Status: {
            State: 'FAILED',
            StateChangeReason: 'GENERIC_INTERNAL_ERROR: Encountered too many errors talking to a worker node',
            AthenaError: { ErrorCategory: 1, Retryable: true },
          },
        },
      });

      await expect(sql.query('SELECT 1')).rejects.toMatchObject({
        name: 'TransientError',
        message: expect.stringContaining('Athena query q-r FAILED: GENERIC_INTERNAL_ERROR'),
      });
    });

    it.each([
      ['TooManyRequestsException', new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} })],
      ['ThrottlingException', awsError('ThrottlingException', 400, 'Rate exceeded')],
    ])('raises TransientError when starting the query meets %s', async (_name, error) => {
      const { sql } = engine();
      athena.on(StartQueryExecutionCommand).rejects(error);

      await expect(sql.query('SELECT 1')).rejects.toMatchObject({ name: 'TransientError' });
    });

    it('raises QueryFailedError when Athena rejects the request', async () => {
      const { sql } = engine();
      athena
        .on(StartQueryExecutionCommand)
        .rejects(
          new InvalidRequestException({ message: 'Queries of this type are not supported', $metadata: {} }),
        );

      await expect(sql.query('VACUUM t')).rejects.toMatchObject({
        name: 'QueryFailedError',
        message: 'Athena InvalidRequestException: Queries of this type are not supported (SQL: VACUUM t)',
      });
    });

    it('keeps polling when status checks are throttled', async () => {
      const { sql, sleeps } = engine();
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-t' });
      athena
        .on(GetQueryExecutionCommand)
        .rejectsOnce(awsError('ThrottlingException'))
        .resolves({ QueryExecution: { StatementType: 'DML', Status: { State: 'SUCCEEDED' } } });
      athena
        .on(GetQueryResultsCommand)
        .resolves(resultPage([{ Name: 'x', Type: 'integer' }], [['x'], ['1']]));

      await expect(sql.query('SELECT 1 AS x')).resolves.toEqual([{ x: 1 }]);
      expect(sleeps).toEqual([100]);
    });

    it('stops the query and raises TransientError when it outlives the timeout', async () => {
      // Prepare
      const { sql, sleeps } = engine({ timeoutMs: 1000 });
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-slow' });
      athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
      athena.on(StopQueryExecutionCommand).resolves({});

      // Act
      const run = sql.query('SELECT * FROM curated_transactions');

      // Assess
      await expect(run).rejects.toMatchObject({
        name: 'TransientError',
        message: expect.stringContaining('Athena query q-slow did not finish within 1000 ms'),
      });
      expect(sleeps).toEqual([100, 200, 400, 300]);
      expect(athena).toHaveReceivedCommandWith(StopQueryExecutionCommand, { QueryExecutionId: 'q-slow' });
    });
  });

  describe('query results', () => {
    it('reads every results page and skips only the header row of the first', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed('q-p');
      const cols = [{ Name: 'user_id', Type: 'varchar' }];
      athena
        .on(GetQueryResultsCommand, { NextToken: undefined })
        .resolves(resultPage(cols, [['user_id'], ['u1'], ['u2']], 'tok-2'))
        .on(GetQueryResultsCommand, { NextToken: 'tok-2' })
        .resolves(resultPage(cols, [['u3'], ['u4']], 'tok-3'))
        .on(GetQueryResultsCommand, { NextToken: 'tok-3' })
        .resolves(resultPage(cols, [['user_id']]));

      // Act
      const rows = await sql.query('SELECT user_id FROM curated_transactions');

      // Assess: a later row equal to the header is data, not a header.
      expect(rows.map((r) => r.user_id)).toEqual(['u1', 'u2', 'u3', 'u4', 'user_id']);
      expect(athena).toHaveReceivedCommandTimes(GetQueryResultsCommand, 3);
      expect(athena).toHaveReceivedNthCommandWith(4, GetQueryResultsCommand, {
        QueryExecutionId: 'q-p',
        NextToken: 'tok-2',
        MaxResults: 1000,
      });
    });

    it('converts values by column type', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed();
      const columns: ColumnInfo[] = [
        { Name: 'i', Type: 'integer' },
        { Name: 's', Type: 'smallint' },
        { Name: 'small_big', Type: 'bigint' },
        { Name: 'huge_big', Type: 'bigint' },
        { Name: 'd', Type: 'double' },
        { Name: 'r', Type: 'real' },
        { Name: 'amount', Type: 'decimal', Precision: 24, Scale: 8 },
        { Name: 'flag', Type: 'boolean' },
        { Name: 'ts', Type: 'timestamp' },
        { Name: 'ts_ms', Type: 'timestamp' },
        { Name: 'day', Type: 'date' },
        { Name: 'name', Type: 'varchar' },
        { Name: 'missing', Type: 'varchar' },
        { Name: 'empty', Type: 'varchar' },
      ];
      athena
        .on(GetQueryResultsCommand)
        .resolves(
          resultPage(columns, [
            columns.map((c) => c.Name),
            [
              '7',
              '-3',
              '9007199254740991',
              '9007199254740993',
              '1.5E-4',
              '2.5',
              '12345678901234.12345678',
              'true',
              '2021-03-01 10:15:00.000',
              '2021-03-01 10:15:00.250',
              '2021-03-01',
              'DEBITO',
              undefined,
              '',
            ],
          ]),
        );

      // Act
      const [row] = await sql.query('SELECT …');

      // Assess
      expect(row).toEqual({
        i: 7,
        s: -3,
        small_big: 9007199254740991,
        huge_big: '9007199254740993',
        d: 0.00015,
        r: 2.5,
        amount: '12345678901234.12345678',
        flag: true,
        ts: '2021-03-01 10:15:00',
        ts_ms: '2021-03-01 10:15:00.250',
        day: '2021-03-01',
        name: 'DEBITO',
        missing: null,
        empty: '',
      });
    });

    it('keeps the first row of statements that return no header (DDL, SHOW)', async () => {
      const { sql } = engine();
      queriesSucceed('q-show', 'DDL');
      athena
        .on(GetQueryResultsCommand)
        .resolves(
          resultPage([{ Name: 'tab_name', Type: 'string' }], [['curated_transactions'], ['features']]),
        );

      const rows = await sql.query('SHOW TABLES');

      expect(rows).toEqual([{ tab_name: 'curated_transactions' }, { tab_name: 'features' }]);
    });

    it('streams one batch per results page of the requested size', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed('q-s');
      const cols = [{ Name: 'n', Type: 'integer' }];
      athena
        .on(GetQueryResultsCommand, { NextToken: undefined })
        .resolves(resultPage(cols, [['n'], ['1'], ['2']], 'tok-2'))
        .on(GetQueryResultsCommand, { NextToken: 'tok-2' })
        .resolves(resultPage(cols, [['3'], ['4'], ['5']]));

      // Act
      const batches: Record<string, unknown>[][] = [];
      for await (const batch of sql.stream('SELECT n FROM t', 3)) batches.push(batch);

      // Assess
      expect(batches).toEqual([
        [{ n: 1 }, { n: 2 }],
        [{ n: 3 }, { n: 4 }, { n: 5 }],
      ]);
      expect(athena).toHaveReceivedCommandWith(GetQueryResultsCommand, { MaxResults: 3 });
    });

    it('caps stream pages at 1000 rows', async () => {
      const { sql } = engine();
      queriesSucceed();
      athena.on(GetQueryResultsCommand).resolves(resultPage([{ Name: 'n', Type: 'integer' }], [['n']]));

      for await (const _batch of sql.stream('SELECT n FROM t', 50_000)) {
        // no rows
      }

      expect(athena).toHaveReceivedCommandWith(GetQueryResultsCommand, { MaxResults: 1000 });
    });
  });

  describe("streaming a SELECT from its result file in S3", () => {
    const FILE_KEY = 'test/q-f.csv';
    const columns: ColumnInfo[] = [
      { Name: 'tx_id', Type: 'varchar' },
      { Name: 'n_tx', Type: 'bigint' },
      { Name: 'amount', Type: 'decimal', Precision: 24, Scale: 8 },
      { Name: 'z_sum', Type: 'double' },
      { Name: 'ts', Type: 'timestamp' },
    ];
    const values: (string | undefined)[][] = [
      ['t1', '2', '10.50000000', '1.5', '2021-03-01 10:15:00.000'],
      ['t "2", with comma', '3', '7.00000000', undefined, '2021-03-01 10:16:00.000'],
      ['t3\nnext line', '1', '0.10000000', '-2.0E-4', '2021-03-02 00:00:00.000'],
      ['', '4', '1.00000000', undefined, '2021-03-02 00:00:01.500'],
    ];
    // As Athena writes it: every value quoted, quotes doubled, NULL as an empty unquoted field.
    const csv = (names: (string | undefined)[], rows: (string | undefined)[][]) =>
      [names, ...rows].map((r) => r.map((v) => (v === undefined ? '' : `"${v.replace(/"/g, '""')}"`)).join(',') + '\n').join('');
    const fileQuerySucceeds = (id = 'q-f', location = `s3://splitwatch-athena-results/${FILE_KEY}`) => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: id });
      athena.on(GetQueryExecutionCommand).resolves({
        QueryExecution: { QueryExecutionId: id, StatementType: 'DML', Status: { State: 'SUCCEEDED' }, ResultConfiguration: { OutputLocation: location } },
      });
    };
    const body = (text: string, chunk = 7) => {
      const bytes = Buffer.from(text);
      const parts: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
      return Readable.from(parts);
    };

    it('reads the rows with one GetObject, converted as the results pages convert them, in batches of the size asked for', async () => {
      const { sql } = engine();
      fileQuerySucceeds();
      athena.on(GetQueryResultsCommand).resolves(resultPage(columns, [columns.map((c) => c.Name)]));
      s3.on(GetObjectCommand).callsFake(() => ({ Body: body(csv(columns.map((c) => c.Name), values)) }));

      const batches: Record<string, unknown>[][] = [];
      for await (const batch of sql.stream('SELECT …', 3)) batches.push(batch);

      // The same records as the results pages give for the same values.
      const paged = engine({ s3Client: undefined }).sql;
      athena.on(GetQueryResultsCommand).resolves(resultPage(columns, [columns.map((c) => c.Name), ...values]));
      const viaPages = await paged.query('SELECT …');
      expect(batches.map((b) => b.length)).toEqual([3, 1]);
      expect(batches.flat()).toEqual(viaPages);
      expect(viaPages[1]).toMatchObject({ tx_id: 't "2", with comma', z_sum: null, n_tx: 3 });
      expect(viaPages[3]).toMatchObject({ tx_id: '', ts: '2021-03-02 00:00:01.500' });

      // A NULL number written as "" (quoted) is still a NULL, never 0; an empty text stays an empty text.
      s3.on(GetObjectCommand).callsFake(() => ({ Body: body(csv(columns.map((c) => c.Name), [['', '1', '1.00000000', '', '2021-03-02 00:00:00.000']]).replace(',,', ',"",')) }));
      const quotedNull: Record<string, unknown>[] = [];
      for await (const batch of sql.stream('SELECT …', 3)) quotedNull.push(...batch);
      expect(quotedNull).toEqual([{ tx_id: '', n_tx: 1, amount: '1.00000000', z_sum: null, ts: '2021-03-02 00:00:00' }]);
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, { Bucket: 'splitwatch-athena-results', Key: FILE_KEY });
      // Only the column types come through GetQueryResults.
      expect(athena.commandCalls(GetQueryResultsCommand)[0].args[0].input).toMatchObject({ QueryExecutionId: 'q-f', MaxResults: 1 });
    });

    it('refuses a file whose header is not the query\'s columns, naming the file', async () => {
      const { sql } = engine();
      fileQuerySucceeds();
      athena.on(GetQueryResultsCommand).resolves(resultPage(columns, [columns.map((c) => c.Name)]));
      s3.on(GetObjectCommand).callsFake(() => ({ Body: body(csv(['tx_id', 'other'], [['t1', '2']])) }));
      await expect(async () => {
        for await (const _ of sql.stream('SELECT …', 10)) {
          // nothing
        }
      }).rejects.toThrow(
        `Reading the result file s3://splitwatch-athena-results/${FILE_KEY} of Athena query q-f failed: its header ["tx_id","other"] is not the query's columns ["tx_id","n_tx","amount","z_sum","ts"]`,
      );
    });

    it('says which file it could not read, as a transient error when S3 throttles', async () => {
      const { sql } = engine();
      fileQuerySucceeds();
      athena.on(GetQueryResultsCommand).resolves(resultPage(columns, [columns.map((c) => c.Name)]));
      s3.on(GetObjectCommand).rejects(awsError('AccessDenied', 403));
      const drain = async () => {
        for await (const _ of sql.stream('SELECT …', 10)) {
          // nothing
        }
      };
      const denied = drain();
      await expect(denied).rejects.toThrow(`Reading the result file s3://splitwatch-athena-results/${FILE_KEY} of Athena query q-f failed: AccessDenied: AccessDenied from AWS`);
      await expect(denied).rejects.toBeInstanceOf(SplitwatchError);
      await expect(denied).rejects.not.toBeInstanceOf(TransientError);
      s3.on(GetObjectCommand).rejects(awsError('SlowDown', 503));
      await expect(drain()).rejects.toBeInstanceOf(TransientError);
    });

    it('pages through GetQueryResults without an S3 client, or for a statement with no result file', async () => {
      fileQuerySucceeds();
      athena.on(GetQueryResultsCommand).resolves(resultPage([{ Name: 'n', Type: 'integer' }], [['n'], ['1']]));
      const rows: Record<string, unknown>[] = [];
      for await (const batch of engine({ s3Client: undefined }).sql.stream('SELECT n FROM t', 10)) rows.push(...batch);
      expect(rows).toEqual([{ n: 1 }]);
      fileQuerySucceeds('q-f', 's3://splitwatch-athena-results/test/q-f.txt');
      for await (const batch of engine().sql.stream('SELECT n FROM t', 10)) rows.push(...batch);
      expect(rows).toEqual([{ n: 1 }, { n: 1 }]);
      expect(s3).toHaveReceivedCommandTimes(GetObjectCommand, 0);
    });
  });

  describe('registerTable', () => {
    it('creates a partitioned Parquet table with dt partition projection', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed('q-ddl', 'DDL');
      const def: TableDef = {
        name: 'curated_transactions',
        prefix: 'curated/transactions/',
        format: 'parquet',
        columns: CURATED_COLUMNS,
        partitionedBy: CURATED_PARTITION,
      };

      // Act
      await sql.registerTable(def);

      // Assess
      expect(startedQueries()).toEqual([
        'DROP TABLE IF EXISTS `curated_transactions`',
        [
          'CREATE EXTERNAL TABLE `curated_transactions` (',
          '  `tx_id` string,',
          '  `merchant_id` string,',
          '  `subsidiary` string,',
          '  `transaction_date` timestamp,',
          '  `account_number` string,',
          '  `user_id` string,',
          '  `transaction_amount` decimal(24,8),',
          '  `transaction_type` string,',
          '  `source_key` string,',
          '  `source_line` bigint',
          ')',
          'PARTITIONED BY (',
          '  `dt` string',
          ')',
          'STORED AS PARQUET',
          `LOCATION 's3://${BUCKET}/curated/transactions/'`,
          'TBLPROPERTIES (',
          "  'projection.enabled'='true',",
          "  'projection.dt.type'='date',",
          "  'projection.dt.format'='yyyy-MM-dd',",
          "  'projection.dt.range'='2000-01-01,NOW',",
          "  'projection.dt.interval'='1',",
          "  'projection.dt.interval.unit'='DAYS',",
          `  'storage.location.template'='s3://${BUCKET}/curated/transactions/dt=\${dt}/'`,
          ')',
        ].join('\n'),
      ]);
    });

    it('creates an unpartitioned Parquet table without table properties', async () => {
      const { sql } = engine();
      queriesSucceed();

      await sql.registerTable({
        name: 'scores',
        prefix: 'scores/run=r1',
        format: 'parquet',
        columns: [
          { name: 'score', type: 'DOUBLE' },
          { name: 'flagged', type: 'BOOLEAN' },
          { name: 'day', type: 'DATE' },
          { name: 'total', type: 'DECIMAL(38,8)' },
        ],
      });

      expect(startedQueries()[1]).toBe(
        [
          'CREATE EXTERNAL TABLE `scores` (',
          '  `score` double,',
          '  `flagged` boolean,',
          '  `day` date,',
          '  `total` decimal(38,8)',
          ')',
          'STORED AS PARQUET',
          `LOCATION 's3://${BUCKET}/scores/run=r1/'`,
        ].join('\n'),
      );
    });

    it('creates a CSV table as <name>_raw of strings plus a typed view <name>', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed();

      // Act
      await sql.registerTable({
        name: 'staged',
        prefix: 'staging/run=r1/',
        format: 'csv',
        columns: STAGED_COLUMNS,
      });

      // Assess
      const [drop, create, view] = startedQueries();
      expect(drop).toBe('DROP TABLE IF EXISTS `staged_raw`');
      expect(create).toBe(
        [
          'CREATE EXTERNAL TABLE `staged_raw` (',
          '  `tx_id` string,',
          '  `merchant_id` string,',
          '  `subsidiary` string,',
          '  `transaction_date` string,',
          '  `account_number` string,',
          '  `user_id` string,',
          '  `transaction_amount` string,',
          '  `transaction_type` string,',
          '  `source_key` string,',
          '  `source_line` string',
          ')',
          "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'",
          `WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='"', 'escapeChar'='\\\\')`,
          'STORED AS TEXTFILE',
          `LOCATION 's3://${BUCKET}/staging/run=r1/'`,
          'TBLPROPERTIES (',
          "  'skip.header.line.count'='1'",
          ')',
        ].join('\n'),
      );
      expect(view).toBe(
        [
          'CREATE OR REPLACE VIEW "staged" AS',
          'SELECT',
          `  NULLIF("tx_id", '') AS "tx_id",`,
          `  NULLIF("merchant_id", '') AS "merchant_id",`,
          `  NULLIF("subsidiary", '') AS "subsidiary",`,
          `  CAST(NULLIF("transaction_date", '') AS TIMESTAMP) AS "transaction_date",`,
          `  NULLIF("account_number", '') AS "account_number",`,
          `  NULLIF("user_id", '') AS "user_id",`,
          `  CAST(NULLIF("transaction_amount", '') AS DECIMAL(24,8)) AS "transaction_amount",`,
          `  NULLIF("transaction_type", '') AS "transaction_type",`,
          `  NULLIF("source_key", '') AS "source_key",`,
          `  CAST(NULLIF("source_line", '') AS BIGINT) AS "source_line"`,
          'FROM "staged_raw"',
        ].join('\n'),
      );
    });

    it('adds the partition columns to a partitioned CSV view and projects dt', async () => {
      const { sql } = engine();
      queriesSucceed();

      await sql.registerTable({
        name: 'raw_log',
        prefix: 'raw/',
        format: 'csv',
        columns: [{ name: '_id', type: 'VARCHAR' }],
        partitionedBy: [{ name: 'dt', type: 'VARCHAR' }],
      });

      const [, create, view] = startedQueries();
      expect(create).toContain("  'skip.header.line.count'='1',\n  'projection.enabled'='true',");
      expect(create).toContain(`'storage.location.template'='s3://${BUCKET}/raw/dt=\${dt}/'`);
      expect(view).toBe(
        `CREATE OR REPLACE VIEW "raw_log" AS\nSELECT\n  NULLIF("_id", '') AS "_id",\n  "dt"\nFROM "raw_log_raw"`,
      );
    });

    it('projects month partitions (month=yyyy-MM/) by month', async () => {
      const { sql } = engine();
      queriesSucceed();

      await sql.registerTable({
        name: 'features',
        prefix: 'features/windows/',
        format: 'parquet',
        columns: [{ name: 'n_tx', type: 'BIGINT' }],
        partitionedBy: [{ name: 'month', type: 'VARCHAR' }],
      });

      const statements = startedQueries();
      expect(statements).toHaveLength(2);
      expect(statements[1]).toContain(
        [
          "  'projection.month.type'='date',",
          "  'projection.month.format'='yyyy-MM',",
          "  'projection.month.range'='2000-01,NOW',",
          "  'projection.month.interval'='1',",
          "  'projection.month.interval.unit'='MONTHS',",
          `  'storage.location.template'='s3://${BUCKET}/features/windows/month=\${month}/'`,
        ].join('\n'),
      );
    });

    it('repairs partitions it cannot project', async () => {
      const { sql } = engine();
      queriesSucceed();

      await sql.registerTable({
        name: 'candidates',
        prefix: 'scores/',
        format: 'parquet',
        columns: [{ name: 'score', type: 'DOUBLE' }],
        partitionedBy: [{ name: 'run', type: 'VARCHAR' }],
      });

      const statements = startedQueries();
      expect(statements[1]).not.toContain('projection.enabled');
      expect(statements[2]).toBe('MSCK REPAIR TABLE `candidates`');
    });

    it('leaves tables managed by CloudFormation alone', async () => {
      const { sql } = engine({ managedTables: ['curated_transactions'] });

      await sql.registerTable({
        name: 'curated_transactions',
        prefix: 'curated/transactions/',
        format: 'parquet',
        columns: CURATED_COLUMNS,
      });

      expect(athena).not.toHaveReceivedAnyCommand();
    });

    it('rejects identifiers Glue cannot store before calling Athena', async () => {
      const { sql } = engine();

      await expect(
        sql.registerTable({
          name: 'bad-name',
          prefix: 'x/',
          format: 'parquet',
          columns: [{ name: 'a', type: 'VARCHAR' }],
        }),
      ).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringContaining('Invalid table name "bad-name"'),
      });
      expect(athena).not.toHaveReceivedAnyCommand();
    });
  });

  describe('dropTable', () => {
    it('drops the view and the raw table of a CSV table it registered', async () => {
      const { sql } = engine();
      queriesSucceed();
      await sql.registerTable({ name: 'staged_r1', prefix: 'staging/run=r1/', format: 'csv', columns: STAGED_COLUMNS });
      athena.resetHistory();

      await sql.dropTable('staged_r1');

      expect(startedQueries()).toEqual(['DROP VIEW IF EXISTS "staged_r1"', 'DROP TABLE IF EXISTS `staged_r1_raw`']);
    });

    it('drops the external table of a Parquet table it registered', async () => {
      const { sql } = engine();
      queriesSucceed();
      await sql.registerTable({ name: 'classified_r1', prefix: 'staging/c/', format: 'parquet', columns: CURATED_COLUMNS });
      athena.resetHistory();

      await sql.dropTable('classified_r1');

      expect(startedQueries()).toEqual(['DROP TABLE IF EXISTS `classified_r1`']);
    });

    it('drops both possible tables of a name registered elsewhere', async () => {
      const { sql } = engine();
      queriesSucceed();

      await sql.dropTable('raw_r1_abc');

      expect(startedQueries()).toEqual(['DROP TABLE IF EXISTS `raw_r1_abc`', 'DROP TABLE IF EXISTS `raw_r1_abc_raw`']);
    });

    it('refuses to drop a table managed by CloudFormation', async () => {
      const { sql } = engine({ managedTables: ['transactions'] });

      await expect(sql.dropTable('transactions')).rejects.toMatchObject({ name: 'ConfigError' });
      expect(athena).not.toHaveReceivedAnyCommand();
    });
  });

  describe('unload', () => {
    it('unloads to partitioned Parquet and returns every key written', async () => {
      // Prepare
      const { sql } = engine();
      queriesSucceed('q-unload');
      s3.on(ListObjectsV2Command, { ContinuationToken: undefined })
        .resolves({
          IsTruncated: true,
          NextContinuationToken: 'p2',
          Contents: [{ Key: 'features/windows/dt=2021-01-02/q_2', Size: 9 }],
        })
        .on(ListObjectsV2Command, { ContinuationToken: 'p2' })
        .resolves({ IsTruncated: false, Contents: [{ Key: 'features/windows/dt=2021-01-01/q_1', Size: 9 }] });

      // Act
      const keys = await sql.unload('SELECT user_id, n, dt FROM windows;', 'features/windows', {
        partitionBy: ['dt'],
      });

      // Assess
      expect(startedQueries()).toEqual([
        `UNLOAD (SELECT user_id, n, dt FROM windows) TO 's3://${BUCKET}/features/windows/' ` +
          `WITH (format = 'PARQUET', compression = 'SNAPPY', partitioned_by = ARRAY['dt'])`,
      ]);
      expect(s3).toHaveReceivedCommandWith(ListObjectsV2Command, {
        Bucket: BUCKET,
        Prefix: 'features/windows/',
      });
      expect(keys).toEqual(['features/windows/dt=2021-01-01/q_1', 'features/windows/dt=2021-01-02/q_2']);
    });

    it('unloads without partitions', async () => {
      const { sql } = engine();
      queriesSucceed();
      s3.on(ListObjectsV2Command).resolves({
        IsTruncated: false,
        Contents: [{ Key: 'scores/run=r1/part', Size: 1 }],
      });

      await expect(sql.unload('SELECT 1 AS x', 'scores/run=r1/')).resolves.toEqual(['scores/run=r1/part']);
      expect(startedQueries()[0]).toBe(
        `UNLOAD (SELECT 1 AS x) TO 's3://${BUCKET}/scores/run=r1/' WITH (format = 'PARQUET', compression = 'SNAPPY')`,
      );
    });

    it('needs an S3 client to list what it wrote', async () => {
      const { sql } = engine({ s3Client: undefined });

      await expect(sql.unload('SELECT 1', 'x/')).rejects.toMatchObject({ name: 'ConfigError' });
      expect(athena).not.toHaveReceivedAnyCommand();
    });
  });

  it('rejects non-positive polling settings', () => {
    expect(() => engine({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
  });
});
