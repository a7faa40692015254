import './polyfills';
import { readFile } from 'node:fs/promises';
import { ExecutionError, StateMachine, type RunOptions, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { parse } from 'yaml';
import type { Context } from 'aws-lambda';
import { newRunId, TASK_HANDLERS, type AdapterProvider, type PipelineState, type StepLogger } from '@splitwatch/handlers';
import { CsvChunkPool } from './csv-chunk-pool';
import { DetectPool, type DetectPoolOptions } from './detect-pool';
import { LOCAL_TASK_TIMEOUT_SECONDS, localLambdaContext } from './lambda-context';

export { LOCAL_TASK_TIMEOUT_SECONDS, localLambdaContext };

type StateName = keyof typeof TASK_HANDLERS;

/** A failed pipeline execution, with the state that failed and the error it caught. */
export class PipelineFailedError extends Error {
  constructor(
    message: string,
    readonly failedState: string | undefined,
    readonly stepError: string | undefined,
  ) {
    super(message);
    this.name = 'PipelineFailedError';
  }
}

/**
 * Makes the deployed ASL runnable locally: every Task `Resource` written as a CloudFormation intrinsic
 * (`Fn::ImportValue`, `Fn::GetAtt`) becomes a placeholder Lambda ARN; the local executor then routes each
 * Task, by state name, to the same handler code the Lambda runs. Task timeouts, which mirror the Lambda limits,
 * become `taskTimeoutSeconds` (the ASL default of 60 s would otherwise apply to a Task without one).
 */
export function localizeDefinition(def: unknown, taskTimeoutSeconds = LOCAL_TASK_TIMEOUT_SECONDS): StateMachineDefinition {
  const visitStates = (states: Record<string, Record<string, unknown>>) => {
    for (const [name, state] of Object.entries(states)) {
      if (state.Type === 'Task' && typeof state.Resource !== 'string') {
        state.Resource = `arn:aws:lambda:us-east-1:000000000000:function:splitwatch-local-${name}`;
      }
      if (state.Type === 'Task') {
        delete state.TimeoutSecondsPath;
        state.TimeoutSeconds = taskTimeoutSeconds;
      }
      const nested = [state.Iterator, state.ItemProcessor, ...((state.Branches as unknown[]) ?? [])];
      for (const n of nested) if (n && typeof n === 'object') visitStates((n as { States: never }).States);
    }
  };
  const copy = JSON.parse(JSON.stringify(def)) as { States: Record<string, Record<string, unknown>> };
  visitStates(copy.States);
  return copy as unknown as StateMachineDefinition;
}

/** Every state, including those inside Map and Parallel states, with its name. */
function allStates(states: StateMachineDefinition['States']): [string, { Type: string }][] {
  const out: [string, { Type: string }][] = [];
  for (const [name, state] of Object.entries(states)) {
    out.push([name, state]);
    const s = state as unknown as Record<string, unknown>;
    const nested = [s.Iterator, s.ItemProcessor, ...((s.Branches as unknown[]) ?? [])];
    for (const n of nested) if (n && typeof n === 'object') out.push(...allStates((n as StateMachineDefinition).States));
  }
  return out;
}

export async function loadDefinition(aslPath: string): Promise<StateMachineDefinition> {
  return localizeDefinition(parse(await readFile(aslPath, 'utf8')));
}

export interface LocalRunOptions {
  aslPath: string;
  input: PipelineState;
  adapters: AdapterProvider;
  logger?: StepLogger;
  onProgress?: (message: string) => void;
  /**
   * Scores Detect's account slices on this many worker threads, each with its own engine on `adapters` (the Map
   * state's parallel Lambdas, locally). Without it, or with 1 worker, the slices run in this thread.
   */
  detectWorkers?: Omit<DetectPoolOptions, 'logger'>;
  /** Parses and validates ingest's CSV files in chunks on this many worker threads (2 or more; else one stream). */
  ingestWorkers?: number;
  /** Called when a state is entered and left, for progress and timings; `nested` for states inside a Map or Parallel. */
  onState?: (e: { state: string; event: 'entered' | 'exited' | 'failed' | 'retried'; at: number; nested: boolean }) => void;
}

/**
 * The local executor reports a failed Task's `Cause` as `error.cause ?? error.message`; an error whose cause is an
 * object (middy's TimeoutError, an adapter error wrapping the driver's) would read "[object Object]". The same error
 * (name kept, so the ASL's Catch and Retry match as before) with its message and its cause's as the text.
 */
export function withReadableCause(err: unknown): unknown {
  if (!(err instanceof Error) || err.cause === undefined || typeof err.cause === 'string') return err;
  const inner = err.cause instanceof Error ? `${err.cause.name}: ${err.cause.message}` : JSON.stringify(err.cause);
  const out = new Error(err.message, { cause: `${err.message} (cause: ${inner})` });
  out.name = err.name;
  out.stack = err.stack;
  return out;
}

/** The Map's Task that scores one account slice: the one a Detect pool serves. */
const DETECT_TASK: StateName = 'DetectPartition';

/**
 * Executes the pipeline ASL with aws-local-stepfunctions, each Task served by its handler — Detect's slices by a
 * pool of worker threads when `detectWorkers` asks for two or more, ingest's CSV chunks by another when
 * `ingestWorkers` does.
 */
export async function runPipelineLocally(opts: LocalRunOptions): Promise<PipelineState> {
  const definition = await loadDefinition(opts.aslPath);
  // Workers start only when a CSV file is read.
  const csvPool = opts.ingestWorkers && opts.ingestWorkers > 1 ? new CsvChunkPool(opts.ingestWorkers) : null;
  const adapters: AdapterProvider = csvPool ? async () => ({ ...(await opts.adapters()), csvChunks: csvPool }) : opts.adapters;
  const handlers: NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of allStates(definition.States)) {
    if (state.Type !== 'Task') continue;
    const factory = TASK_HANDLERS[name as StateName];
    if (!factory) throw new Error(`The ASL Task "${name}" has no local handler; known: ${Object.keys(TASK_HANDLERS).join(', ')}`);
    const handler = factory({ adapters, logger: opts.logger, onProgress: opts.onProgress }) as unknown as (
      e: unknown,
      c: Context,
    ) => Promise<unknown>;
    handlers[name] = async (input) => {
      try {
        return (await handler(input, localLambdaContext(name))) as never;
      } catch (err) {
        throw withReadableCause(err);
      }
    };
    retryIntervalOverrides[name] = 0;
  }
  const pool =
    opts.detectWorkers && opts.detectWorkers.workers > 1 ? new DetectPool({ ...opts.detectWorkers, logger: opts.logger }) : null;
  if (pool && handlers[DETECT_TASK]) {
    handlers[DETECT_TASK] = async (input) => {
      try {
        return (await pool.run(input)) as never;
      } catch (err) {
        throw withReadableCause(err);
      }
    };
  }
  try {
    return await execute(definition, opts, handlers, retryIntervalOverrides);
  } finally {
    await pool?.close();
    await csvPool?.close();
  }
}

/** Runs the state machine with the given Task handlers and turns a failed execution into a PipelineFailedError. */
async function execute(
  definition: StateMachineDefinition,
  opts: LocalRunOptions,
  handlers: NonNullable<NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers']>,
  retryIntervalOverrides: Record<string, number>,
): Promise<PipelineState> {
  const machine = new StateMachine(definition, { validationOptions: { checkArn: false } });
  const execution = machine.run(opts.input as never, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
    // As in AWS, the Prepare state takes the run id from the execution name unless the input has one.
    context: { Execution: { Name: opts.input.runId ?? newRunId() } } as never,
  });
  let failedState: string | undefined;
  let stepError: string | undefined;
  const events = (async () => {
    for await (const e of execution.eventLogs) {
      const ev = e as { type: string; state?: { name: string }; Error?: string; Cause?: string; timestamp?: number };
      const at = ev.timestamp ?? Date.now();
      if (!ev.state) continue;
      const nested = !(ev.state.name in definition.States);
      if (ev.type === 'StateEntered') opts.onState?.({ state: ev.state.name, event: 'entered', at, nested });
      else if (ev.type === 'StateExited') opts.onState?.({ state: ev.state.name, event: 'exited', at, nested });
      else if (ev.type === 'StateRetried') opts.onState?.({ state: ev.state.name, event: 'retried', at, nested });
      else if (ev.type === 'StateFailed' || ev.type === 'StateCaught') {
        if (!failedState && ev.state.name !== 'RecordFailure') {
          failedState = ev.state.name;
          stepError = [ev.Error, ev.Cause].filter(Boolean).join(': ');
        }
        opts.onState?.({ state: ev.state.name, event: 'failed', at, nested });
      }
    }
  })();
  try {
    const output = (await execution.result) as PipelineState;
    await events;
    return output;
  } catch (err) {
    await events.catch(() => undefined);
    if (err instanceof ExecutionError) {
      throw new PipelineFailedError(
        `The pipeline failed${failedState ? ` in ${failedState}` : ''}: ${stepError ?? err.message}`,
        failedState,
        stepError,
      );
    }
    throw err;
  }
}
