import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebReadableStream } from 'node:stream/web';
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  ConfigError,
  ObjectNotFoundError,
  SplitwatchError,
  TransientError,
  type ObjectInfo,
  type ObjectStore,
} from '@splitwatch/core';
import { awsErrorName, describeAwsError, isTransientAwsError } from './aws-errors';

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /** KMS key for SSE-KMS; without it objects are written with SSE-S3 (AES256). */
  kmsKeyId?: string;
}

/** DeleteObjects accepts at most 1000 keys per request. */
const DELETE_BATCH_SIZE = 1000;

/** Per-key DeleteObjects error codes that a later retry can clear. */
const TRANSIENT_DELETE_CODES = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout']);

const CONTENT_TYPES: Record<string, string> = {
  json: 'application/json',
  html: 'text/html; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  sql: 'text/plain; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

/** Content type from the key's extension, so a report put without one is still served as HTML. */
function contentTypeFor(key: string, fallback: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return (ext && CONTENT_TYPES[ext]) || fallback;
}

/** URL-encodes a key for CopySource, keeping `/` between segments as S3 expects. */
export function encodeCopySourceKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * Lists every object under `prefix` (all ListObjectsV2 pages), sorted by key. Zero-byte "folder" markers
 * (keys ending in `/`) are left out, as a local directory listing would.
 */
export async function listS3Objects(client: S3Client, bucket: string, prefix: string): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of page.Contents ?? []) {
      if (o.Key !== undefined && !o.Key.endsWith('/')) objects.push({ key: o.Key, size: o.Size ?? 0, ...(o.ETag ? { version: o.ETag } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

type Body = NonNullable<GetObjectCommandOutput['Body']>;

/**
 * ObjectStore over one S3 bucket. Every write is encrypted at rest (SSE-KMS with `kmsKeyId`, else SSE-S3);
 * missing keys raise ObjectNotFoundError, throttling and S3 5xx raise TransientError.
 *
 * @example new S3ObjectStore({ client: new S3Client({}), bucket: 'splitwatch-data-dev', kmsKeyId })
 */
export class S3ObjectStore implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly encryption: Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId'>;

  constructor(options: S3ObjectStoreOptions) {
    if (!options.bucket) throw new ConfigError('S3ObjectStore needs a bucket name');
    this.client = options.client;
    this.bucket = options.bucket;
    this.location = `s3://${options.bucket}`;
    this.encryption = options.kmsKeyId
      ? { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: options.kmsKeyId }
      : { ServerSideEncryption: 'AES256' };
  }

  async getText(key: string): Promise<string> {
    return this.read(key, (body) => body.transformToString('utf-8'));
  }

  async getBytes(key: string): Promise<Uint8Array> {
    return this.read(key, (body) => body.transformToByteArray());
  }

  async getStream(key: string): Promise<Readable> {
    return this.read(key, async (body) =>
      body instanceof Readable
        ? body
        : Readable.fromWeb(body.transformToWebStream() as unknown as NodeWebReadableStream<Uint8Array>),
    );
  }

  async putText(key: string, body: string, contentType?: string): Promise<void> {
    await this.put(key, body, contentType ?? contentTypeFor(key, 'text/plain; charset=utf-8'));
  }

  /** PutObject with `If-None-Match: *`: S3 answers 412 when the key exists (and 409 to a concurrent conditional write). */
  async putTextIfAbsent(key: string, body: string, contentType?: string): Promise<boolean> {
    try {
      await this.client.send(
        this.putCommand(key, body, contentType ?? contentTypeFor(key, 'text/plain; charset=utf-8'), undefined, { IfNoneMatch: '*' }),
      );
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw this.mapError(err, 'PutObject', key);
    }
  }

  async putBytes(key: string, body: Uint8Array, contentType?: string): Promise<void> {
    await this.put(key, body, contentType ?? contentTypeFor(key, 'application/octet-stream'));
  }

  /** Streams a local file with its size as ContentLength (single PutObject, so files up to 5 GB). */
  async putFile(key: string, localPath: string, contentType?: string): Promise<void> {
    const { size } = await stat(localPath);
    const body = createReadStream(localPath);
    try {
      await this.put(key, body, contentType ?? contentTypeFor(key, 'application/octet-stream'), size);
    } finally {
      body.destroy();
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw this.mapError(err, 'HeadObject', key);
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    try {
      return await listS3Objects(this.client, this.bucket, prefix);
    } catch (err) {
      throw this.mapError(err, 'ListObjectsV2', prefix);
    }
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: toKey,
          CopySource: `${this.bucket}/${encodeCopySourceKey(fromKey)}`,
          ...this.encryption,
        }),
      );
    } catch (err) {
      throw this.mapError(err, 'CopyObject', fromKey);
    }
  }

  /** Deletes in batches of 1000; keys S3 could not delete are reported together in one error. */
  async delete(keys: string[]): Promise<void> {
    const failures: { key: string; code: string; message: string }[] = [];
    for (let i = 0; i < keys.length; i += DELETE_BATCH_SIZE) {
      const batch = keys.slice(i, i + DELETE_BATCH_SIZE);
      let errors;
      try {
        ({ Errors: errors } = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        ));
      } catch (err) {
        throw this.mapError(err, 'DeleteObjects', batch[0]);
      }
      for (const e of errors ?? []) {
        failures.push({ key: e.Key ?? '?', code: e.Code ?? 'Unknown', message: e.Message ?? '' });
      }
    }
    if (failures.length === 0) return;
    const shown = failures
      .slice(0, 10)
      .map((f) => `${this.location}/${f.key} (${f.code}${f.message ? `: ${f.message}` : ''})`);
    const more = failures.length > shown.length ? ` and ${failures.length - shown.length} more` : '';
    const message = `Could not delete ${failures.length} of ${keys.length} objects: ${shown.join('; ')}${more}`;
    throw failures.every((f) => TRANSIENT_DELETE_CODES.has(f.code))
      ? new TransientError(message)
      : new SplitwatchError(message);
  }

  private async read<T>(key: string, consume: (body: Body) => Promise<T>): Promise<T> {
    try {
      const { Body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!Body) throw new SplitwatchError(`S3 returned no body for ${this.uri(key)}`);
      return await consume(Body);
    } catch (err) {
      throw this.mapError(err, 'GetObject', key);
    }
  }

  /** A PutObject with the store's encryption (and `extra`, e.g. a condition). */
  private putCommand(
    key: string,
    body: PutObjectCommandInput['Body'],
    contentType: string,
    length?: number,
    extra: Partial<PutObjectCommandInput> = {},
  ): PutObjectCommand {
    return new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ...(length !== undefined ? { ContentLength: length } : {}),
      ...extra,
      ...this.encryption,
    });
  }

  private async put(key: string, body: PutObjectCommandInput['Body'], contentType: string, length?: number) {
    try {
      await this.client.send(this.putCommand(key, body, contentType, length));
    } catch (err) {
      throw this.mapError(err, 'PutObject', key);
    }
  }

  private uri(key: string): string {
    return `${this.location}/${key}`;
  }

  private mapError(err: unknown, operation: string, key: string | undefined): Error {
    if (err instanceof SplitwatchError) return err;
    const where = key === undefined ? this.location : this.uri(key);
    if (isNotFound(err)) return new ObjectNotFoundError(`Object not found: ${where}`, { cause: err });
    const message = `S3 ${operation} on ${where} failed: ${describeAwsError(err)}`;
    if (isTransientAwsError(err)) return new TransientError(message, { cause: err });
    return new SplitwatchError(message, { cause: err });
  }
}

function isNotFound(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'NoSuchKey' || name === 'NotFound';
}
