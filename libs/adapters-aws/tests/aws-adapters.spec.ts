import { AthenaClient, GetQueryExecutionCommand, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import {
  BatchExecuteStatementCommand,
  DescribeStatementCommand,
  ExecuteStatementCommand,
  RedshiftDataClient,
} from '@aws-sdk/client-redshift-data';
import { DeleteObjectsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createAwsAdapters, defaultAwsClients, readAwsAdaptersConfig } from '../src';

const ENV = {
  DATA_BUCKET: 'splitwatch-data-dev',
  DATA_KMS_KEY_ID: 'alias/splitwatch-dev',
  ATHENA_DATABASE: 'splitwatch_dev',
  ATHENA_WORKGROUP: 'splitwatch-dev',
  ATHENA_OUTPUT_LOCATION: 's3://splitwatch-athena-dev/results/',
  ATHENA_MANAGED_TABLES: ' curated_transactions, features ,,',
  REDSHIFT_DATABASE: 'splitwatch',
  REDSHIFT_WORKGROUP: 'splitwatch-dev',
  REDSHIFT_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:rs',
};

describe('readAwsAdaptersConfig', () => {
  it('reads every setting, trimming values and the managed-table list', () => {
    expect(readAwsAdaptersConfig({ ...ENV, ATHENA_DATABASE: ' splitwatch_dev ' })).toEqual({
      dataBucket: 'splitwatch-data-dev',
      dataKmsKeyId: 'alias/splitwatch-dev',
      athenaDatabase: 'splitwatch_dev',
      athenaWorkGroup: 'splitwatch-dev',
      athenaOutputLocation: 's3://splitwatch-athena-dev/results/',
      athenaManagedTables: ['curated_transactions', 'features'],
      redshiftDatabase: 'splitwatch',
      redshiftWorkgroup: 'splitwatch-dev',
      redshiftClusterId: undefined,
      redshiftSecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:rs',
      redshiftDbUser: undefined,
      redshiftCopyRole: undefined,
    });
  });

  it('names every missing variable in one ConfigError', () => {
    expect(() => readAwsAdaptersConfig({ ATHENA_WORKGROUP: 'wg', DATA_BUCKET: '  ' })).toThrow(
      expect.objectContaining({
        name: 'ConfigError',
        message:
          'AWS adapters are misconfigured: DATA_BUCKET is required; ATHENA_DATABASE is required; ' +
          'REDSHIFT_DATABASE is required; REDSHIFT_WORKGROUP or REDSHIFT_CLUSTER_ID is required',
      }),
    );
  });

  it('accepts a provisioned cluster with a database user', () => {
    const { REDSHIFT_WORKGROUP: _wg, ...cluster } = ENV;

    const config = readAwsAdaptersConfig({
      ...cluster,
      REDSHIFT_CLUSTER_ID: 'rs-1',
      REDSHIFT_DB_USER: 'etl',
    });

    expect(config).toMatchObject({
      redshiftClusterId: 'rs-1',
      redshiftDbUser: 'etl',
      redshiftWorkgroup: undefined,
    });
  });

  it.each([
    [{ REDSHIFT_CLUSTER_ID: 'rs-1' }, 'set only one of REDSHIFT_WORKGROUP and REDSHIFT_CLUSTER_ID'],
    [{ REDSHIFT_DB_USER: 'etl' }, 'REDSHIFT_DB_USER applies to REDSHIFT_CLUSTER_ID only'],
    [{ DATA_BUCKET: 's3://splitwatch-data-dev' }, 'DATA_BUCKET must be a bucket name (not a URI or path)'],
    [
      { ATHENA_OUTPUT_LOCATION: 'splitwatch-athena-dev/results/' },
      'ATHENA_OUTPUT_LOCATION must be an s3:// URI',
    ],
    [{ REDSHIFT_COPY_ROLE: 'splitwatch-copy' }, 'REDSHIFT_COPY_ROLE must be an IAM role ARN or "default"'],
  ])('rejects inconsistent settings (%o)', (override, message) => {
    expect(() => readAwsAdaptersConfig({ ...ENV, ...override })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining(message) }),
    );
  });
});

describe('createAwsAdapters', () => {
  const s3Client = new S3Client({ region: 'us-east-1' });
  const athenaClient = new AthenaClient({ region: 'us-east-1' });
  const redshiftClient = new RedshiftDataClient({ region: 'us-east-1' });
  const s3 = mockClient(s3Client);
  const athena = mockClient(athenaClient);
  const redshift = mockClient(redshiftClient);

  beforeEach(() => {
    s3.reset();
    athena.reset();
    redshift.reset();
  });

  it('wires the three ports to the injected clients and the configured resources', async () => {
    // Prepare
    s3.on(PutObjectCommand).resolves({});
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'SUCCEEDED' } } });
    redshift.on(ExecuteStatementCommand).resolves({ Id: 'st-1' });
    redshift.on(DescribeStatementCommand).resolves({ Status: 'FINISHED' });
    const clients = { s3: s3Client, athena: athenaClient, redshiftData: redshiftClient };

    // Act
    const { objectStore, sqlEngine, resultsStore } = createAwsAdapters(ENV, clients);
    await objectStore.putText('runs/r1/manifest.json', '{}');
    await sqlEngine.registerTable({
      name: 'features',
      prefix: 'features/windows/',
      format: 'parquet',
      columns: [],
    });
    await sqlEngine.registerTable({
      name: 'staged',
      prefix: 'staging/run=r1/',
      format: 'csv',
      columns: [{ name: 'tx_id', type: 'VARCHAR' }],
    });
    await resultsStore.ensureSchema();

    // Assess
    expect([objectStore.location, sqlEngine.name, resultsStore.name]).toEqual([
      's3://splitwatch-data-dev',
      'athena',
      'redshift',
    ]);
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'splitwatch-data-dev',
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/splitwatch-dev',
    });
    expect(athena).toHaveReceivedCommandTimes(StartQueryExecutionCommand, 3); // features is managed: staged only
    expect(athena).toHaveReceivedCommandWith(StartQueryExecutionCommand, {
      QueryExecutionContext: { Database: 'splitwatch_dev' },
      WorkGroup: 'splitwatch-dev',
      ResultConfiguration: { OutputLocation: 's3://splitwatch-athena-dev/results/' },
    });
    expect(redshift).toHaveReceivedCommandWith(ExecuteStatementCommand, {
      Database: 'splitwatch',
      WorkgroupName: 'splitwatch-dev',
      SecretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:rs',
    });
  });

  it('loads large upserts through the data bucket with COPY when REDSHIFT_COPY_ROLE is set', async () => {
    s3.on(PutObjectCommand).resolves({});
    s3.on(DeleteObjectsCommand).resolves({});
    redshift.on(BatchExecuteStatementCommand).resolves({ Id: 'st-1' });
    redshift.on(DescribeStatementCommand).resolves({ Status: 'FINISHED' });
    const role = 'arn:aws:iam::111122223333:role/splitwatch-dev-redshift-copy';
    const { resultsStore } = createAwsAdapters(
      { ...ENV, REDSHIFT_COPY_ROLE: role },
      { s3: s3Client, athena: athenaClient, redshiftData: redshiftClient },
    );
    const alerts = Array.from({ length: 500 }, (_, i) => ({
      alert_id: `a${i}`,
      run_id: 'r1',
      method: 'rule:split',
      entity_type: 'account' as const,
      user_id: 'u1',
      account_number: 'acc',
      merchant_id: null,
      direction: 'DEBITO' as const,
      window_start: '2021-03-01 10:00:00',
      window_end: '2021-03-01 11:00:00',
      n_tx: 2,
      total_amount: '10.00000000',
      score: 1,
      threshold: 0,
      reasons: 'r',
      transaction_ids: ['t1', 't2'],
    }));

    await resultsStore.upsertAlerts(alerts);

    // Staged encrypted with the data key, read by COPY with the role, then deleted.
    expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'splitwatch-data-dev',
      Key: expect.stringMatching(/^staging\/sink\//),
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: 'alias/splitwatch-dev',
    });
    const sqls = redshift.commandCalls(BatchExecuteStatementCommand)[0].args[0].input.Sqls!;
    expect(sqls[1]).toContain(`FROM 's3://splitwatch-data-dev/staging/sink/`);
    expect(sqls[1]).toContain(`IAM_ROLE '${role}'`);
    expect(s3).toHaveReceivedCommandTimes(DeleteObjectsCommand, 1);
  });

  it('fails fast before building anything when the environment is incomplete', () => {
    expect(() => createAwsAdapters({})).toThrow(expect.objectContaining({ name: 'ConfigError' }));
  });

  it('creates the default clients once and reuses them', () => {
    const first = defaultAwsClients();

    expect(defaultAwsClients()).toBe(first);
    expect(first.s3).toBeInstanceOf(S3Client);
    expect(first.athena).toBeInstanceOf(AthenaClient);
    expect(first.redshiftData).toBeInstanceOf(RedshiftDataClient);
    expect(() => createAwsAdapters(ENV)).not.toThrow();
  });
});
