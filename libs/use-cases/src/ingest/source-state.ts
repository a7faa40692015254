import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Keys, ObjectNotFoundError, type ObjectInfo, type ObjectStore } from '@splitwatch/core';
import { getTextIfPresent } from '../optional-object';
import type { ColumnMap } from './column-map';
import type { SourceReport } from './ingest.use-case';

/*
 * Source states: what ingest curated from each source, kept at `curated/sources/<sourceId>.json` (outside the
 * curated table's location). A scheduled run may be handed every file it has ever seen (`raw/`, or a CLI directory
 * that grows by a file a day); a source whose content, schema version and column map are those recorded, and whose
 * curated files are still the ones it wrote, is not read again: its curated files stay as they are, so the next
 * feature build sees only the new days. Everything else is ingested as before.
 *
 * One exception keeps that exact: rows an earlier ingest dropped as duplicates (or quarantined as conflicts) of
 * another source's rows are not curated anywhere but in that other source. When that other source changes and is
 * ingested again, an unchanged source with duplicates or conflicts near its old dates is ingested again too, so a
 * row the changed source no longer holds is classified afresh instead of lost.
 *
 * The same holds for conflicts the other way round: a source ingested later that holds another version of an `_id`
 * curated from an earlier source makes ingest read that earlier source again with it (ingest's `joined`), so both
 * versions are quarantined, as when the two arrive together; the order files arrive in changes nothing.
 *
 * The state is removed before a source's curated files are replaced and written last, so an ingest that stops
 * half-way leaves no state, and the next run ingests that source again.
 */

export const SOURCE_STATE_FORMAT = 'splitwatch.ingest-source.v1';

export interface SourceState {
  format: string;
  source: string;
  sourceId: string;
  sha256: string;
  bytes: number;
  /** The raw object's version when it was read (S3 ETag; locally size, mtime, inode): equal means unchanged. */
  version?: string;
  schemaVersion: number;
  /** The column map it was read with (`{}` for none). */
  columnMap: ColumnMap;
  runId: string;
  ingestedAt: string;
  /** Days of its valid rows (`YYYY-MM-DD`), null when it had none. */
  dateRange: { min: string; max: string } | null;
  /** The report of that ingest: its accounting, quarantine and extras keys. */
  report: SourceReport;
  /** Its curated files and their versions. */
  curated: Record<string, string | null>;
  /**
   * Set when the source was withdrawn (see ingest's `withdraw`): its curated rows were removed by run `runId`, and
   * this content (`sha256`) stays out — skipped when given again — until the object at its key changes.
   */
  withdrawn?: {
    runId: string;
    at: string;
    rows: number | null;
    ingestedBy: string;
    dateRange: { min: string; max: string } | null;
  };
}

/** A source's report before it is read: every count at zero. */
export function newSourceReport(source: string, sourceId: string, runId: string, reason: string): SourceReport {
  return {
    source,
    sourceId,
    status: 'ingested',
    reason,
    ingestedBy: runId,
    format: /\.parquet$/i.test(source) ? 'parquet' : 'csv',
    sha256: '',
    bytes: 0,
    read: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByReason: {},
    extraColumns: [],
    quarantineKey: null,
    extrasKey: null,
  };
}

/** Reads a whole object once for its checksum and size, handing each chunk to `onChunk` as well. */
export function checksum(
  body: Readable,
  onChunk?: (chunk: Buffer) => void,
): { done: Promise<{ sha256: string; bytes: number }> } {
  const hash = createHash('sha256');
  let bytes = 0;
  const done = new Promise<{ sha256: string; bytes: number }>((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
      onChunk?.(chunk);
    });
    body.once('end', () => resolve({ sha256: hash.digest('hex'), bytes }));
    body.once('error', reject);
  });
  // Awaited on success only; when reading stops early (a bad header), the aborted stream's error is expected.
  done.catch(() => undefined);
  return { done };
}

/**
 * The state recorded for a source, or undefined. `listed`: the keys under `curated/sources/` (listed once, since
 * S3 answers a read of a missing key with 403 unless the role may list there); without it the key is listed alone.
 */
export async function readSourceState(
  store: ObjectStore,
  sourceId: string,
  listed?: ReadonlySet<string>,
): Promise<SourceState | undefined> {
  const key = Keys.curatedSourceState(sourceId);
  let text: string | undefined;
  if (listed && !listed.has(key)) return undefined;
  try {
    text = listed ? await store.getText(key) : await getTextIfPresent(store, key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as SourceState;
    const ok =
      state?.format === SOURCE_STATE_FORMAT &&
      typeof state.sha256 === 'string' &&
      typeof state.curated === 'object' &&
      state.curated !== null &&
      typeof state.report === 'object' &&
      state.report !== null;
    return ok ? state : undefined;
  } catch {
    return undefined; // unreadable state: ingest the source again
  }
}

/** One ingested source as `splitwatch sources` lists it. */
export interface SourceListing {
  source: string;
  /** `curated`: its rows are in the lake; `withdrawn`: removed (see ingest's `withdraw`). */
  status: 'curated' | 'withdrawn';
  /** The run that curated its rows (for a withdrawn one, the run whose rows were removed). */
  ingestedBy: string;
  read: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  firstDay: string | null;
  lastDay: string | null;
  withdrawnBy: string | null;
}

/** Every readable source state under `curated/sources/` (live or withdrawn). */
export async function readSourceStates(store: ObjectStore): Promise<SourceState[]> {
  const states: SourceState[] = [];
  const listed = new Set((await store.list(Keys.curatedSources)).map((o) => o.key));
  for (const key of listed) {
    if (key.startsWith(Keys.knownConflicts) || !key.endsWith('.json')) continue;
    const state = await readSourceState(store, key.slice(Keys.curatedSources.length, -'.json'.length), listed);
    if (state) states.push(state);
  }
  return states;
}

/** Every source with a recorded state (curated or withdrawn), by key. */
export async function listSources(store: ObjectStore): Promise<SourceListing[]> {
  const out: SourceListing[] = [];
  for (const state of await readSourceStates(store)) {
    const days = state.withdrawn ? state.withdrawn.dateRange : state.dateRange;
    const r = state.report;
    out.push({
      source: state.source,
      status: state.withdrawn ? 'withdrawn' : 'curated',
      ingestedBy: state.withdrawn?.ingestedBy ?? state.runId,
      read: r.read,
      accepted: r.accepted,
      duplicates: r.duplicates,
      rejected: r.rejected,
      firstDay: days?.min ?? null,
      lastDay: days?.max ?? null,
      withdrawnBy: state.withdrawn?.runId ?? null,
    });
  }
  return out.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
}

/** Curated files are named `<sourceId>-…` (see ingest): those of one source, from a listing of the curated layout. */
export function curatedFilesOf(curated: ObjectInfo[], sourceId: string): ObjectInfo[] {
  return curated.filter((o) => o.key.slice(o.key.lastIndexOf('/') + 1).startsWith(`${sourceId}-`));
}

/** Same keys and entries, whatever the order they were written in. */
export function sameColumnMap(a: ColumnMap, b: ColumnMap): boolean {
  const ea = Object.entries(a ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
  const eb = Object.entries(b ?? {}).sort(([x], [y]) => (x < y ? -1 : 1));
  return JSON.stringify(ea) === JSON.stringify(eb);
}

export interface SourcePlan {
  object: ObjectInfo;
  sourceId: string;
  state?: SourceState;
  /**
   * `skip`: curated from exactly this content before, and its curated files are intact; or withdrawn with this
   * content (`state.withdrawn`), so never read again until its content changes.
   */
  action: 'ingest' | 'skip';
  reason: string;
}

/** The object holds the content a state records: the same version, or the same size and checksum. */
async function sameContent(store: ObjectStore, object: ObjectInfo, state: SourceState): Promise<boolean> {
  if (state.version !== undefined && object.version === state.version) return true;
  if (object.size !== state.bytes) return false;
  const { sha256 } = await checksum(await store.getStream(object.key)).done;
  return sha256 === state.sha256;
}

/**
 * The first of `ranges` (days of rows being replaced or withdrawn) that rows this source dropped as duplicates, or
 * quarantined as conflicts, may point at — compared one day either side of its own days —, or undefined.
 */
export function retriesOrConflictsNear<R extends { min: string; max: string }>(state: SourceState, ranges: R[]): R | undefined {
  if (!state.dateRange) return undefined;
  const r = state.report;
  const conflicts = Object.keys(r.rejectedByReason ?? {}).some((k) => k.includes('conflicting duplicate'));
  if (r.duplicates === 0 && !conflicts) return undefined;
  const lo = shiftDay(state.dateRange.min, -1);
  const hi = shiftDay(state.dateRange.max, 1);
  return ranges.find((d) => d.min <= hi && d.max >= lo);
}

/** `YYYY-MM-DD` moved by `delta` days. */
export function shiftDay(day: string, delta: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + delta);
  return d.toISOString().slice(0, 10);
}

/**
 * Decides, per source, whether it must be read again. `curated` is a listing of the curated layout. Reads a
 * source's content only when its version differs from the recorded one but its size does not (S3 ETags of
 * multipart uploads, or a local file copied again): then its checksum decides.
 */
export async function planSources(
  store: ObjectStore,
  objects: ObjectInfo[],
  opts: {
    sourceIdOf: (key: string) => string;
    schemaVersion: number;
    columnMap: ColumnMap;
    reingest: boolean;
    curated: ObjectInfo[];
    /**
     * Sources read with this run whatever their state, and why: those whose curated rows conflict with rows of a
     * source this run reads (see ingest), so that every version of a conflicting `_id` is judged together.
     */
    joined?: ReadonlyMap<string, string>;
  },
): Promise<SourcePlan[]> {
  const plans: SourcePlan[] = [];
  const listed = new Set((await store.list(Keys.curatedSources)).map((o) => o.key));
  // Sources ingested again whose earlier rows may have been the kept copies of other sources' duplicates.
  const replaced: { min: string; max: string }[] = [];
  for (const object of objects) {
    const sourceId = opts.sourceIdOf(object.key);
    const state = await readSourceState(store, sourceId, listed);
    const plan = (action: SourcePlan['action'], reason: string): SourcePlan => ({
      object,
      sourceId,
      state,
      action,
      reason,
    });
    const files = curatedFilesOf(opts.curated, sourceId);
    if (!state) {
      // Curated files without a state: ingested before states were kept, or by an ingest that stopped half-way.
      if (files.length > 0) replaced.push({ min: '0000-01-01', max: '9999-12-31' });
      plans.push(plan('ingest', files.length > 0 ? 'no record of what was curated from it' : 'new source'));
      continue;
    }
    const reingest = (reason: string) => {
      if (state.dateRange) replaced.push(state.dateRange);
      plans.push(plan('ingest', reason));
    };
    if (state.withdrawn) {
      // Withdrawn: this content stays out (whatever `reingest` says); another content at the key is a new source.
      const same = await sameContent(store, object, state);
      plans.push(
        same
          ? plan('skip', `withdrawn by run ${state.withdrawn.runId}`)
          : plan('ingest', `its content changed since run ${state.withdrawn.runId} withdrew it`),
      );
      continue;
    }
    if (opts.reingest) {
      reingest('ingesting again was requested');
      continue;
    }
    const joinedBecause = opts.joined?.get(object.key);
    if (joinedBecause !== undefined) {
      reingest(joinedBecause);
      continue;
    }
    if (state.schemaVersion !== opts.schemaVersion || !sameColumnMap(state.columnMap, opts.columnMap)) {
      reingest('curated with another ingest schema version or column map');
      continue;
    }
    const intact =
      files.length === Object.keys(state.curated).length &&
      files.every((f) => f.version !== undefined && state.curated[f.key] === f.version);
    if (!intact) {
      reingest('its curated files changed since it was ingested');
      continue;
    }
    if (!(await sameContent(store, object, state))) reingest('its content changed');
    else plans.push(plan('skip', `unchanged since run ${state.runId}`));
  }
  // An unchanged source whose duplicates or conflicts may point at rows of a source being replaced is classified
  // again with it (see the module comment).
  for (const p of plans) {
    if (p.action !== 'skip' || !p.state) continue;
    if (retriesOrConflictsNear(p.state, replaced)) {
      p.action = 'ingest';
      p.reason = 'unchanged, but it had duplicates or conflicts near the days of a source ingested again';
    }
  }
  return plans;
}
