import { AthenaClient } from '@aws-sdk/client-athena';
import { RedshiftDataClient } from '@aws-sdk/client-redshift-data';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Keys, resolveConfig } from '@splitwatch/core';
import { enabledModelKinds, fitModels, modelKey, modelsVersion } from '@splitwatch/use-cases';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';

const s3Client = new S3Client({ region: 'us-east-1' });
const s3 = mockClient(s3Client);

const ENV = {
  DATA_BUCKET: 'splitwatch-data-test',
  ATHENA_DATABASE: 'splitwatch_test',
  ATHENA_WORKGROUP: 'splitwatch-test',
  ATHENA_MANAGED_TABLES: 'transactions,features',
  REDSHIFT_DATABASE: 'dev',
  REDSHIFT_WORKGROUP: 'splitwatch-test',
};

const body = (text: string) => ({
  transformToString: async () => text,
  transformToByteArray: async () => new TextEncoder().encode(text),
});

describe('FitModels finds the models of its config version in S3 (mocked SDK client)', () => {
  beforeEach(() => s3.reset());

  it('lists the model keys instead of probing them, so a role that may not HEAD a missing key still reuses them', async () => {
    const config = resolveConfig({});
    const version = modelsVersion(config);
    const keys = enabledModelKinds(config).map((kind) => modelKey(kind, version));
    expect(keys.length).toBeGreaterThan(0);
    // As S3 answers a HEAD where the role may not list: 403, never a clean 404.
    s3.on(HeadObjectCommand).rejects(
      new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }),
    );
    s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string }) => ({
      Contents: keys.filter((k) => k.startsWith(input.Prefix)).map((Key) => ({ Key, Size: 10, ETag: '"m"' })),
    }));
    s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
      const kind = input.Key.split('/')[1];
      return { Body: body(JSON.stringify({ kind, version, trainingRows: 123, fitSeconds: 1 })) };
    });
    s3.on(PutObjectCommand).resolves({});
    const { createAwsAdapters } = await import('@splitwatch/adapters-aws');
    const { objectStore, sqlEngine } = createAwsAdapters(ENV, {
      s3: s3Client,
      athena: new AthenaClient({ region: 'us-east-1' }),
      redshiftData: new RedshiftDataClient({ region: 'us-east-1' }),
    });

    const result = await fitModels({ objectStore, sqlEngine }, { runId: 'run-1', config });

    expect(result).toMatchObject({ reused: true, version, candidateWindows: 0 });
    expect(result.models.map((m) => m.key)).toEqual(keys);
    expect(s3).toHaveReceivedCommandTimes(HeadObjectCommand, 0);
    // The feature build's state first (none recorded here, so no segment typical days to keep), then the models.
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix)).toEqual([Keys.featuresState, ...keys]);
  });
});
