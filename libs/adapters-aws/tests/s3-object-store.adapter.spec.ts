import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ObjectNotFoundError, SplitwatchError, TransientError } from '@splitwatch/core';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { S3ObjectStore } from '../src';
import { awsError, bodyText, s3Body } from './helpers';

const BUCKET = 'splitwatch-data-test';

describe('S3ObjectStore', () => {
  const client = new S3Client({ region: 'us-east-1' });
  const s3 = mockClient(client);
  const store = new S3ObjectStore({ client, bucket: BUCKET });

  beforeEach(() => s3.reset());

  it('names its location after the bucket', () => {
    expect(store.location).toBe(`s3://${BUCKET}`);
  });

  describe('reading', () => {
    it('reads an object as text', async () => {
      // Prepare
      s3.on(GetObjectCommand).resolves({ Body: s3Body('{"ok":true}') });

      // Act
      const text = await store.getText('runs/r1/manifest.json');

      // Assess
      expect(text).toBe('{"ok":true}');
      expect(s3).toHaveReceivedCommandWith(GetObjectCommand, {
        Bucket: BUCKET,
        Key: 'runs/r1/manifest.json',
      });
    });

    it('reads an object as bytes', async () => {
      s3.on(GetObjectCommand).resolves({ Body: s3Body(new Uint8Array([1, 2, 255])) });

      const bytes = await store.getBytes('models/m/1/model.bin');

      expect(Array.from(bytes)).toEqual([1, 2, 255]);
    });

    it('returns the body as a Node stream', async () => {
      s3.on(GetObjectCommand).resolves({ Body: s3Body('a,b\n1,2\n') });

      const stream = await store.getStream('raw/log.csv');

      expect(stream).toBeInstanceOf(Readable);
      expect(await bodyText(stream)).toBe('a,b\n1,2\n');
    });

    it('raises ObjectNotFoundError naming the s3 URI when the key is absent', async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
      );

      const read = store.getText('raw/missing.csv');

      await expect(read).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(read).rejects.toThrow(`Object not found: s3://${BUCKET}/raw/missing.csv`);
    });

    it('raises TransientError when S3 asks to slow down', async () => {
      s3.on(GetObjectCommand).rejects(awsError('SlowDown', 503, 'Please reduce your request rate.'));

      await expect(store.getBytes('raw/a.csv')).rejects.toMatchObject({
        name: 'TransientError',
        message: `S3 GetObject on s3://${BUCKET}/raw/a.csv failed: SlowDown: Please reduce your request rate.`,
      });
    });

    it('wraps other failures with the operation and the s3 URI', async () => {
      s3.on(GetObjectCommand).rejects(awsError('AccessDenied', 403, 'Access Denied'));

      const read = store.getText('raw/a.csv');

      await expect(read).rejects.toBeInstanceOf(SplitwatchError);
      await expect(read).rejects.toThrow(
        `S3 GetObject on s3://${BUCKET}/raw/a.csv failed: AccessDenied: Access Denied`,
      );
    });
  });

  describe('exists', () => {
    it('is true when HeadObject succeeds', async () => {
      s3.on(HeadObjectCommand).resolves({ ContentLength: 3 });

      await expect(store.exists('a/b.json')).resolves.toBe(true);
      expect(s3).toHaveReceivedCommandWith(HeadObjectCommand, { Bucket: BUCKET, Key: 'a/b.json' });
    });

    it('is false when HeadObject answers NotFound', async () => {
      s3.on(HeadObjectCommand).rejects(
        new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } }),
      );

      await expect(store.exists('a/missing.json')).resolves.toBe(false);
    });
  });

  describe('writing', () => {
    it('encrypts with SSE-S3 when no KMS key is configured', async () => {
      s3.on(PutObjectCommand).resolves({});

      await store.putText('notes/readme.txt', 'hola');

      expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
        Bucket: BUCKET,
        Key: 'notes/readme.txt',
        Body: 'hola',
        ContentType: 'text/plain; charset=utf-8',
        ServerSideEncryption: 'AES256',
      });
      expect(s3.commandCalls(PutObjectCommand)[0].args[0].input.SSEKMSKeyId).toBeUndefined();
    });

    it('writes only where nothing is (If-None-Match: *), and says false when S3 finds the key taken', async () => {
      s3.on(PutObjectCommand).resolvesOnce({}).rejectsOnce(awsError('PreconditionFailed', 412)).rejectsOnce(awsError('ConditionalRequestConflict', 409)).rejects(awsError('AccessDenied', 403));

      expect(await store.putTextIfAbsent('runs/lock.json', '{"runId":"r1"}')).toBe(true);
      expect(await store.putTextIfAbsent('runs/lock.json', '{"runId":"r2"}')).toBe(false);
      expect(await store.putTextIfAbsent('runs/lock.json', '{"runId":"r3"}')).toBe(false);
      await expect(store.putTextIfAbsent('runs/lock.json', '{"runId":"r4"}')).rejects.toThrow(SplitwatchError);

      expect(s3).toHaveReceivedNthCommandWith(1, PutObjectCommand, {
        Bucket: BUCKET,
        Key: 'runs/lock.json',
        Body: '{"runId":"r1"}',
        ContentType: 'application/json',
        IfNoneMatch: '*',
        ServerSideEncryption: 'AES256',
      });
    });

    it('encrypts with the KMS key when one is configured', async () => {
      const kms = new S3ObjectStore({
        client,
        bucket: BUCKET,
        kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/k1',
      });
      s3.on(PutObjectCommand).resolves({});

      await kms.putText('runs/r1/manifest.json', '{}');

      expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
        Key: 'runs/r1/manifest.json',
        ContentType: 'application/json',
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: 'arn:aws:kms:us-east-1:111122223333:key/k1',
      });
    });

    it('writes bytes with the given content type', async () => {
      s3.on(PutObjectCommand).resolves({});
      const body = new Uint8Array([80, 65, 82, 49]);

      await store.putBytes('curated/transactions/dt=2021-01-01/a.parquet', body, 'application/x-parquet');

      expect(s3).toHaveReceivedCommandWith(PutObjectCommand, {
        Body: body,
        ContentType: 'application/x-parquet',
      });
    });

    it('streams a local file with its size as ContentLength', async () => {
      // Prepare
      const dir = await mkdtemp(join(tmpdir(), 'splitwatch-s3-'));
      const path = join(dir, 'report.html');
      await writeFile(path, '<h1>alerts</h1>');
      let uploaded = '';
      s3.on(PutObjectCommand).callsFake(async (input) => {
        uploaded = await bodyText(input.Body);
        return {};
      });

      // Act
      try {
        await store.putFile('reports/latest/index.html', path);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }

      // Assess
      const input = s3.commandCalls(PutObjectCommand)[0].args[0].input;
      expect(input).toMatchObject({
        Bucket: BUCKET,
        Key: 'reports/latest/index.html',
        ContentLength: 15,
        ContentType: 'text/html; charset=utf-8',
        ServerSideEncryption: 'AES256',
      });
      expect(input.Body).toBeInstanceOf(Readable);
      expect(uploaded).toBe('<h1>alerts</h1>');
    });
  });

  describe('list', () => {
    it('lists every page of a prefix, sorted by key, without folder markers, with ETags as versions', async () => {
      // Prepare
      const prefix = 'curated/transactions/';
      s3.on(ListObjectsV2Command, { Prefix: prefix, ContinuationToken: undefined }).resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-2',
        Contents: [
          { Key: `${prefix}dt=2021-01-02/b.parquet`, Size: 20 },
          { Key: `${prefix}dt=2021-01-02/`, Size: 0 },
        ],
      });
      s3.on(ListObjectsV2Command, { ContinuationToken: 'page-2' }).resolves({
        IsTruncated: true,
        NextContinuationToken: 'page-3',
        Contents: [{ Key: `${prefix}dt=2021-01-01/a.parquet`, Size: 10, ETag: '"9b2cf535f27731c974343645a3985328"' }],
      });
      s3.on(ListObjectsV2Command, { ContinuationToken: 'page-3' }).resolves({
        IsTruncated: false,
        Contents: [{ Key: `${prefix}dt=2021-01-03/c.parquet`, Size: 30 }],
      });

      // Act
      const objects = await store.list(prefix);

      // Assess
      // The ETag is the object's version: BuildFeatures compares it with the one its last build saw.
      expect(objects).toEqual([
        { key: `${prefix}dt=2021-01-01/a.parquet`, size: 10, version: '"9b2cf535f27731c974343645a3985328"' },
        { key: `${prefix}dt=2021-01-02/b.parquet`, size: 20 },
        { key: `${prefix}dt=2021-01-03/c.parquet`, size: 30 },
      ]);
      expect(s3).toHaveReceivedCommandTimes(ListObjectsV2Command, 3);
      expect(s3).toHaveReceivedNthCommandWith(2, ListObjectsV2Command, {
        Bucket: BUCKET,
        Prefix: prefix,
        ContinuationToken: 'page-2',
      });
    });

    it('returns an empty list for an empty prefix', async () => {
      s3.on(ListObjectsV2Command).resolves({ IsTruncated: false, KeyCount: 0 });

      await expect(store.list('features/windows/')).resolves.toEqual([]);
    });
  });

  describe('copy', () => {
    it('URL-encodes the copy source and keeps the encryption', async () => {
      s3.on(CopyObjectCommand).resolves({});

      await store.copy('raw/extract 2021/ñ=1+2.csv', 'archive/extract.csv');

      expect(s3).toHaveReceivedCommandWith(CopyObjectCommand, {
        Bucket: BUCKET,
        Key: 'archive/extract.csv',
        CopySource: `${BUCKET}/raw/extract%202021/%C3%B1%3D1%2B2.csv`,
        ServerSideEncryption: 'AES256',
      });
    });

    it('raises ObjectNotFoundError naming the source when it is absent', async () => {
      s3.on(CopyObjectCommand).rejects(
        new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }),
      );

      await expect(store.copy('raw/gone.csv', 'archive/gone.csv')).rejects.toMatchObject({
        name: 'ObjectNotFoundError',
        message: `Object not found: s3://${BUCKET}/raw/gone.csv`,
      });
    });
  });

  describe('delete', () => {
    it('deletes in batches of 1000 keys', async () => {
      // Prepare
      const keys = Array.from(
        { length: 2500 },
        (_, i) => `scores/run=r1/part-${String(i).padStart(4, '0')}.parquet`,
      );
      s3.on(DeleteObjectsCommand).resolves({});

      // Act
      await store.delete(keys);

      // Assess
      const batches = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete?.Objects ?? []);
      expect(batches.map((b) => b.length)).toEqual([1000, 1000, 500]);
      expect(batches.flat().map((o) => o.Key)).toEqual(keys);
      expect(s3).toHaveReceivedCommandWith(DeleteObjectsCommand, {
        Bucket: BUCKET,
        Delete: expect.objectContaining({ Quiet: true }),
      });
    });

    it('sends nothing for an empty key list', async () => {
      await store.delete([]);

      expect(s3).not.toHaveReceivedAnyCommand();
    });

    it('reports the keys S3 could not delete', async () => {
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: 'a/locked.json', Code: 'AccessDenied', Message: 'Access Denied' }],
      });

      const removal = store.delete(['a/ok.json', 'a/locked.json']);

      await expect(removal).rejects.toBeInstanceOf(SplitwatchError);
      await expect(removal).rejects.toThrow(
        `Could not delete 1 of 2 objects: s3://${BUCKET}/a/locked.json (AccessDenied: Access Denied)`,
      );
    });

    it('raises TransientError when every failed key can be retried', async () => {
      s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'a/b.json', Code: 'SlowDown' }] });

      await expect(store.delete(['a/b.json'])).rejects.toBeInstanceOf(TransientError);
    });
  });
});
