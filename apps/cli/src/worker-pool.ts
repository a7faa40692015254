import { join } from 'node:path';
import { Worker, type TransferListItem } from 'node:worker_threads';
import type { StepLogger } from '@splitwatch/handlers';
import { REPO_ROOT } from './paths';

/** Messages to a pool's worker. */
export type PoolRequest = { kind: 'task'; id: number; payload: unknown } | { kind: 'close' };

/** Messages from a pool's worker. */
export type PoolReply =
  | { kind: 'done'; id: number; output: unknown }
  | { kind: 'failed'; id: number; error: { name: string; message: string; stack?: string; cause?: string } }
  | { kind: 'log'; entry: Parameters<StepLogger>[0] };

/** The reply for a failed task: the error's name, message, stack and cause (as text) cross the thread boundary. */
export function failedReply(id: number, err: unknown): PoolReply {
  const e = err instanceof Error ? err : new Error(String(err));
  const cause =
    e.cause instanceof Error
      ? `${e.cause.name}: ${e.cause.message}`
      : typeof e.cause === 'string'
        ? e.cause
        : undefined;
  return { kind: 'failed', id, error: { name: e.name, message: e.message, stack: e.stack, cause } };
}

export interface WorkerPoolOptions {
  /** What the pool serves, for its error messages (`Detect`, `CSV chunk`). */
  name: string;
  /** The worker's TypeScript file, beside this one. */
  file: string;
  workers: number;
  /** Each worker's `workerData`, by its number (a worker that replaces a dead one gets a new number). */
  workerData?: (index: number) => unknown;
  logger?: StepLogger;
}

interface Task {
  id: number;
  payload: unknown;
  transfer: TransferListItem[];
  resolve: (output: unknown) => void;
  reject: (err: unknown) => void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

/**
 * Runs tasks on worker threads, each worker taking the next waiting task. Workers start on first use and load the
 * TypeScript sources through tsx, as the CLI does. A task's error comes back with its name and message; a worker that
 * dies fails its task and is replaced for the next.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  /** Workers started so far: each gets its own number, also when it replaces one that died. */
  private started = 0;
  private closed = false;

  constructor(private readonly options: WorkerPoolOptions) {}

  get workers(): number {
    return this.options.workers;
  }

  /** Runs one task on the next free worker; rejects with the worker's error (same name). */
  run(payload: unknown, transfer: TransferListItem[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`The ${this.options.name} pool is closed`));
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, payload, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * Stops every idle worker (it closes what it opened first); a worker still running a task (the run failed
   * elsewhere, and nobody waits for it) is terminated, and its task fails.
   */
  async close(): Promise<void> {
    this.closed = true;
    const name = this.options.name;
    for (const t of this.queue.splice(0)) t.reject(new Error(`The ${name} pool closed before this task ran`));
    await this.stopWorkers('closed');
  }

  /**
   * Stops the workers and frees their memory; the pool stays open and starts workers again for the next task. A task
   * still running (nobody waits for it any more) fails.
   */
  release(): Promise<void> {
    return this.stopWorkers('released its workers');
  }

  /** Asks each idle worker to stop, terminates a busy one (failing its task), and waits until all have exited. */
  private async stopWorkers(what: string): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(
      slots.map(
        (s) =>
          new Promise<void>((done) => {
            s.worker.once('exit', () => done());
            if (s.task) {
              s.task.reject(new Error(`The ${this.options.name} pool ${what} while this task ran`));
              s.task = null;
              void s.worker.terminate();
            } else s.worker.postMessage({ kind: 'close' } satisfies PoolRequest);
          }),
      ),
    );
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.task === null);
      if (!slot && this.slots.length < this.options.workers) slot = this.start(this.started++);
      if (!slot) return;
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.postMessage(
        { kind: 'task', id: task.id, payload: task.payload } satisfies PoolRequest,
        task.transfer,
      );
    }
  }

  private start(index: number): Slot {
    const file = join(__dirname, this.options.file);
    // The worker registers tsx's require hook itself (a worker does not inherit the parent's loader), resolved from
    // here so that it loads the same copy; workspace libs resolve through the same tsconfig as the CLI's. The worker
    // must not need a dynamic import() of TypeScript, which that hook does not serve (see detect-worker.ts).
    const bootstrap = `require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register(); require(${JSON.stringify(file)});`;
    const worker = new Worker(bootstrap, {
      eval: true,
      workerData: this.options.workerData?.(index),
      env: {
        ...process.env,
        TSX_TSCONFIG_PATH: process.env.TSX_TSCONFIG_PATH ?? join(REPO_ROOT, 'tsconfig.json'),
      },
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
        const err = new Error(
          reply.error.message,
          reply.error.cause ? { cause: reply.error.cause } : undefined,
        );
        err.name = reply.error.name;
        if (reply.error.stack) err.stack = reply.error.stack;
        task.reject(err);
      }
      this.dispatch();
    });
    // A worker that dies (it could not start, or crashed) fails its task, and the pool starts another for the rest.
    const died = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      slot.task?.reject(err);
      slot.task = null;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', died);
    worker.on('exit', (code) => {
      if (!this.closed || slot.task)
        died(new Error(`A ${this.options.name} worker stopped (exit code ${code})`));
    });
    this.slots.push(slot);
    return slot;
  }
}
