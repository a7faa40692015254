import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { resolveConfig, type ObjectStore, type SqlEngine } from '@splitwatch/core';
import { buildFeatures, FEATURE_COLUMNS, featuresSql, FeaturesIntegrityError } from '@splitwatch/use-cases';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';

const BUCKET = 'splitwatch-data-test';
const OLD_FILES = ['features/windows/20261128_old_0.parquet', 'features/windows/20261128_old_1.parquet'];
const NEW_FILES = ['features/windows/20261129_new_0.parquet'];

const s3Client = new S3Client({ region: 'us-east-1' });
const athenaClient = new AthenaClient({ region: 'us-east-1' });
const s3 = mockClient(s3Client);
const athena = mockClient(athenaClient);

/** What the feature-builder Lambda gets in a deployed stage (apps/feature-builder/resources/environment.yml). */
const ENV = {
  DATA_BUCKET: BUCKET,
  ATHENA_DATABASE: 'splitwatch_test',
  ATHENA_WORKGROUP: 'splitwatch-test',
  ATHENA_MANAGED_TABLES: 'transactions,features',
  REDSHIFT_DATABASE: 'dev',
  REDSHIFT_WORKGROUP: 'splitwatch-test',
};

/** The AWS adapters exactly as the handlers build them, over mocked SDK clients (loaded lazily, as handlers do). */
async function awsPorts(
  env: Record<string, string> = ENV,
): Promise<{ objectStore: ObjectStore; sqlEngine: SqlEngine }> {
  const { createAwsAdapters } = await import('@splitwatch/adapters-aws');
  const { objectStore, sqlEngine } = createAwsAdapters(env, {
    s3: s3Client,
    athena: athenaClient,
    redshiftData: new RedshiftDataClient({ region: 'us-east-1' }),
  });
  return { objectStore, sqlEngine };
}

function statsPage(n: number, curated = n): GetQueryResultsCommandOutput {
  const columns = [
    { Name: 'n', Type: 'bigint' },
    { Name: 'multi', Type: 'bigint' },
    { Name: 'keys', Type: 'bigint' },
    { Name: 'curated', Type: 'bigint' },
  ];
  const row = (values: string[]) => ({ Data: values.map((VarCharValue) => ({ VarCharValue })) });
  return {
    $metadata: {},
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: columns },
      Rows: [row(columns.map((c) => c.Name)), row([String(n), '40', '12', String(curated)])],
    },
  };
}

/** Records the order of S3 and Athena requests; UNLOAD writes NEW_FILES. */
function awsSucceeds(stats = statsPage(100)): string[] {
  const events: string[] = [];
  let unloaded = false;
  let id = 0;
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    const statement = input.QueryString.trimStart().split(/\s/)[0];
    events.push(`athena ${statement}`);
    if (statement === 'UNLOAD') unloaded = true;
    return { QueryExecutionId: `q-${++id}` };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => ({
    QueryExecution: {
      QueryExecutionId: input.QueryExecutionId,
      StatementType: 'DML',
      Status: { State: 'SUCCEEDED' },
    },
  }));
  athena.on(GetQueryResultsCommand).resolves(stats);
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => {
    events.push(`s3 list ${input.Prefix}`);
    const keys = unloaded ? NEW_FILES : OLD_FILES;
    return { Contents: keys.filter((k) => k.startsWith(input.Prefix)).map((Key) => ({ Key, Size: 10 })) };
  });
  s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => {
    events.push(`s3 delete ${input.Delete.Objects.map((o) => o.Key).join(' ')}`);
    return {};
  });
  s3.on(PutObjectCommand).callsFake((input: { Key: string }) => {
    events.push(`s3 put ${input.Key}`);
    return {};
  });
  return events;
}

const started = () => athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);

describe('buildFeatures on Athena (request shapes, mocked AWS SDK clients)', () => {
  beforeEach(() => {
    s3.reset();
    athena.reset();
  });

  it('deletes the previous features, then UNLOADs the shared SQL text as Parquet under features/windows/', async () => {
    // Prepare
    const events = awsSucceeds();
    const config = resolveConfig({});

    // Act
    const result = await buildFeatures(await awsPorts(), { runId: 'run-1', config });

    // Assess
    expect(events).toEqual([
      's3 list features/windows/',
      `s3 delete ${OLD_FILES.join(' ')}`,
      'athena UNLOAD',
      's3 list features/windows/',
      'athena SELECT',
      's3 put runs/run-1/steps/build-features.json',
    ]);
    const [unload, stats] = started();
    expect(unload.QueryString).toBe(
      `UNLOAD (${featuresSql(config).trim()}) TO 's3://${BUCKET}/features/windows/' ` +
        `WITH (format = 'PARQUET', compression = 'SNAPPY')`,
    );
    expect(unload).toMatchObject({
      QueryExecutionContext: { Database: 'splitwatch_test' },
      WorkGroup: 'splitwatch-test',
    });
    expect(stats.QueryString).toContain('FROM features');
    expect(result).toEqual({ runId: 'run-1', rows: 100, multiTxWindows: 40, keys: 12, files: 1 });
  });

  it('renders the configured window length into the UNLOAD (1 h, 6 h, 7 d)', async () => {
    for (const [hours, seconds] of [
      [1, 3600],
      [6, 21_600],
      [168, 604_800],
    ]) {
      athena.reset();
      awsSucceeds();
      await buildFeatures(await awsPorts(), {
        runId: 'run-w',
        config: resolveConfig({ windowHours: hours }),
      });
      const unload = started()[0].QueryString ?? '';
      expect(unload).toContain(`RANGE BETWEEN ${seconds} PRECEDING AND CURRENT ROW`);
      expect(unload).toContain(`RANGE BETWEEN UNBOUNDED PRECEDING AND ${seconds + 1} PRECEDING`);
      expect(unload).not.toMatch(/\{\{/);
    }
  });

  it('declares the tables itself when they are not managed by CloudFormation, with every feature column', async () => {
    awsSucceeds();

    await buildFeatures(await awsPorts({ ...ENV, ATHENA_MANAGED_TABLES: '' }), {
      runId: 'run-2',
      config: resolveConfig({}),
    });

    const statements = started().map((s) => s.QueryString ?? '');
    expect(statements.map((s) => s.split(/\s/).slice(0, 3).join(' '))).toEqual([
      'DROP TABLE IF',
      'CREATE EXTERNAL TABLE',
      'UNLOAD (WITH tx',
      'DROP TABLE IF',
      'CREATE EXTERNAL TABLE',
      'SELECT COUNT(*) AS',
    ]);
    const ddl = statements[4];
    expect(ddl).toContain('CREATE EXTERNAL TABLE `features`');
    expect(ddl).toContain(`LOCATION 's3://${BUCKET}/features/windows/'`);
    for (const c of FEATURE_COLUMNS)
      expect(ddl).toContain(`\`${c.name}\` ${c.type.toLowerCase().replace('varchar', 'string')}`);
  });

  it('fails with FeaturesIntegrityError when features and curated transactions do not match one to one', async () => {
    awsSucceeds(statsPage(102, 100));

    await expect(
      buildFeatures(await awsPorts(), { runId: 'run-3', config: resolveConfig({}) }),
    ).rejects.toThrow(FeaturesIntegrityError);
  });
});
