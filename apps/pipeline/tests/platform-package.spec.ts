import type { ColumnDef, SqlEngine, TableDef } from '@splitwatch/core';
import { registerFeatureChanges, registerFeatures, registerTransactions } from '@splitwatch/use-cases';
import {
  props,
  slsPackage,
  type CfnTemplate,
  type IamStatement,
  type PackagedService,
} from './helpers/sls-package';

const PACKAGE_TIMEOUT_MS = 120_000;

/** Glue (Hive) type of each column type of the SqlEngine port, as the Athena adapter declares them. */
const GLUE_TYPE: Record<ColumnDef['type'], string> = {
  VARCHAR: 'string',
  BIGINT: 'bigint',
  DOUBLE: 'double',
  'DECIMAL(24,8)': 'decimal(24,8)',
  'DECIMAL(38,8)': 'decimal(38,8)',
  TIMESTAMP: 'timestamp',
  DATE: 'date',
  BOOLEAN: 'boolean',
};

interface GlueTableInput {
  Name: string;
  TableType: string;
  Parameters: Record<string, string>;
  PartitionKeys?: { Name: string; Type: string }[];
  StorageDescriptor: {
    Location: unknown;
    Columns: { Name: string; Type: string }[];
    SerdeInfo: { SerializationLibrary: string };
  };
}

/** The table definitions the use-cases register with the SQL engine (locally, DuckDB views over the same layout). */
async function registeredTables(): Promise<Record<string, TableDef>> {
  const tables: Record<string, TableDef> = {};
  const engine = {
    registerTable: async (def: TableDef) => void (tables[def.name] = def),
  } as unknown as SqlEngine;
  await registerTransactions(engine);
  await registerFeatures(engine);
  await registerFeatureChanges(engine);
  return tables;
}

const glueColumns = (cols: ColumnDef[]) => cols.map((c) => ({ Name: c.name, Type: GLUE_TYPE[c.type] }));

describe('apps/platform packaged (stage dev)', () => {
  let packaged: PackagedService;
  let template: CfnTemplate;

  beforeAll(async () => {
    packaged = await slsPackage('platform', { stage: 'dev' });
    template = packaged.template;
  }, PACKAGE_TIMEOUT_MS);

  afterAll(() => packaged?.dispose());

  it('encrypts the data bucket with the customer-managed key (bucket keys on) and keeps it private and versioned', () => {
    const bucket = props(template, 'DataBucket');

    expect(template.Resources.DataBucket.DeletionPolicy).toBe('Retain');
    expect(bucket.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
          },
          BucketKeyEnabled: true,
        },
      ],
    });
    expect(bucket.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props(template, 'DataKey').EnableKeyRotation).toBe(true);
  });

  it('denies any request to the bucket that does not use TLS', () => {
    const statements = (props(template, 'DataBucketPolicy').PolicyDocument as { Statement: IamStatement[] })
      .Statement;

    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Resource: [{ 'Fn::GetAtt': ['DataBucket', 'Arn'] }, { 'Fn::Sub': '${DataBucket.Arn}/*' }],
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
  });

  it('expires staging/ and athena-results/ and old versions', () => {
    const rules = (
      props(template, 'DataBucket').LifecycleConfiguration as { Rules: Record<string, unknown>[] }
    ).Rules;

    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: 'staging/',
        Status: 'Enabled',
        ExpirationInDays: expect.any(Number),
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: 'athena-results/',
        Status: 'Enabled',
        ExpirationInDays: expect.any(Number),
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        NoncurrentVersionExpiration: expect.any(Object),
        AbortIncompleteMultipartUpload: expect.any(Object),
      }),
    );
  });

  it('enforces the Athena workgroup configuration, with encrypted results in the data bucket', () => {
    const wg = props(template, 'AthenaWorkGroup');
    const config = wg.WorkGroupConfiguration as Record<string, unknown>;

    expect(wg.Name).toBe('splitwatch-dev');
    expect(config.EnforceWorkGroupConfiguration).toBe(true);
    expect(config.ResultConfiguration).toEqual(
      expect.objectContaining({
        OutputLocation: { 'Fn::Sub': 's3://${DataBucket}/athena-results/' },
        EncryptionConfiguration: {
          EncryptionOption: 'SSE_KMS',
          KmsKey: { 'Fn::GetAtt': ['DataKey', 'Arn'] },
        },
      }),
    );
  });

  it('declares the Glue tables exactly as the use-cases register them', async () => {
    const registered = await registeredTables();
    const glue = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Glue::Table')
      .map((r) => (r.Properties as { TableInput: GlueTableInput }).TableInput);

    expect(glue.map((t) => t.Name).sort()).toEqual(Object.keys(registered).sort());
    for (const table of glue) {
      const def = registered[table.Name];
      expect({
        table: table.Name,
        columns: table.StorageDescriptor.Columns.map(({ Name, Type }) => ({ Name, Type })),
      }).toEqual({
        table: table.Name,
        columns: glueColumns(def.columns),
      });
      expect((table.PartitionKeys ?? []).map(({ Name, Type }) => ({ Name, Type }))).toEqual(
        glueColumns(def.partitionedBy ?? []),
      );
      expect(table.StorageDescriptor.Location).toEqual({ 'Fn::Sub': `s3://\${DataBucket}/${def.prefix}` });
      expect(def.format).toBe('parquet');
      expect(table.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
      );
    }
  });

  it('projects the dt partitions of transactions (yyyy-MM-dd from 2000-01-01 to NOW)', () => {
    const transactions = (props(template, 'TransactionsTable').TableInput as GlueTableInput).Parameters;

    expect(transactions).toEqual(
      expect.objectContaining({
        'projection.enabled': 'true',
        'projection.dt.type': 'date',
        'projection.dt.format': 'yyyy-MM-dd',
        'projection.dt.range': '2000-01-01,NOW',
      }),
    );
  });

  it('projects the month partitions of features (yyyy-MM from 2000-01 to NOW)', () => {
    const features = (props(template, 'FeaturesTable').TableInput as GlueTableInput).Parameters;

    expect(features).toEqual(
      expect.objectContaining({
        'projection.enabled': 'true',
        'projection.month.type': 'date',
        'projection.month.format': 'yyyy-MM',
        'projection.month.range': '2000-01,NOW',
        'projection.month.interval.unit': 'MONTHS',
      }),
    );
  });

  it('exports the names the other services need', () => {
    const exported = Object.fromEntries(
      Object.entries(template.Outputs ?? {})
        .filter(([, o]) => o.Export)
        .map(([k, o]) => [k, o.Export!.Name]),
    );

    expect(exported).toEqual(
      expect.objectContaining({
        DataBucketName: 'splitwatch-dev-DataBucketName',
        DataKeyArn: 'splitwatch-dev-DataKeyArn',
        AthenaWorkGroupName: 'splitwatch-dev-AthenaWorkGroupName',
        GlueDatabaseName: 'splitwatch-dev-GlueDatabaseName',
        AlarmTopicArn: 'splitwatch-dev-AlarmTopicArn',
      }),
    );
  });

  it('subscribes the alarm e-mail only when one is given', () => {
    expect(template.Resources.AlarmEmailSubscription.Condition).toBe('HasAlarmEmail');
    expect(props(template, 'AlarmTopic').TopicName).toBe('splitwatch-dev-alarms');
  });
});
