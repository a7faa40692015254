import { SplitwatchError } from '@splitwatch/core';
import {
  resolveColumnMap,
  type BuildFeaturesResult,
  type ColumnMap,
  type DetectResult,
  type FitModelsResult,
  type IngestResult,
} from '@splitwatch/use-cases';

/**
 * The state passed between the pipeline's Tasks (ASL ResultPath keeps each step's result under its name).
 * Only keys and counts travel here, never data: Step Functions caps a payload at 256 KB.
 */
export interface PipelineState {
  runId?: string;
  sources?: string[];
  config?: unknown;
  /** Ingest: contract column → the column's name in the input files, for logs with another schema. */
  columnMap?: unknown;
  /** Ingest: read every source again, even those curated before from the same content. */
  reingest?: unknown;
  /** Ingest: object keys of ingested files whose curated rows to withdraw (`sources` may then be empty or absent). */
  withdraw?: unknown;
  /** Set inside the Detect Map: the account slice to score, and how many slices there are. */
  partition?: number;
  partitions?: number;
  ingest?: IngestResult;
  features?: BuildFeaturesResult;
  models?: FitModelsResult;
  /** One result per account slice (the Detect Map), or one for the whole set. */
  detect?: DetectResult[] | DetectResult;
  sink?: { runId: string; written: number; carried: number; retired: number; ensemble: number; store: string };
  report?: { runId: string; reportKey: string; alerts: number; manifestKey: string };
  error?: { Error?: string; Cause?: string };
}

/** The event a step received is not what the state machine sends. */
export class InvalidEventError extends SplitwatchError {}

const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/** A new run id, sortable by time: `YYYYMMDDTHHMMSSZ-xxxxxx`. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}

/** The run id a step works on: set by ingest (or given in the execution input). */
export function runIdOf(state: PipelineState): string {
  const id = state.ingest?.runId ?? state.runId;
  if (!id) throw new InvalidEventError('The pipeline state has no runId (ingest has not run and none was given)');
  if (!RUN_ID_RE.test(id)) throw new InvalidEventError(`Invalid runId ${JSON.stringify(id)}: letters, digits, . _ - only`);
  return id;
}

/** Validates the execution input for ingest: `sources` must be a non-empty list of object keys or prefixes. */
export function decodeIngestInput(state: PipelineState): {
  runId: string;
  sources: string[];
  columnMap?: ColumnMap;
  reingest?: boolean;
  withdraw?: string[];
} {
  if (typeof state !== 'object' || state === null) throw new InvalidEventError('The ingest event must be a JSON object');
  const { withdraw } = state;
  const keyList = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length > 0);
  if (withdraw !== undefined && (!keyList(withdraw) || (withdraw as string[]).length === 0)) {
    throw new InvalidEventError('"withdraw" of the ingest event must be a non-empty list of object keys (e.g. ["raw/2021-11-02.csv"])');
  }
  const withdrawing = withdraw !== undefined;
  const sources = state.sources ?? (withdrawing ? [] : undefined);
  if (!keyList(sources) || ((sources as string[]).length === 0 && !withdrawing)) {
    throw new InvalidEventError('The ingest event needs "sources": a non-empty list of object keys or prefixes (e.g. ["raw/"])');
  }
  const columnMap = resolveColumnMap(state.columnMap, 'columnMap of the ingest event');
  if (state.reingest !== undefined && typeof state.reingest !== 'boolean') {
    throw new InvalidEventError(`"reingest" of the ingest event must be true or false, got ${JSON.stringify(state.reingest)}`);
  }
  const runId = runIdOf({ ...state, runId: state.runId ?? newRunId() });
  return {
    runId,
    sources: sources as string[],
    ...(Object.keys(columnMap).length > 0 ? { columnMap } : {}),
    ...(withdrawing ? { withdraw: withdraw as string[] } : {}),
    ...(state.reingest === true ? { reingest: true } : {}),
  };
}
