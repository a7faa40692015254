/**
 * A worker thread of the local Detect pool (see detect-pool.ts): opens its own embedded adapters (the same data
 * directory, a DuckDB engine of its own) and serves DetectPartition events with the same handler the Lambda runs,
 * one at a time, until the pool says `close`.
 */
import './polyfills';
import { parentPort, workerData } from 'node:worker_threads';
import { createDetectHandler, once, openLocalAdapters, type Adapters, type LocalAdapterConfig } from '@splitwatch/handlers';
import type { Context } from 'aws-lambda';
import * as localAdapters from '@splitwatch/adapters-local';
import { failedReply, type PoolReply, type PoolRequest } from './worker-pool';
import { localLambdaContext } from './lambda-context';

const port = parentPort;
if (!port) throw new Error('detect-worker.ts runs only as a worker thread of the Detect pool');
const { adapters: config } = workerData as { adapters: LocalAdapterConfig };
const adapters = once<Adapters>(() => openLocalAdapters(config, localAdapters));
const handler = createDetectHandler({
  adapters,
  logger: (entry) => {
    port.postMessage({ kind: 'log', entry } satisfies PoolReply);
  },
}) as unknown as (event: unknown, context: Context) => Promise<unknown>;

port.on('message', (message: PoolRequest) => {
  if (message.kind === 'close') {
    void adapters()
      .then((a) => a.close())
      .finally(() => port.close());
    return;
  }
  handler(message.payload, localLambdaContext('DetectPartition')).then(
    (output) => port.postMessage({ kind: 'done', id: message.id, output } satisfies PoolReply),
    (err: unknown) => port.postMessage(failedReply(message.id, err)),
  );
});
