import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsCommandOutput,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { resolveConfig, type ObjectStore, type SqlEngine } from '@splitwatch/core';
import {
  buildFeatures,
  FEATURE_COLUMNS,
  featuresFingerprint,
  featuresSql,
  FeaturesIntegrityError,
  findEngineOnlySql,
} from '@splitwatch/use-cases';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';

const BUCKET = 'splitwatch-data-test';
const OLD_FILES = ['features/windows/month=2021-01/old_0', 'features/windows/month=2021-02/old_1'];
const NEW_FILES = ['features/windows/month=2021-01/new_0'];
const CURATED = [
  { Key: 'curated/transactions/dt=2021-01-31/s-data_0.parquet', Size: 10, ETag: '"e1"' },
  { Key: 'curated/transactions/dt=2021-02-01/s-data_0.parquet', Size: 10, ETag: '"e2"' },
];

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

const page = (columns: string[], values: string[]): GetQueryResultsCommandOutput => {
  const row = (cells: string[]) => ({ Data: cells.map((VarCharValue) => ({ VarCharValue })) });
  return {
    $metadata: {},
    ResultSet: {
      ResultSetMetadata: { ColumnInfo: columns.map((Name) => ({ Name, Type: 'bigint' })) },
      Rows: [row(columns), row(values)],
    },
  };
};

const notFound = () => Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
/** A GetObject body with the SDK's helper the store reads text with. */
const body = (text: string) => ({ transformToString: async () => text });

/**
 * Records the order of S3 and Athena requests. The bucket holds CURATED and OLD_FILES; `state` is the features
 * state to find (none by default); each UNLOAD writes one file under its destination (NEW_FILES for the features).
 */
function awsSucceeds(stats = statsPage(100), state?: string): string[] {
  const events: string[] = [];
  const written = new Set<string>();
  let features = OLD_FILES;
  let id = 0;
  const queries = new Map<string, string>();
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    const statement = input.QueryString.trimStart().split(/\s/)[0];
    events.push(`athena ${statement}`);
    const to = /^UNLOAD[\s\S]* TO 's3:\/\/[^/]+\/([^']*)'/.exec(input.QueryString)?.[1];
    if (to === 'features/windows/') features = NEW_FILES;
    else if (to?.endsWith('windows/')) written.add(`${to}month=2021-02/q_9`);
    else if (to) written.add(`${to}q_1`);
    queries.set(`q-${++id}`, input.QueryString);
    return { QueryExecutionId: `q-${id}` };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => ({
    QueryExecution: {
      QueryExecutionId: input.QueryExecutionId,
      StatementType: 'DML',
      Status: { State: 'SUCCEEDED' },
    },
  }));
  athena.on(GetQueryResultsCommand).callsFake((input: { QueryExecutionId: string }) => {
    const sql = queries.get(input.QueryExecutionId) ?? '';
    if (sql.includes('AS shared')) return page(['users', 'affected', 'total', 'shared'], ['3', '20', '100', '0']);
    if (sql.startsWith('SELECT COUNT(*) AS n FROM transactions')) return page(['n'], ['100']);
    return stats;
  });
  s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => {
    events.push(`s3 list ${input.Prefix}`);
    const objects = [
      ...CURATED,
      ...[...features, ...written].map((Key) => ({ Key, Size: 10, ETag: '"x"' })),
      ...(state !== undefined ? [{ Key: 'features/state.json', Size: state.length, ETag: '"s"' }] : []),
    ];
    return { Contents: objects.filter((o) => o.Key.startsWith(input.Prefix)) };
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    events.push(`s3 get ${input.Key}`);
    if (input.Key === 'features/state.json' && state !== undefined) return { Body: body(state) };
    throw notFound();
  });
  s3.on(DeleteObjectsCommand).callsFake((input: { Delete: { Objects: { Key: string }[] } }) => {
    const keys = input.Delete.Objects.map((o) => o.Key);
    events.push(`s3 delete ${keys.join(' ')}`);
    features = features.filter((k) => !keys.includes(k));
    for (const k of keys) written.delete(k);
    return {};
  });
  s3.on(CopyObjectCommand).callsFake((input: { CopySource: string; Key: string }) => {
    events.push(`s3 copy ${decodeURIComponent(input.CopySource).replace(`${BUCKET}/`, '')} ${input.Key}`);
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
      's3 list curated/transactions/',
      // Listed, not read: a read of a missing key answers 403 where the role may not list.
      's3 list features/state.json',
      's3 delete features/state.json',
      's3 list features/windows/',
      `s3 delete ${OLD_FILES.join(' ')}`,
      // A full build starts a new lineage: the earlier builds' recomputed users are dropped.
      's3 list features/changes/',
      'athena UNLOAD',
      's3 list features/windows/',
      'athena SELECT',
      's3 put features/state.json',
      'athena SELECT',
      's3 put runs/run-1/steps/build-features.json',
    ]);
    const [unload, , stats] = started();
    expect(unload.QueryString).toBe(
      `UNLOAD (${featuresSql(config).trim()}) TO 's3://${BUCKET}/features/windows/' ` +
        `WITH (format = 'PARQUET', compression = 'SNAPPY', partitioned_by = ARRAY['month'])`,
    );
    expect(unload).toMatchObject({
      QueryExecutionContext: { Database: 'splitwatch_test' },
      WorkGroup: 'splitwatch-test',
    });
    expect(stats.QueryString).toContain('FROM features');
    expect(result).toEqual({
      runId: 'run-1',
      rows: 100,
      multiTxWindows: 40,
      keys: 12,
      files: 1,
      mode: 'full',
      reason: 'no previous build is recorded',
      recomputedRows: 100,
    });
    const state = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === 'features/state.json');
    expect(JSON.parse(String(state?.args[0].input.Body))).toMatchObject({
      fingerprint: featuresFingerprint(config),
      runId: 'run-1',
      curated: { [CURATED[0].Key]: '"e1"', [CURATED[1].Key]: '"e2"' },
      generation: 1,
      lineage: expect.stringMatching(/^run-1@\d{4}-\d\d-\d\dT/) as unknown,
      changes: [],
    });
  });

  it('recomputes the new day’s users and rewrites the months from that day on, the state last', async () => {
    const config = resolveConfig({});
    const state = JSON.stringify({
      format: 'splitwatch.features-state.v2',
      fingerprint: featuresFingerprint(config),
      runId: 'run-0',
      builtAt: '2026-11-29T00:00:00Z',
      curated: { [CURATED[0].Key]: '"e1"' },
      generation: 3,
      lineage: 'run-0',
      changes: [{ generation: 3, firstDay: '2021-01-05' }],
    });
    const events = awsSucceeds(statsPage(100), state);

    const result = await buildFeatures(await awsPorts(), { runId: 'run-4', config });

    expect(result).toMatchObject({ mode: 'incremental', recomputedRows: 20, files: 1 });
    const [users, usersDdl, counts, windows] = started()
      .map((q) => q.QueryString ?? '')
      .filter((q) => !q.startsWith('DROP'));
    // The same text runs on DuckDB locally: it must stay in the subset both engines share.
    for (const q of [users, counts, windows]) expect(findEngineOnlySql(q)).toEqual([]);
    expect(users).toMatch(/^UNLOAD \(WITH changed AS/);
    expect(users).toContain('SELECT user_id, CAST(4 AS BIGINT) AS generation FROM (');
    expect(users).toContain(`WHERE dt IN ('2021-02-01')`);
    expect(users).toContain(`TO 's3://${BUCKET}/staging/run=run-4/features/users/'`);
    expect(usersDdl).toContain('CREATE EXTERNAL TABLE `features_users_run_4`');
    expect(counts).toContain('AS shared');
    expect(windows).toContain(`FROM features WHERE month >= '2021-02' AND NOT user_id IN (SELECT user_id FROM features_users_run_4)`);
    expect(windows).toContain(`TO 's3://${BUCKET}/staging/run=run-4/features/windows/'`);
    expect(windows).toContain(`partitioned_by = ARRAY['month']`);
    const swap = events.filter((e) => /^s3 (delete|copy|put) /.test(e));
    expect(swap).toEqual([
      's3 delete features/state.json',
      's3 delete features/windows/month=2021-02/old_1',
      's3 copy staging/run=run-4/features/windows/month=2021-02/q_9 features/windows/month=2021-02/run_4-q_9.parquet',
      // The users it recomputed, kept with this build's number for Detect.
      's3 copy staging/run=run-4/features/users/q_1 features/changes/g4-q_1.parquet',
      's3 delete staging/run=run-4/features/users/q_1 staging/run=run-4/features/windows/month=2021-02/q_9',
      's3 put features/state.json',
      's3 put runs/run-4/steps/build-features.json',
    ]);
    expect(started().map((q) => q.QueryString)).toContain('DROP TABLE IF EXISTS `features_users_run_4`');
    const put = s3.commandCalls(PutObjectCommand).find((c) => c.args[0].input.Key === 'features/state.json');
    expect(JSON.parse(String(put?.args[0].input.Body))).toMatchObject({
      runId: 'run-4',
      generation: 4,
      lineage: 'run-0',
      changes: [
        { generation: 3, firstDay: '2021-01-05' },
        { generation: 4, firstDay: '2021-02-01' },
      ],
    });
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
      'SELECT COUNT(*) AS',
      'DROP TABLE IF',
      'CREATE EXTERNAL TABLE',
      'SELECT COUNT(*) AS',
    ]);
    const ddl = statements[5];
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
