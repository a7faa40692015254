import { InputFormatError, Keys, type ObjectInfo, type ObjectStore } from '@splitwatch/core';
import {
  checksum,
  curatedFilesOf,
  newSourceReport,
  readSourceState,
  readSourceStates,
  retriesOrConflictsNear,
  SOURCE_STATE_FORMAT,
  type SourceState,
} from './source-state';

/*
 * Withdrawing a source (ingest's `withdraw`): a file ingested by mistake — the wrong extract, a corrupt export —
 * leaves the curated data as if it had never been ingested. Its curated files and its list of conflicting `_id`s
 * are deleted, and its state is replaced by a tombstone (`SourceState.withdrawn`) that keeps this content out: given
 * again (a scheduled run over `raw/`), it is skipped while the object at its key is unchanged.
 *
 * Rows of other sources may have been dropped as retries of its rows, or quarantined as conflicting with them: those
 * sources (with duplicates or conflicts within a day of its days) are read again by the same run, classified
 * without the withdrawn rows, so a row they hold is curated from them instead of lost — exactly as a source whose
 * content changed is handled (see source-state.ts). A withdrawal is one ingest run, so the feature build, Detect and
 * the sink that follow bring the features and the alerts up to date (alerts whose transactions went are retired).
 */

/** One source to withdraw, as found before the run changes anything. */
export interface Withdrawal {
  key: string;
  sourceId: string;
  /** Its state before the run: a live one, or the tombstone of an earlier withdrawal. */
  state?: SourceState;
  /** Its curated files still in the layout (none once withdrawn). */
  files: ObjectInfo[];
  /** Without a state: the object's content as it is now, if it is still in the store (kept out when given again). */
  content?: { sha256: string; bytes: number; version?: string };
  /** The days of the rows being removed: its state's, or, without one, those of its curated files (`dt=`). */
  days: { min: string; max: string } | null;
}

/** What a run did for one withdrawn source (in the ingest result and `runs/<runId>/ingest/<sourceId>.json`). */
export interface WithdrawalReport {
  source: string;
  sourceId: string;
  /** `withdrawn` by this run, or `already withdrawn` by an earlier one (nothing left to do). */
  status: 'withdrawn' | 'already withdrawn';
  /** The run that withdrew it. */
  withdrawnBy: string;
  /** The run whose curated rows were removed. */
  ingestedBy: string;
  /** Curated rows removed (the accepted rows of its last ingest; null without a recorded state). */
  rows: number | null;
  /** Curated files deleted. */
  files: number;
  /** Days its rows were on. */
  dateRange: { min: string; max: string } | null;
}

/**
 * The sources `keys` names, checked: each must be a file key (not a prefix) that was ingested, or withdrawn
 * before (then nothing is left to do). `curated` is the curated layout's listing before the run.
 */
export async function planWithdrawals(store: ObjectStore, keys: string[], curated: ObjectInfo[], sourceIdOf: (key: string) => string): Promise<Withdrawal[]> {
  const out: Withdrawal[] = [];
  for (const key of [...new Set(keys)].sort()) {
    if (key.endsWith('/')) throw new InputFormatError(`Cannot withdraw ${key}: name one file's key, not a folder`);
    const sourceId = sourceIdOf(key);
    const state = await readSourceState(store, sourceId);
    const files = curatedFilesOf(curated, sourceId);
    if (!state && files.length === 0) {
      throw new InputFormatError(`Cannot withdraw ${key}: nothing was curated from it (no state at ${Keys.curatedSourceState(sourceId)})`);
    }
    let content: Withdrawal['content'];
    const object = state ? undefined : (await store.list(key)).find((o) => o.key === key);
    if (object) {
      const { sha256, bytes } = await checksum(await store.getStream(key)).done;
      content = { sha256, bytes, ...(object.version !== undefined ? { version: object.version } : {}) };
    }
    const days = state ? (state.withdrawn ? null : state.dateRange) : daysOf(files);
    out.push({ key, sourceId, ...(state ? { state } : {}), files, ...(content ? { content } : {}), days });
  }
  return out;
}

/** The first and last `dt=YYYY-MM-DD` of curated files' keys. */
function daysOf(files: ObjectInfo[]): { min: string; max: string } | null {
  const days = files.map((f) => /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(f.key)?.[1]).filter((d): d is string => d !== undefined).sort();
  return days.length ? { min: days[0], max: days[days.length - 1] } : null;
}

/**
 * Sources to read again with the run because rows of theirs may have been dropped or quarantined against the rows
 * being withdrawn: every other live source with duplicates or conflicts within a day of a withdrawn source's days,
 * whose object is still in the store, mapped to why. Those no longer in the store are reported through `onGone`.
 */
export async function sourcesToClassifyAgain(
  store: ObjectStore,
  withdrawals: Withdrawal[],
  onGone: (key: string, reason: string) => void,
): Promise<Map<string, string>> {
  const ranges = withdrawals.flatMap((w) => (w.days ? [{ key: w.key, ...w.days }] : []));
  const again = new Map<string, string>();
  if (ranges.length === 0) return again;
  const withdrawn = new Set(withdrawals.map((w) => w.key));
  for (const state of await readSourceStates(store)) {
    if (state.withdrawn || withdrawn.has(state.source)) continue;
    const near = retriesOrConflictsNear(state, ranges);
    if (!near) continue;
    const reason = `it had duplicates or conflicts near the days of ${near.key}, withdrawn by this run: classified again without its rows`;
    if ((await store.list(state.source)).some((x) => x.key === state.source)) again.set(state.source, reason);
    else onGone(state.source, reason);
  }
  return again;
}

/**
 * Withdraws each source: the tombstone first (so a run that stops half-way leaves the source withdrawn, and the next
 * run given it, or the same withdrawal again, deletes what is left), then its curated files and its conflicts list;
 * writes each one's manifest. Returns what was done.
 */
export async function withdrawSources(
  store: ObjectStore,
  withdrawals: Withdrawal[],
  runId: string,
  onWrite: (key: string) => void,
): Promise<WithdrawalReport[]> {
  const reports: WithdrawalReport[] = [];
  for (const w of withdrawals) {
    const before = w.state;
    const earlier = before?.withdrawn;
    const report: WithdrawalReport = {
      source: w.key,
      sourceId: w.sourceId,
      status: earlier && w.files.length === 0 ? 'already withdrawn' : 'withdrawn',
      withdrawnBy: earlier?.runId ?? runId,
      ingestedBy: earlier?.ingestedBy ?? before?.runId ?? 'unknown',
      rows: earlier ? earlier.rows : (before?.report.accepted ?? null),
      files: w.files.length,
      dateRange: earlier?.dateRange ?? w.days,
    };
    if (report.status === 'withdrawn') {
      const version = before ? before.version : w.content?.version;
      const tombstone: SourceState = {
        format: SOURCE_STATE_FORMAT,
        source: w.key,
        sourceId: w.sourceId,
        sha256: before?.sha256 ?? w.content?.sha256 ?? '',
        bytes: before?.bytes ?? w.content?.bytes ?? -1,
        ...(version !== undefined ? { version } : {}),
        schemaVersion: before?.schemaVersion ?? 0,
        columnMap: before?.columnMap ?? {},
        runId: before?.runId ?? runId,
        ingestedAt: before?.ingestedAt ?? new Date().toISOString(),
        dateRange: null,
        report: before?.report ?? newSourceReport(w.key, w.sourceId, runId, 'curated files without a recorded state'),
        curated: {},
        // The days go with the withdrawal (dateRange is null: no rows of it are compared with any more).
        withdrawn: earlier ?? {
          runId,
          at: new Date().toISOString(),
          rows: report.rows,
          ingestedBy: report.ingestedBy,
          dateRange: report.dateRange,
        },
      };
      const stateKey = Keys.curatedSourceState(w.sourceId);
      await store.putText(stateKey, JSON.stringify(tombstone, null, 2), 'application/json');
      onWrite(stateKey);
      await store.delete([...w.files.map((f) => f.key), Keys.knownConflictsOf(w.sourceId)]);
    }
    const manifestKey = `runs/${runId}/ingest/${w.sourceId}.json`;
    await store.putText(manifestKey, JSON.stringify({ ...report, runId, at: new Date().toISOString() }, null, 2), 'application/json');
    onWrite(manifestKey);
    reports.push(report);
  }
  return reports;
}
