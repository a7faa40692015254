import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { memorySizeBytes } from '@splitwatch/core';
import type { LocalAdapterConfig, StepLogger } from '@splitwatch/handlers';
import { WorkerPool } from './worker-pool';

export interface DetectPoolOptions {
  /** Worker threads (2 or more; with 1 the runner scores the slices in its own thread). */
  workers: number;
  /** The run's local adapters; each worker opens its own engine on the same data directory. */
  adapters: LocalAdapterConfig;
  logger?: StepLogger;
}

/** The most slices the pipeline's Map scores at once (its MaxConcurrency): more workers would sit idle. */
export const MAX_DETECT_WORKERS = 8;

/** One worker per core, at most {@link MAX_DETECT_WORKERS}. */
export function defaultDetectWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), MAX_DETECT_WORKERS));
}

/** Bytes of a DuckDB size such as `448MB` or `2GiB` (the forms the CLI accepts); anything else is an error. */
export function sizeInBytes(size: string): number {
  const bytes = memorySizeBytes(size);
  if (bytes === undefined) throw new Error(`Not a memory size: "${size}" (expected e.g. 448MB or 2GB)`);
  return bytes;
}

/**
 * Each worker's share of the run: the memory limit (DuckDB's default, 80% of RAM, when none is set) and the cores
 * split evenly, and a spill folder of its own. The run's own engine sits idle while Detect runs.
 */
export function workerAdapterConfig(base: LocalAdapterConfig, workers: number, index: number, pid = process.pid): LocalAdapterConfig {
  const limit = base.duckdbMemoryLimit ? sizeInBytes(base.duckdbMemoryLimit) : 0.8 * totalmem();
  const spillRoot = base.duckdbTempDirectory ?? join(tmpdir(), 'splitwatch-duckdb-spill');
  return {
    ...base,
    duckdbMemoryLimit: `${Math.max(64, Math.floor(limit / workers / 2 ** 20))}MiB`,
    duckdbThreads: Math.max(1, Math.floor((base.duckdbThreads ?? availableParallelism()) / workers)),
    // Beside the run's own spill folder, not in it: an engine may remove its folder when it closes.
    duckdbTempDirectory: `${spillRoot}-detect-${pid}-${index}`,
  };
}

/**
 * Scores Detect's account slices on worker threads: the local counterpart of the Map state's parallel Lambdas. The
 * slices' JavaScript (windows, split score, reasons, models) is CPU-bound, so in one thread eight slices take eight
 * times one; here each worker takes the next waiting slice and serves the same Detect handler with its own adapters.
 */
export class DetectPool {
  private readonly pool: WorkerPool;

  constructor(options: DetectPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 2) {
      throw new RangeError(`A Detect pool needs 2 or more workers, got ${options.workers}`);
    }
    this.pool = new WorkerPool({
      name: 'Detect',
      file: 'detect-worker.ts',
      workers: options.workers,
      workerData: (index) => ({ adapters: workerAdapterConfig(options.adapters, options.workers, index) }),
      logger: options.logger,
    });
  }

  /** Runs one DetectPartition event on the next free worker; rejects with the handler's error (same name). */
  run(event: unknown): Promise<unknown> {
    return this.pool.run(event);
  }

  /** Closes every idle worker's adapters and stops it; a worker still scoring a slice is terminated. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
