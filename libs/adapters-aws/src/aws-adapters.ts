import { AthenaClient } from '@aws-sdk/client-athena';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, type ObjectStore, type ResultsStore, type SqlEngine } from '@splitwatch/core';
import { AthenaSqlEngine } from './athena-sql-engine.adapter';
import { RedshiftDataResultsStore } from './redshift-data-results-store.adapter';
import { S3ObjectStore } from './s3-object-store.adapter';

/** The AWS SDK clients the adapters use. */
export interface AwsClients {
  s3: S3Client;
  athena: AthenaClient;
  redshiftData: RedshiftDataClient;
}

/** Settings read from the environment by {@link readAwsAdaptersConfig}. */
export interface AwsAdaptersConfig {
  dataBucket: string;
  dataKmsKeyId?: string;
  athenaDatabase: string;
  athenaWorkGroup: string;
  athenaOutputLocation?: string;
  athenaManagedTables: string[];
  redshiftDatabase: string;
  redshiftWorkgroup?: string;
  redshiftClusterId?: string;
  redshiftSecretArn?: string;
  redshiftDbUser?: string;
  /** IAM role (ARN, or `default`) Redshift's COPY reads staged alerts with; set, large upserts load through S3. */
  redshiftCopyRole?: string;
}

/** The three ports, backed by S3, Athena and Redshift. */
export interface AwsAdapters {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
  resultsStore: ResultsStore;
}

let sharedClients: AwsClients | undefined;

/**
 * SDK clients created on first use and shared for the life of the process, so warm Lambda invocations
 * reuse their connections. Region and credentials come from the standard AWS environment.
 */
export function defaultAwsClients(): AwsClients {
  sharedClients ??= {
    s3: new S3Client({}),
    athena: new AthenaClient({}),
    redshiftData: new RedshiftDataClient({}),
  };
  return sharedClients;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Reads and validates the AWS adapters' environment in one pass. Every problem is reported at once in a
 * single ConfigError that names each variable.
 *
 * Required: DATA_BUCKET, ATHENA_DATABASE, ATHENA_WORKGROUP, REDSHIFT_DATABASE and one of REDSHIFT_WORKGROUP
 * (Serverless) / REDSHIFT_CLUSTER_ID. Optional: DATA_KMS_KEY_ID, ATHENA_OUTPUT_LOCATION,
 * ATHENA_MANAGED_TABLES (comma-separated), REDSHIFT_SECRET_ARN, REDSHIFT_DB_USER, REDSHIFT_COPY_ROLE (an IAM role
 * ARN, or `default`, that the namespace or cluster may assume to read `staging/sink/`: large upserts then load
 * through S3 with COPY instead of SQL statements).
 */
export function readAwsAdaptersConfig(env: NodeJS.ProcessEnv): AwsAdaptersConfig {
  const problems: string[] = [];
  const optional = (name: string) => {
    const v = env[name]?.trim();
    return v ? v : undefined;
  };
  const required = (name: string) => {
    const v = optional(name);
    if (v === undefined) problems.push(`${name} is required`);
    return v ?? '';
  };

  const dataBucket = required('DATA_BUCKET');
  if (dataBucket && !BUCKET_NAME.test(dataBucket)) {
    problems.push(`DATA_BUCKET must be a bucket name (not a URI or path), got "${dataBucket}"`);
  }
  const athenaDatabase = required('ATHENA_DATABASE');
  const athenaWorkGroup = required('ATHENA_WORKGROUP');
  const athenaOutputLocation = optional('ATHENA_OUTPUT_LOCATION');
  if (athenaOutputLocation && !athenaOutputLocation.startsWith('s3://')) {
    problems.push(`ATHENA_OUTPUT_LOCATION must be an s3:// URI, got "${athenaOutputLocation}"`);
  }
  const redshiftDatabase = required('REDSHIFT_DATABASE');
  const redshiftWorkgroup = optional('REDSHIFT_WORKGROUP');
  const redshiftClusterId = optional('REDSHIFT_CLUSTER_ID');
  if (!redshiftWorkgroup && !redshiftClusterId)
    problems.push('REDSHIFT_WORKGROUP or REDSHIFT_CLUSTER_ID is required');
  if (redshiftWorkgroup && redshiftClusterId)
    problems.push('set only one of REDSHIFT_WORKGROUP and REDSHIFT_CLUSTER_ID');
  const redshiftDbUser = optional('REDSHIFT_DB_USER');
  if (redshiftWorkgroup && redshiftDbUser) {
    problems.push(
      'REDSHIFT_DB_USER applies to REDSHIFT_CLUSTER_ID only, not to a Serverless REDSHIFT_WORKGROUP',
    );
  }

  const redshiftCopyRole = optional('REDSHIFT_COPY_ROLE');
  if (
    redshiftCopyRole &&
    redshiftCopyRole !== 'default' &&
    !/^arn:aws[a-z-]*:iam::\d{12}:role\/\S+$/.test(redshiftCopyRole)
  ) {
    problems.push(`REDSHIFT_COPY_ROLE must be an IAM role ARN or "default", got "${redshiftCopyRole}"`);
  }

  if (problems.length > 0) throw new ConfigError(`AWS adapters are misconfigured: ${problems.join('; ')}`);
  return {
    dataBucket,
    dataKmsKeyId: optional('DATA_KMS_KEY_ID'),
    athenaDatabase,
    athenaWorkGroup,
    athenaOutputLocation,
    athenaManagedTables: (optional('ATHENA_MANAGED_TABLES') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    redshiftDatabase,
    redshiftWorkgroup,
    redshiftClusterId,
    redshiftSecretArn: optional('REDSHIFT_SECRET_ARN'),
    redshiftDbUser,
    redshiftCopyRole,
  };
}

/**
 * Builds the AWS adapters of the three ports from the environment (see {@link readAwsAdaptersConfig}),
 * failing fast on bad configuration. Clients default to the process-wide {@link defaultAwsClients};
 * pass some or all to inject them (tests, custom retry or region settings).
 *
 * @example const { objectStore, sqlEngine, resultsStore } = createAwsAdapters(process.env);
 */
export function createAwsAdapters(env: NodeJS.ProcessEnv, clients: Partial<AwsClients> = {}): AwsAdapters {
  const config = readAwsAdaptersConfig(env);
  const s3 = clients.s3 ?? defaultAwsClients().s3;
  const athena = clients.athena ?? defaultAwsClients().athena;
  const redshiftData = clients.redshiftData ?? defaultAwsClients().redshiftData;
  const objectStore = new S3ObjectStore({
    client: s3,
    bucket: config.dataBucket,
    kmsKeyId: config.dataKmsKeyId,
  });
  return {
    objectStore,
    sqlEngine: new AthenaSqlEngine({
      client: athena,
      s3Client: s3,
      database: config.athenaDatabase,
      workGroup: config.athenaWorkGroup,
      outputLocation: config.athenaOutputLocation,
      dataBucket: config.dataBucket,
      managedTables: config.athenaManagedTables,
    }),
    resultsStore: new RedshiftDataResultsStore({
      client: redshiftData,
      database: config.redshiftDatabase,
      workgroupName: config.redshiftWorkgroup,
      clusterIdentifier: config.redshiftClusterId,
      secretArn: config.redshiftSecretArn,
      dbUser: config.redshiftDbUser,
      ...(config.redshiftCopyRole
        ? { bulkLoad: { objectStore, bucket: config.dataBucket, iamRole: config.redshiftCopyRole } }
        : {}),
    }),
  };
}
