import {
  ActiveStatementsExceededException,
  BatchExecuteStatementCommand,
  CancelStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  GetStatementResultCommand,
  RedshiftDataClient,
  ValidationException,
} from '@aws-sdk/client-redshift-data';
import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ALERTS_DDL, type Alert, selectAlertsSql, summarizeAlertsSql } from '@splitwatch/core';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { gunzipSync } from 'node:zlib';
import { RedshiftDataResultsStore, S3ObjectStore, type RedshiftDataResultsStoreOptions } from '../src';
import { alertsCsv } from '../src/redshift-data-results-store.adapter';
import { awsError, recordingSleep } from './helpers';

const client = new RedshiftDataClient({ region: 'us-east-1' });
const redshift = mockClient(client);

function store(overrides: Partial<RedshiftDataResultsStoreOptions> = {}) {
  const { sleep, calls: sleeps } = recordingSleep();
  const results = new RedshiftDataResultsStore({
    client,
    database: 'splitwatch',
    workgroupName: 'splitwatch-test',
    pollIntervalMs: 100,
    maxPollIntervalMs: 400,
    sleep,
    ...overrides,
  });
  return { results, sleeps };
}

function alert(n: number, overrides: Partial<Alert> = {}): Alert {
  return {
    alert_id: `a${String(n).padStart(4, '0')}`,
    run_id: 'run-1',
    method: 'rule:sum',
    entity_type: 'account',
    user_id: 'u1',
    account_number: 'acc-1',
    merchant_id: null,
    direction: 'DEBITO',
    window_start: '2021-03-01 10:00:00',
    window_end: '2021-03-01 18:30:00',
    n_tx: 3,
    total_amount: '3566.67300600',
    score: 0.91,
    threshold: 0.5,
    reasons: "sum 3566.67 ≥ 3000 in 24 h; a part equals the account's cap",
    transaction_ids: ['t1', 't2', 't3'],
    ...overrides,
  };
}

/** Every statement is accepted with `id` and finishes at the first status check. */
function statementsFinish(id = 'st-1', hasResultSet = false) {
  redshift.on(ExecuteStatementCommand).resolves({ Id: id });
  redshift.on(BatchExecuteStatementCommand).resolves({ Id: id });
  redshift.on(DescribeStatementCommand).resolves({ Id: id, Status: 'FINISHED', HasResultSet: hasResultSet });
}

const batchSqls = () =>
  redshift.commandCalls(BatchExecuteStatementCommand).map((c) => c.args[0].input.Sqls ?? []);

describe('RedshiftDataResultsStore', () => {
  beforeEach(() => redshift.reset());

  describe('configuration', () => {
    it.each([
      ['neither', {}],
      ['both', { workgroupName: 'wg', clusterIdentifier: 'cluster-1' }],
    ])('needs exactly one of workgroupName and clusterIdentifier (%s given)', (_case, target) => {
      expect(() => new RedshiftDataResultsStore({ client, database: 'db', ...target })).toThrow(
        expect.objectContaining({
          name: 'ConfigError',
          message: 'RedshiftDataResultsStore needs exactly one of workgroupName and clusterIdentifier',
        }),
      );
    });

    it('rejects dbUser with a Serverless workgroup', () => {
      expect(() => store({ dbUser: 'splitwatch' })).toThrow(expect.objectContaining({ name: 'ConfigError' }));
    });

    it('is named redshift and closes without calls', async () => {
      const { results } = store();

      await results.close();

      expect(results.name).toBe('redshift');
      expect(redshift).not.toHaveReceivedAnyCommand();
    });
  });

  describe('ensureSchema', () => {
    it('runs the alerts DDL on the workgroup and polls until it finishes', async () => {
      // Prepare
      const { results, sleeps } = store();
      redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-ddl' });
      redshift
        .on(DescribeStatementCommand)
        .resolvesOnce({ Status: 'SUBMITTED' })
        .resolvesOnce({ Status: 'PICKED' })
        .resolvesOnce({ Status: 'STARTED' })
        .resolvesOnce({ Status: 'STARTED' })
        .resolves({ Status: 'FINISHED' });

      // Act
      await results.ensureSchema();

      // Assess
      expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        Sql: ALERTS_DDL,
        Database: 'splitwatch',
        WorkgroupName: 'splitwatch-test',
      });
      expect(redshift).toHaveReceivedCommandTimes(DescribeStatementCommand, 5);
      expect(redshift).toHaveReceivedCommandWith(DescribeStatementCommand, { Id: 'st-ddl' });
      expect(sleeps).toEqual([100, 200, 400, 400]);
    });

    it('addresses a provisioned cluster with its secret or database user', async () => {
      const { results } = store({
        workgroupName: undefined,
        clusterIdentifier: 'splitwatch-cluster',
        secretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:rs',
        dbUser: 'splitwatch',
      });
      statementsFinish();

      await results.ensureSchema();

      const input = redshift.commandCalls(ExecuteStatementCommand)[0].args[0].input;
      expect(input).toMatchObject({
        Database: 'splitwatch',
        ClusterIdentifier: 'splitwatch-cluster',
        SecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:rs',
        DbUser: 'splitwatch',
      });
      expect(input.WorkgroupName).toBeUndefined();
    });
  });

  describe('upsertAlerts', () => {
    it('replaces alerts by id with DELETE + INSERT in one batch transaction', async () => {
      // Prepare
      const { results } = store();
      statementsFinish('st-up');

      // Act
      const written = await results.upsertAlerts([alert(1), alert(2)]);

      // Assess
      expect(written).toBe(2);
      const [sqls] = batchSqls();
      expect(sqls).toHaveLength(2);
      expect(sqls[0]).toBe("DELETE FROM splitwatch_alerts WHERE alert_id IN ('a0001', 'a0002')");
      expect(sqls[1]).toMatch(
        /^INSERT INTO splitwatch_alerts \(alert_id, run_id, .*transaction_ids\) VALUES /,
      );
      expect(sqls[1]).toContain("equals the account''s cap', 't1;t2;t3')");
      expect(redshift).toHaveReceivedCommandWith(BatchExecuteStatementCommand, {
        WorkgroupName: 'splitwatch-test',
        Database: 'splitwatch',
      });
      expect(redshift).toHaveReceivedCommandWith(DescribeStatementCommand, { Id: 'st-up' });
    });

    it('retires the alerts the run did not write in one DELETE, and returns the rows Redshift deleted', async () => {
      // Prepare
      const { results } = store();
      redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-retire' });
      redshift
        .on(DescribeStatementCommand)
        .resolves({ Id: 'st-retire', Status: 'FINISHED', HasResultSet: false, ResultRows: 7 });

      // Act
      const retired = await results.retireAlerts("run-'2");

      // Assess
      expect(retired).toBe(7);
      expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        WorkgroupName: 'splitwatch-test',
        Database: 'splitwatch',
        Sql: "DELETE FROM splitwatch_alerts WHERE run_id <> 'run-''2'",
      });
      expect(redshift).toHaveReceivedCommandWith(DescribeStatementCommand, { Id: 'st-retire' });
    });

    it('deletes alerts by id in a batch, moves a run’s alerts in one UPDATE and reads the counts', async () => {
      // Prepare
      const { results } = store();
      redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-1' });
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-2' });
      redshift
        .on(DescribeStatementCommand)
        .resolves({ Id: 'st-1', Status: 'FINISHED', HasResultSet: true, ResultRows: 5 });
      redshift.on(GetStatementResultCommand).resolves({
        ColumnMetadata: [{ name: 'total' }, { name: 'of_run' }],
        Records: [[{ longValue: 9 }, { longValue: 7 }]],
      });

      // Act
      const deleted = await results.deleteAlerts(['a1', 'a2', 'a1']);
      const moved = await results.restampAlerts('run-1', 'run-2', 'ensemble');
      const counts = await results.alertCounts('run-1');

      // Assess
      expect(deleted).toBe(2);
      expect(batchSqls()).toEqual([["DELETE FROM splitwatch_alerts WHERE alert_id IN ('a1', 'a2')"]]);
      expect(moved).toBe(5);
      expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        Sql: "UPDATE splitwatch_alerts SET run_id = 'run-2' WHERE run_id = 'run-1' AND method <> 'ensemble'",
      });
      expect(counts).toEqual({ total: 9, ofRun: 7 });
      expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        Sql: "SELECT COUNT(*) AS total, SUM(CASE WHEN run_id = 'run-1' THEN 1 ELSE 0 END) AS of_run FROM splitwatch_alerts",
      });
    });

    it('splits a large delete into batches under the Data API limits', async () => {
      const { results } = store();
      statementsFinish('st-del');
      const ids = Array.from({ length: 20_000 }, (_, i) => `alert-${String(i).padStart(26, '0')}`);

      expect(await results.deleteAlerts(ids)).toBe(20_000);

      const batches = batchSqls();
      expect(batches.length).toBeGreaterThan(1);
      for (const sqls of batches) {
        expect(sqls.length).toBeLessThanOrEqual(40);
        expect(sqls.reduce((n, q) => n + Buffer.byteLength(q, 'utf8'), 0)).toBeLessThanOrEqual(100_000);
      }
      expect(
        batches
          .flat()
          .join(' ')
          .match(/'alert-/g),
      ).toHaveLength(20_000);
    });

    it('writes each alert id once, keeping the last of duplicates', async () => {
      const { results } = store();
      statementsFinish();

      const written = await results.upsertAlerts([alert(1, { score: 0.1 }), alert(1, { score: 0.7 })]);

      expect(written).toBe(1);
      const [[, insert]] = batchSqls();
      expect(insert).toContain(', 0.7, ');
      expect(insert).not.toContain(', 0.1, ');
    });

    it('splits large upserts into batches under the Data API limits without splitting a pair', async () => {
      // Prepare: ~1.3 kB per alert, ~520 kB in all.
      const { results } = store();
      statementsFinish();
      const ids = Array.from({ length: 40 }, (_, i) => `${'f'.repeat(30)}${String(i).padStart(2, '0')}`);
      const alerts = Array.from({ length: 400 }, (_, i) => alert(i, { transaction_ids: ids }));

      // Act
      const written = await results.upsertAlerts(alerts);

      // Assess
      const batches = batchSqls();
      expect(written).toBe(400);
      expect(batches.length).toBeGreaterThan(5);
      for (const sqls of batches) {
        expect(sqls.length % 2).toBe(0);
        expect(sqls.length).toBeLessThanOrEqual(40);
        expect(sqls.reduce((n, s) => n + Buffer.byteLength(s), 0)).toBeLessThanOrEqual(100_000);
        sqls.forEach((s, i) => expect(s.startsWith(i % 2 === 0 ? 'DELETE' : 'INSERT')).toBe(true));
      }
      const deleted = batches
        .flat()
        .filter((s) => s.startsWith('DELETE'))
        .join(' ');
      expect(deleted.match(/'a\d{4}'/g)).toHaveLength(400);
      expect(redshift).toHaveReceivedCommandTimes(DescribeStatementCommand, batches.length);
    });

    it('sends nothing for no alerts', async () => {
      const { results } = store();

      await expect(results.upsertAlerts([])).resolves.toBe(0);
      expect(redshift).not.toHaveReceivedAnyCommand();
    });

    it('raises ResultsStoreError with Redshift’s error text when the batch fails', async () => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-f' });
      redshift.on(DescribeStatementCommand).resolves({
        Status: 'FAILED',
        Error: 'ERROR: value too long for type character varying(64)',
      });

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({
        name: 'ResultsStoreError',
        message: expect.stringMatching(
          /^Redshift statement st-f failed: ERROR: value too long for type character varying\(64\) \(SQL: DELETE FROM/,
        ),
      });
    });

    it('takes the failure reason from the failed sub-statement of a batch', async () => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-b' });
      redshift.on(DescribeStatementCommand).resolves({
        Status: 'FAILED',
        SubStatements: [
          { Id: 'st-b:1', Status: 'FINISHED' },
          { Id: 'st-b:2', Status: 'FAILED', Error: 'ERROR: relation "splitwatch_alerts" does not exist' },
        ],
      });

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({
        name: 'ResultsStoreError',
        message: expect.stringContaining('relation "splitwatch_alerts" does not exist'),
      });
    });

    it('raises TransientError on a serialization conflict with a concurrent writer', async () => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-s' });
      redshift.on(DescribeStatementCommand).resolves({
        Status: 'FAILED',
        Error:
          'ERROR: 1023 DETAIL: Serializable isolation violation on table - 123, transactions forming the cycle are: 1, 2',
      });

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({ name: 'TransientError' });
    });

    it('raises ResultsStoreError when the statement is aborted', async () => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-x' });
      redshift.on(DescribeStatementCommand).resolves({ Status: 'ABORTED' });

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({
        name: 'ResultsStoreError',
        message: expect.stringContaining('Redshift statement st-x was aborted'),
      });
    });

    it.each([
      ['ThrottlingException', awsError('ThrottlingException', 400, 'Rate exceeded')],
      [
        'ActiveStatementsExceededException',
        new ActiveStatementsExceededException({
          message: 'Active statements exceeded the allowed quota',
          $metadata: {},
        }),
      ],
    ])('raises TransientError when submitting meets %s', async (_name, error) => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).rejects(error);

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({ name: 'TransientError' });
    });

    it('raises ResultsStoreError when the Data API rejects the request', async () => {
      const { results } = store();
      redshift.on(BatchExecuteStatementCommand).rejects(
        new ValidationException({
          message: 'Cannot process query string larger than 100kB',
          $metadata: {},
        }),
      );

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({
        name: 'ResultsStoreError',
        message: expect.stringContaining(
          'ValidationException: Cannot process query string larger than 100kB',
        ),
      });
    });

    it('cancels the statement and raises TransientError when it outlives the timeout', async () => {
      const { results, sleeps } = store({ timeoutMs: 1000 });
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-slow' });
      redshift.on(DescribeStatementCommand).resolves({ Status: 'STARTED' });
      redshift.on(CancelStatementCommand).resolves({ Status: true });

      await expect(results.upsertAlerts([alert(1)])).rejects.toMatchObject({
        name: 'TransientError',
        message: expect.stringContaining('Redshift statement st-slow did not finish within 1000 ms'),
      });
      expect(sleeps).toEqual([100, 200, 400, 300]);
      expect(redshift).toHaveReceivedCommandWith(CancelStatementCommand, { Id: 'st-slow' });
    });

    it('keeps polling when status checks are throttled', async () => {
      const { results, sleeps } = store();
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-t' });
      redshift
        .on(DescribeStatementCommand)
        .rejectsOnce(awsError('ThrottlingException'))
        .resolves({ Status: 'FINISHED' });

      await expect(results.upsertAlerts([alert(1)])).resolves.toBe(1);
      expect(sleeps).toEqual([100]);
    });
  });

  describe('bulk load through S3 (COPY)', () => {
    const s3Client = new S3Client({ region: 'us-east-1' });
    const s3 = mockClient(s3Client);
    const bulkLoad = () => ({
      objectStore: new S3ObjectStore({ client: s3Client, bucket: 'data-bucket' }),
      bucket: 'data-bucket',
      iamRole: 'arn:aws:iam::123456789012:role/splitwatch-dev-redshift-copy',
      minAlerts: 3,
    });
    const puts = () =>
      s3.commandCalls(PutObjectCommand).map((c) => ({
        key: c.args[0].input.Key!,
        csv: gunzipSync(c.args[0].input.Body as Uint8Array).toString('utf8'),
      }));

    beforeEach(() => {
      s3.reset();
      s3.on(PutObjectCommand).resolves({});
      s3.on(DeleteObjectsCommand).resolves({});
    });

    it('stages the alerts as gzip CSV, loads and merges them in one batch, then deletes the staged object', async () => {
      statementsFinish();
      const { results } = store({ bulkLoad: bulkLoad() });

      expect(await results.upsertAlerts([alert(1), alert(2), alert(3)])).toBe(3);

      const [put] = puts();
      expect(put.key).toMatch(/^staging\/sink\/[0-9a-f-]{36}\/part-00000\.csv\.gz$/);
      expect(put.csv.trim().split('\n')).toHaveLength(3);
      expect(redshift).toHaveReceivedCommandTimes(BatchExecuteStatementCommand, 1);
      const sqls = redshift.commandCalls(BatchExecuteStatementCommand)[0].args[0].input.Sqls!;
      const prefix = put.key.replace(/00000\.csv\.gz$/, '');
      expect(sqls).toEqual([
        expect.stringMatching(
          /^CREATE TEMP TABLE splitwatch_alerts_load \(alert_id VARCHAR\(64\), run_id VARCHAR\(64\),.* reasons VARCHAR\(4096\), transaction_ids VARCHAR\(65535\)\)$/,
        ),
        `COPY splitwatch_alerts_load (alert_id, run_id, method, entity_type, user_id, account_number, merchant_id, direction, window_start, window_end, n_tx, total_amount, score, threshold, reasons, transaction_ids) FROM 's3://data-bucket/${prefix}' IAM_ROLE 'arn:aws:iam::123456789012:role/splitwatch-dev-redshift-copy' FORMAT AS CSV GZIP NULL AS '\\0'`,
        'DELETE FROM splitwatch_alerts USING splitwatch_alerts_load WHERE splitwatch_alerts.alert_id = splitwatch_alerts_load.alert_id',
        expect.stringContaining(
          "SELECT alert_id, run_id, method, entity_type, user_id, NULLIF(account_number, ''), NULLIF(merchant_id, ''), direction, CAST(window_start AS TIMESTAMP), CAST(window_end AS TIMESTAMP), CAST(n_tx AS INTEGER), CAST(total_amount AS DECIMAL(24,8)), CAST(score AS DOUBLE PRECISION), CAST(threshold AS DOUBLE PRECISION), reasons, transaction_ids FROM splitwatch_alerts_load",
        ),
      ]);
      expect(s3).toHaveReceivedCommandWith(DeleteObjectsCommand, {
        Bucket: 'data-bucket',
        Delete: { Objects: [{ Key: put.key }], Quiet: true },
      });
    });

    it('writes every field quoted, quotes doubled, line breaks kept inside quotes, NULL ids as empty text', () => {
      const csv = alertsCsv([
        alert(1, {
          reasons: 'a "quoted", split\nreason; \\N is text',
          merchant_id: null,
          account_number: null,
          transaction_ids: ['t,1', 't"2'],
          score: 1e-7,
        }),
      ]);

      expect(csv).toBe(
        '"a0001","run-1","rule:sum","account","u1","","","DEBITO","2021-03-01 10:00:00","2021-03-01 18:30:00","3",' +
          '"3566.67300600","1e-7","0.5","a ""quoted"", split\nreason; \\N is text","t,1;t""2"\n',
      );
      expect(() => alertsCsv([alert(2, { score: Number.POSITIVE_INFINITY })])).toThrow(
        /non-finite number Infinity .*score of alert a0002/,
      );
    });

    it('stages large upserts in parts under one prefix that one COPY reads', async () => {
      statementsFinish();
      const { results } = store({ bulkLoad: bulkLoad() });
      const many = Array.from({ length: 120_001 }, (_, i) => alert(i));

      expect(await results.upsertAlerts(many)).toBe(120_001);

      const keys = puts().map((p) => p.key);
      expect(keys.map((k) => k.slice(-17))).toEqual([
        'part-00000.csv.gz',
        'part-00001.csv.gz',
        'part-00002.csv.gz',
      ]);
      expect(new Set(keys.map((k) => k.slice(0, -17))).size).toBe(1);
      expect(redshift).toHaveReceivedCommandTimes(BatchExecuteStatementCommand, 1);
      expect(s3.commandCalls(DeleteObjectsCommand)[0].args[0].input.Delete!.Objects).toHaveLength(3);
    });

    it('deletes the staged object when the load fails, and reports Redshift’s error', async () => {
      redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-1' });
      redshift.on(DescribeStatementCommand).resolves({
        Id: 'st-1',
        Status: 'FAILED',
        Error: 'Load into table splitwatch_alerts_load failed. Check stl_load_errors.',
      });
      const { results } = store({ bulkLoad: bulkLoad() });

      await expect(results.upsertAlerts([alert(1), alert(2), alert(3)])).rejects.toThrow(
        /stl_load_errors.*SQL: COPY/,
      );
      expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
    });

    it('sends smaller upserts as SQL statements, and uses the namespace default role when told', async () => {
      statementsFinish();
      const { results } = store({ bulkLoad: { ...bulkLoad(), iamRole: 'default' } });

      await results.upsertAlerts([alert(1), alert(2)]);
      expect(s3).toHaveReceivedCommandTimes(PutObjectCommand, 0);
      expect(redshift.commandCalls(BatchExecuteStatementCommand)[0].args[0].input.Sqls![0]).toMatch(
        /^DELETE FROM splitwatch_alerts WHERE alert_id IN/,
      );

      await results.upsertAlerts([alert(1), alert(2), alert(3)]);
      expect(redshift.commandCalls(BatchExecuteStatementCommand)[1].args[0].input.Sqls![1]).toMatch(
        /IAM_ROLE default FORMAT AS CSV/,
      );
    });

    it('needs the IAM role COPY reads with', () => {
      expect(() => store({ bulkLoad: { ...bulkLoad(), iamRole: '' } })).toThrow(
        /bulkLoad needs the IAM role/,
      );
    });
  });

  describe('listAlerts', () => {
    const columns = [
      'alert_id',
      'run_id',
      'method',
      'entity_type',
      'user_id',
      'account_number',
      'merchant_id',
      'direction',
      'window_start',
      'window_end',
      'n_tx',
      'total_amount',
      'score',
      'threshold',
      'reasons',
      'transaction_ids',
    ].map((name) => ({ name, label: name, typeName: 'varchar' }));

    function record(a: Alert) {
      return [
        { stringValue: a.alert_id },
        { stringValue: a.run_id },
        { stringValue: a.method },
        { stringValue: a.entity_type },
        { stringValue: a.user_id },
        a.account_number === null ? { isNull: true } : { stringValue: a.account_number },
        a.merchant_id === null ? { isNull: true } : { stringValue: a.merchant_id },
        { stringValue: a.direction },
        { stringValue: a.window_start },
        { stringValue: a.window_end },
        { longValue: a.n_tx },
        { stringValue: a.total_amount },
        { doubleValue: a.score },
        { doubleValue: a.threshold },
        { stringValue: a.reasons },
        { stringValue: a.transaction_ids.join(';') },
      ];
    }

    it('selects the alerts of a run and reads every result page', async () => {
      // Prepare
      const { results } = store();
      statementsFinish('st-sel', true);
      const first = alert(1, { score: 0.95 });
      const second = alert(2, { merchant_id: 'm1', account_number: null, entity_type: 'user_merchant' });
      const third = alert(3, { transaction_ids: [] });
      redshift
        .on(GetStatementResultCommand, { NextToken: undefined })
        .resolves({
          ColumnMetadata: columns,
          Records: [record(first), record(second)],
          NextToken: 'n2',
          TotalNumRows: 3,
        })
        .on(GetStatementResultCommand, { NextToken: 'n2' })
        .resolves({ ColumnMetadata: columns, Records: [record(third)], TotalNumRows: 3 });

      // Act
      const alerts = await results.listAlerts({ runId: 'run-1', limit: 10 });

      // Assess
      expect(alerts).toEqual([first, second, third]);
      expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
        Sql: selectAlertsSql({ runId: 'run-1', limit: 10 }),
        WorkgroupName: 'splitwatch-test',
        Database: 'splitwatch',
      });
      expect(redshift).toHaveReceivedCommandTimes(GetStatementResultCommand, 2);
      expect(redshift).toHaveReceivedNthCommandWith(4, GetStatementResultCommand, {
        Id: 'st-sel',
        NextToken: 'n2',
      });
    });

    it('summarises the alerts with three statements: the counts, the top alerts and the latest day\'s', async () => {
      const { results } = store();
      const options = { limit: 15, topN: 50, preferMethod: 'ensemble' };
      const sql = summarizeAlertsSql(options);
      redshift.on(ExecuteStatementCommand, { Sql: sql.counts }).resolves({ Id: 'st-counts' });
      redshift.on(ExecuteStatementCommand, { Sql: sql.top }).resolves({ Id: 'st-top' });
      redshift.on(ExecuteStatementCommand, { Sql: sql.latest }).resolves({ Id: 'st-latest' });
      redshift
        .on(DescribeStatementCommand)
        .callsFake((input: { Id: string }) => ({ Id: input.Id, Status: 'FINISHED', HasResultSet: true }));
      const count = (dim: string, k: string, n: number) => [
        { stringValue: dim },
        { stringValue: k },
        { longValue: n },
      ];
      const countColumns = ['dim', 'k', 'n'].map((name) => ({ name, label: name }));
      const top = alert(1, { method: 'ensemble' });
      redshift.on(GetStatementResultCommand, { Id: 'st-counts' }).resolves({
        ColumnMetadata: countColumns,
        Records: [
          count('method', 'rule:split', 7),
          count('method', 'ensemble', 1),
          count('hour', '09', 8),
          count('user', 'u1', 8),
        ],
      });
      redshift
        .on(GetStatementResultCommand, { Id: 'st-top' })
        .resolves({ ColumnMetadata: columns, Records: [record(top)] });
      const latest = alert(2, { method: 'ensemble' });
      redshift
        .on(GetStatementResultCommand, { Id: 'st-latest' })
        .resolves({ ColumnMetadata: columns, Records: [record(latest)] });

      const summary = await results.summarizeAlerts(options);

      expect(summary).toEqual({
        total: 8,
        byMethod: [
          ['rule:split', 7],
          ['ensemble', 1],
        ],
        byDirection: [],
        byHour: [['09', 8]],
        byMerchant: [],
        byUser: [['u1', 8]],
        top: [top],
        latest: [latest],
      });
      expect(redshift.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.Sql)).toEqual([
        sql.counts,
        sql.top,
        sql.latest,
      ]);
    });

    it('hands each result page of one select over as it comes', async () => {
      const { results } = store();
      statementsFinish('st-pages', true);
      const [first, second, third] = [
        alert(1, { score: 0.9 }),
        alert(2, { score: 0.8 }),
        alert(3, { score: 0.7 }),
      ];
      redshift
        .on(GetStatementResultCommand, { NextToken: undefined })
        .resolves({ ColumnMetadata: columns, Records: [record(first), record(second)], NextToken: 'n2' })
        .on(GetStatementResultCommand, { NextToken: 'n2' })
        .resolves({ ColumnMetadata: columns, Records: [record(third)] });
      const pages: Alert[][] = [];

      const count = await results.forEachAlertPage(
        { runId: 'run-1' },
        10_000,
        async (page) => void pages.push(page),
      );

      expect(count).toBe(3);
      expect(pages).toEqual([[first, second], [third]]);
      expect(redshift.commandCalls(ExecuteStatementCommand).map((c) => c.args[0].input.Sql)).toEqual([
        selectAlertsSql({ runId: 'run-1' }),
      ]);
    });

    it('names values by column label, which carries the alias of an expression', async () => {
      const { results } = store();
      statementsFinish('st-l', true);
      const a = alert(1);
      const aliased = columns.map((c) =>
        c.name === 'window_start' ? { ...c, name: 'to_char', label: 'window_start' } : c,
      );
      redshift.on(GetStatementResultCommand).resolves({ ColumnMetadata: aliased, Records: [record(a)] });

      const [read] = await results.listAlerts();

      expect(read.window_start).toBe('2021-03-01 10:00:00');
    });

    it('returns no alerts when the statement has no result set', async () => {
      const { results } = store();
      statementsFinish('st-e', false);

      await expect(results.listAlerts()).resolves.toEqual([]);
      expect(redshift).not.toHaveReceivedCommand(GetStatementResultCommand);
    });

    it('raises ResultsStoreError when the select fails', async () => {
      const { results } = store();
      redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-q' });
      redshift
        .on(DescribeStatementCommand)
        .resolves({ Status: 'FAILED', Error: 'ERROR: permission denied for relation splitwatch_alerts' });

      await expect(results.listAlerts()).rejects.toMatchObject({
        name: 'ResultsStoreError',
        message: expect.stringContaining('permission denied for relation splitwatch_alerts'),
      });
    });
  });
});
