import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import { resolveConfig } from '@splitwatch/core';
import {
  acquireRunLock,
  buildFeatures,
  detect,
  fitModels,
  ingest,
  recordFailure,
  releaseRunLock,
  report,
  RunInProgressError,
  sink,
  skippedIngest,
  writeSkippedManifest,
} from '@splitwatch/use-cases';
import type { AdapterProvider } from './adapters';
import { decodeIngestInput, InvalidEventError, runIdOf, type PipelineState } from './pipeline-state';

/** Where a handler reports start and end of its step; Lambda logs JSON lines, the CLI shows progress. */
export interface StepLogger {
  (entry: {
    step: string;
    event: 'start' | 'end' | 'error';
    runId?: string;
    ms?: number;
    message?: string;
  }): void;
}

export const jsonLogger: StepLogger = (entry) =>
  console.log(JSON.stringify({ level: entry.event === 'error' ? 'ERROR' : 'INFO', ...entry }));

export interface HandlerOptions {
  adapters: AdapterProvider;
  logger?: StepLogger;
  onProgress?: (message: string) => void;
}

function stepLogger(step: string, logger: StepLogger): MiddlewareObj<PipelineState, unknown, Error, Context> {
  let started = 0;
  return {
    before: (req) => {
      started = Date.now();
      logger({ step, event: 'start', runId: req.event?.ingest?.runId ?? req.event?.runId });
    },
    // Block bodies: a middleware that returns a value answers the request with it (middy's early response), so a
    // logger that returned something (MessagePort.postMessage returns true) would turn a failed step into a result.
    after: () => {
      logger({ step, event: 'end', ms: Date.now() - started });
    },
    onError: (req) => {
      logger({ step, event: 'error', ms: Date.now() - started, message: req.error?.message });
    },
  };
}

function make<R>(step: string, opts: HandlerOptions, fn: (state: PipelineState) => Promise<R>) {
  return middy<PipelineState, R, Error, Context>()
    .use(stepLogger(step, opts.logger ?? jsonLogger))
    .handler(fn);
}

/** Ingest Task: raw objects → validated, deduplicated curated Parquet. */
export function createIngestHandler(opts: HandlerOptions) {
  return make('ingest', opts, async (state) => {
    const input = decodeIngestInput(state);
    const a = await opts.adapters();
    // The first Task takes the data set for the run; Report (or RecordFailure) gives it back. A run refused it
    // records why and ends (the ASL's SkippedBusy): an error here would raise the function's errors alarm.
    try {
      await acquireRunLock(a.objectStore, input.runId, { onProgress: opts.onProgress });
    } catch (error) {
      if (!(error instanceof RunInProgressError)) throw error;
      await writeSkippedManifest(a.objectStore, input.runId, { step: 'ingest', error: error.name, cause: error.message });
      return skippedIngest(input.runId, error.message);
    }
    return ingest(
      {
        objectStore: a.objectStore,
        sqlEngine: await a.sqlEngine(),
        tmpDir: a.tmpDir,
        onProgress: opts.onProgress,
        ...(a.ingestChunkRows !== undefined ? { curatedChunkRows: a.ingestChunkRows } : {}),
        ...(a.csvChunks ? { csvChunks: a.csvChunks } : {}),
      },
      input,
    );
  });
}

/** BuildFeatures Task: curated transactions → sliding-window features (SQL engine). */
export function createBuildFeaturesHandler(opts: HandlerOptions) {
  return make('build-features', opts, async (state) => {
    const runId = runIdOf(state);
    const config = resolveConfig(state.config);
    const a = await opts.adapters();
    return buildFeatures({ objectStore: a.objectStore, sqlEngine: await a.sqlEngine() }, { runId, config });
  });
}

/** Detect Task: window features → alert episodes. */
export function createDetectHandler(opts: HandlerOptions) {
  return make('detect', opts, async (state) => {
    const runId = runIdOf(state);
    const config = resolveConfig(state.config);
    const a = await opts.adapters();
    const { partition, partitions } = state;
    if (partition !== undefined && (typeof partition !== 'number' || typeof partitions !== 'number')) {
      throw new InvalidEventError(
        'A Detect event with "partition" needs numeric "partition" and "partitions"',
      );
    }
    return detect(
      { objectStore: a.objectStore, sqlEngine: await a.sqlEngine() },
      { runId, config, partition, partitions },
    );
  });
}

/** FitModels Task: fit the unsupervised detectors on a sample of windows, or reuse this config version's. */
export function createFitModelsHandler(opts: HandlerOptions) {
  return make('fit-models', opts, async (state) => {
    const runId = runIdOf(state);
    const config = resolveConfig(state.config);
    const a = await opts.adapters();
    return fitModels({ objectStore: a.objectStore, sqlEngine: await a.sqlEngine() }, { runId, config });
  });
}

/** Sink Task: alert episodes → results store, idempotently. */
export function createSinkHandler(opts: HandlerOptions) {
  return make('sink', opts, async (state) => {
    const runId = runIdOf(state);
    const config = resolveConfig(state.config);
    const a = await opts.adapters();
    return sink({ objectStore: a.objectStore, resultsStore: await a.resultsStore() }, { runId, config });
  });
}

/** Report Task: dashboard page and run manifest. */
export function createReportHandler(opts: HandlerOptions) {
  return make('report', opts, async (state) => {
    const runId = runIdOf(state);
    const a = await opts.adapters();
    const out = await report({ objectStore: a.objectStore, resultsStore: await a.resultsStore(), sqlEngine: await a.sqlEngine() }, { runId });
    await releaseRunLock(a.objectStore, runId);
    return out;
  });
}

/** RecordFailure Task: the caught error into the run's audit trail. */
export function createRecordFailureHandler(opts: HandlerOptions) {
  return make('record-failure', opts, async (state) => {
    const runId = state.ingest?.runId ?? state.runId ?? 'unknown-run';
    const a = await opts.adapters();
    const out = await recordFailure({ objectStore: a.objectStore }, { runId, error: state.error ?? {} });
    await releaseRunLock(a.objectStore, runId);
    return out;
  });
}

/** Every Task state of the pipeline ASL and the handler factory that serves it. */
export const TASK_HANDLERS = {
  Ingest: createIngestHandler,
  BuildFeatures: createBuildFeaturesHandler,
  FitModels: createFitModelsHandler,
  DetectPartition: createDetectHandler,
  Sink: createSinkHandler,
  Report: createReportHandler,
  RecordFailure: createRecordFailureHandler,
} as const;
