import type { CsvChunkJob, CsvChunkOutcome, CsvChunkRunner } from '@splitwatch/use-cases';
import { WorkerPool } from './worker-pool';

/**
 * Ingest's CSV chunks parsed and validated on worker threads (the CLI's; a Lambda reads its file in one stream).
 * A chunk's bytes are copied to the worker as it is posted (a memory copy, far cheaper than parsing them); the
 * staged bytes come back transferred, without a copy.
 */
export class CsvChunkPool implements CsvChunkRunner {
  private readonly pool: WorkerPool;
  readonly concurrency: number;

  constructor(
    workers: number,
    readonly chunkBytes?: number,
  ) {
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`A CSV chunk pool needs 1 or more workers, got ${workers}`);
    this.concurrency = workers;
    this.pool = new WorkerPool({ name: 'CSV chunk', file: 'csv-chunk-worker.ts', workers });
  }

  run(job: CsvChunkJob): Promise<CsvChunkOutcome> {
    return this.pool.run(job) as Promise<CsvChunkOutcome>;
  }

  /** Stops the workers (their heaps are freed before the SQL engine's phase); the next chunk starts them again. */
  release(): Promise<void> {
    return this.pool.release();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
