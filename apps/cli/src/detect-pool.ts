import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { memorySizeBytes } from '@splitwatch/core';
import type { LocalAdapterConfig, StepLogger } from '@splitwatch/handlers';
import { REPO_ROOT } from './paths';

/** Messages to a Detect worker. */
export type PoolRequest = { kind: 'detect'; id: number; event: unknown } | { kind: 'close' };

/** Messages from a Detect worker. */
export type PoolReply =
  | { kind: 'done'; id: number; output: unknown }
  | { kind: 'failed'; id: number; error: { name: string; message: string; stack?: string; cause?: string } }
  | { kind: 'log'; entry: Parameters<StepLogger>[0] };

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

interface Task {
  id: number;
  event: unknown;
  resolve: (output: unknown) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

/**
 * Scores Detect's account slices on worker threads: the local counterpart of the Map state's parallel Lambdas. The
 * slices' JavaScript (windows, split score, reasons, models) is CPU-bound, so in one thread eight slices take eight
 * times one; here each worker takes the next waiting slice. Workers start on first use and load the TypeScript
 * sources through tsx, as the CLI does; each serves the same Detect handler with its own adapters.
 */
export class DetectPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  /** Workers started so far: each gets its own number (its spill folder), also when it replaces one that died. */
  private started = 0;
  private closed = false;

  constructor(private readonly options: DetectPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 2) {
      throw new RangeError(`A Detect pool needs 2 or more workers, got ${options.workers}`);
    }
  }

  /** Runs one DetectPartition event on the next free worker; rejects with the handler's error (same name). */
  run(event: unknown): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('The Detect pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, event, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Closes every idle worker's adapters and stops it; a worker still scoring a slice (the run failed elsewhere, and
   * the Map no longer waits for it) is terminated, and its slice fails.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('The Detect pool closed before this slice ran'));
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((done) => {
            s.worker.once('exit', () => done());
            if (s.task) {
              s.task.reject(new Error('The Detect pool closed while this slice ran'));
              s.task = null;
              void s.worker.terminate();
            } else s.worker.postMessage({ kind: 'close' } satisfies PoolRequest);
          }),
      ),
    );
    this.slots.length = 0;
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (!slot && this.slots.length < this.options.workers) slot = this.start(this.started++);
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.postMessage({ kind: 'detect', id: task.id, event: task.event } satisfies PoolRequest);
    }
  }

  private start(index: number): Slot {
    const file = join(__dirname, 'detect-worker.ts');
    // The worker registers tsx's require hook itself (a worker does not inherit the parent's loader), resolved from
    // here so that it loads the same copy; workspace libs resolve through the same tsconfig as the CLI's. The worker
    // must not need a dynamic import() of TypeScript, which that hook does not serve (see detect-worker.ts).
    const bootstrap = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(file)});`;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: { adapters: workerAdapterConfig(this.options.adapters, this.options.workers, index) },
      env: { ...process.env, TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? join(REPO_ROOT, 'tsconfig.json') },
    });
    const slot: Slot = { worker, task: null };
    worker.on('message', (reply: PoolReply) => {
      if (reply.kind === 'log') {
        this.options.logger?.(reply.entry);
        return;
      }
      const task = slot.task;
      if (!task || task.id !== reply.id) return;
      slot.task = null;
      if (reply.kind === 'done') task.resolve(reply.output);
      else {
        const err = new Error(reply.error.message, reply.error.cause ? { cause: reply.error.cause } : undefined);
        err.name = reply.error.name;
        if (reply.error.stack) err.stack = reply.error.stack;
        task.reject(err);
      }
      this.dispatch();
    });
    // A worker that dies (it could not start, or crashed) fails its slice, and the pool starts another for the rest.
    const died = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      slot.task?.reject(err);
      slot.task = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', died);
    worker.on('exit', (code) => {
      if (!this.closed || slot.task) died(new Error(`A Detect worker stopped (exit code ${code})`));
    });
    this.slots.push(slot);
    return slot;
  }
}
