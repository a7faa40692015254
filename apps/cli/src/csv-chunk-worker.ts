/**
 * A worker thread of the CSV chunk pool (see csv-chunk-pool.ts): parses, validates and stages chunks of a CSV file
 * with the same code ingest runs in one stream, and hands the staged bytes back without copying them.
 */
import './polyfills';
import { parentPort } from 'node:worker_threads';
import { stageCsvChunk, transferablesOf, type CsvChunkJob } from '@splitwatch/use-cases';
import { failedReply, type PoolReply, type PoolRequest } from './worker-pool';

const port = parentPort;
if (!port) throw new Error('csv-chunk-worker.ts runs only as a worker thread of the CSV chunk pool');

port.on('message', (message: PoolRequest) => {
  if (message.kind === 'close') {
    port.close();
    return;
  }
  try {
    const output = stageCsvChunk(message.payload as CsvChunkJob);
    port.postMessage(
      { kind: 'done', id: message.id, output } satisfies PoolReply,
      output.aligned ? transferablesOf(output.staged) : [],
    );
  } catch (err) {
    port.postMessage(failedReply(message.id, err));
  }
});
