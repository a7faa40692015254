import { Readable } from 'node:stream';
import type { GetObjectCommandOutput } from '@aws-sdk/client-s3';

/** A sleep that returns at once and records what it was asked to wait, so polling tests are instant. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    sleep: async (ms: number) => {
      calls.push(ms);
    },
  };
}

/** A GetObject body as the SDK returns it in Node: a Readable with the SDK's transform helpers mixed in. */
export function s3Body(content: string | Uint8Array): GetObjectCommandOutput['Body'] {
  const bytes = Buffer.from(content);
  const stream = Readable.from([bytes]);
  return Object.assign(stream, {
    transformToString: async (encoding?: BufferEncoding) => bytes.toString(encoding ?? 'utf-8'),
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => {
      throw new Error('not used in Node');
    },
  }) as unknown as GetObjectCommandOutput['Body'];
}

/** An error shaped like an SDK service exception that has no modelled class (e.g. ThrottlingException). */
export function awsError(name: string, httpStatusCode = 400, message = `${name} from AWS`): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode } });
}

/** Reads a request body (string, bytes or stream) to text. */
export async function bodyText(body: unknown): Promise<string> {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf-8');
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf-8');
}
