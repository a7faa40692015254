import { Keys, rulesFor, sqlLiteral, type Alert, type DetectionConfig, type Direction, type ObjectStore, type SqlEngine } from '@splitwatch/core';
import { sha256Hex, startStep } from '../audit/step-record';
import { readFeaturesState, registerFeatureChanges, registerFeatures, type FeaturesState } from '../features/build-features.use-case';
import { getTextIfPresent } from '../optional-object';
import { renderSql } from '../sql-text';
import {
  finishEpisodes,
  isModelCandidate,
  scanEpisodes,
  scanKeyWindows,
  SPLIT_CANDIDATE_METHOD,
  type PendingEpisodes,
  type SegmentTypicalDay,
} from './episodes';
import { enabledModelKinds, fitArtifacts, modelKey, modelsVersion, ModelScorer, Reservoir, type ModelArtifact } from './models';
import { OtherKeysHistory } from './owner-history';
import { SPLIT_SCORE_MODEL } from './split-weights';
import { windowVector } from './window-vector';
import type { WindowRow } from './rules';

/** Candidate windows gathered across keys before the models score them in one batch. */
const MODEL_BATCH_WINDOWS = 8192;

export interface DetectDeps {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
}

export interface DetectResult {
  runId: string;
  /** Which slice of the accounts this call scored (`all` when not fanned out). */
  partition: string;
  alertsKey: string;
  alerts: number;
  byMethod: Record<string, number>;
  candidateRows: number;
  /** Split episodes below the rule's threshold written for the ensemble (see SPLIT_CANDIDATE_METHOD). */
  splitCandidates: number;
  /** Whether every key was scored, or only the changed ones ({@link planDetect}), and why. */
  mode: 'full' | 'incremental';
  reason: string;
  /** Keys scored by this call (every key with a multi-transaction window in a full Detect). */
  rescoredKeys: number;
  /** Alerts of unchanged keys carried over from the slice's previous run. */
  carriedAlerts: number;
}

/**
 * Accounts are split into `partitions` slices by ranges of their id's first character over the hex alphabet
 * (ids are hex in the contract; any other text still falls in exactly one slice), so the state machine can score
 * slices in parallel (a Map state) and every account's windows stay in one slice.
 */
export function partitionRange(partition: number, partitions: number): { lo: string | null; hi: string | null } {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 16) throw new RangeError(`partitions must be 1..16, got ${partitions}`);
  if (!Number.isInteger(partition) || partition < 0 || partition >= partitions) {
    throw new RangeError(`partition must be 0..${partitions - 1}, got ${partition}`);
  }
  const HEX = '0123456789abcdef';
  const at = (k: number) => HEX[Math.floor((16 * k) / partitions)];
  return { lo: partition === 0 ? null : at(partition), hi: partition === partitions - 1 ? null : at(partition + 1) };
}

function partitionFilter(partition: number | undefined, partitions: number | undefined, column = 'account_number'): string {
  if (partition === undefined) return '';
  const { lo, hi } = partitionRange(partition, partitions ?? 1);
  const conds = [lo !== null ? `${column} >= '${lo}'` : '', hi !== null ? `${column} < '${hi}'` : ''].filter(Boolean);
  return conds.length ? ` AND ${conds.join(' AND ')}` : '';
}

/** Rows of the keys `{{keys}}` selects (every key with a multi-transaction window), in key then time order. */
export const CANDIDATES_SQL = `
SELECT f.tx_id, f.user_id, f.account_number, f.merchant_id, f.subsidiary, f.direction,
       f.transaction_date, date_diff('second', TIMESTAMP '1970-01-01 00:00:00', f.transaction_date) AS ts,
       CAST(f.amount AS VARCHAR) AS amount, f.n_tx, CAST(f.sum_amount AS VARCHAR) AS sum_amount,
       f.z_sum, f.hist_days, f.base_mean_daily_sum
FROM features f
JOIN ({{keys}}) k
  ON k.account_number = f.account_number AND k.direction = f.direction
ORDER BY f.account_number, f.direction, f.transaction_date, f.tx_id
`;

/**
 * What Detect reads: the rows of every key of the owners of the keys `{{keys}}` selects, owner by owner, then in key
 * then time order; `scored` tells the selected keys from the owner's others, read only as the owner's history (see
 * OtherKeysHistory). An account's owner is its `user_id` (the smallest, should the log give one account several),
 * so an account's rows are never split between two owners.
 */
export const OWNER_CANDIDATES_SQL = `
WITH k AS ({{keys}}),
owners AS (SELECT account_number, MIN(user_id) AS owner FROM features GROUP BY account_number),
scored_owners AS (SELECT DISTINCT o.owner FROM owners o JOIN (SELECT DISTINCT account_number FROM k) ka ON ka.account_number = o.account_number)
SELECT f.tx_id, f.user_id, f.account_number, f.merchant_id, f.subsidiary, f.direction,
       f.transaction_date, date_diff('second', TIMESTAMP '1970-01-01 00:00:00', f.transaction_date) AS ts,
       CAST(f.amount AS VARCHAR) AS amount, f.n_tx, CAST(f.sum_amount AS VARCHAR) AS sum_amount,
       f.z_sum, f.hist_days, f.base_mean_daily_sum,
       o.owner, CASE WHEN k.account_number IS NULL THEN 0 ELSE 1 END AS scored
FROM features f
JOIN owners o ON o.account_number = f.account_number
JOIN scored_owners so ON so.owner = o.owner
LEFT JOIN k ON k.account_number = f.account_number AND k.direction = f.direction
ORDER BY o.owner, f.account_number, f.direction, f.transaction_date, f.tx_id
`;

/** Every key with at least one multi-transaction window (of the slice). */
export const ALL_KEYS_SQL = `SELECT account_number, direction FROM features WHERE n_tx >= 2{{partitionFilter}} GROUP BY account_number, direction`;

/**
 * The keys an incremental Detect rescores (of the slice, with a multi-transaction window): those of the users a
 * feature build recomputed since generation {{since}} (their rows may have changed), and those whose first
 * transaction is after {{fromDay}} (their first windows are judged against a segment typical day that the changed
 * days moved).
 */
export const RESCORED_KEYS_SQL = `SELECT f.account_number, f.direction
FROM features f
LEFT JOIN (SELECT DISTINCT user_id FROM {{changes}} WHERE generation > {{since}}) c ON c.user_id = f.user_id
WHERE 1 = 1{{partitionFilter}}
GROUP BY f.account_number, f.direction
HAVING MAX(f.n_tx) >= 2 AND (MAX(CASE WHEN c.user_id IS NULL THEN 0 ELSE 1 END) = 1 OR MIN(f.dt) > '{{fromDay}}')`;

/** The users whose keys an incremental Detect rescores (see {@link RESCORED_KEYS_SQL}). */
export const CHANGED_USERS_SQL = `SELECT DISTINCT user_id FROM {{changes}} WHERE generation > {{since}}`;

/**
 * Account-day totals per segment (merchant, direction) and day (days since 1970-01-01): the number of account-days
 * and the sum of the logs of their totals. {@link segmentTypicalDays} turns them into each segment's typical day as
 * of any day — the geometric mean of its account-day totals before that day, robust to a few huge days — used for
 * keys with too little history of their own.
 */
export const SEGMENT_TYPICAL_DAY_SQL = `
SELECT merchant_id, direction, d, SUM(ln(day_sum)) AS ln_sum, COUNT(*) AS account_days
FROM (
  SELECT account_number, merchant_id, direction,
         date_diff('day', DATE '1970-01-01', CAST(transaction_date AS DATE)) AS d,
         SUM(CAST(amount AS DOUBLE)) AS day_sum
  FROM features
  GROUP BY account_number, merchant_id, direction, date_diff('day', DATE '1970-01-01', CAST(transaction_date AS DATE))
) x
WHERE day_sum > 0
GROUP BY merchant_id, direction, d
`;

/**
 * The log's first transaction (epoch seconds, every key): the split score's `logDays` counts the log's age before a
 * window from it. Min/max statistics answer it without reading the rows in DuckDB.
 */
export const LOG_START_SQL = `
SELECT date_diff('second', TIMESTAMP '1970-01-01 00:00:00', MIN(transaction_date)) AS log_start FROM features
`;

/** The log's first transaction, or undefined for an empty log. */
async function logStartOf(sqlEngine: SqlEngine): Promise<number | undefined> {
  const [row] = await sqlEngine.query(LOG_START_SQL);
  return row?.log_start === null || row?.log_start === undefined ? undefined : Number(row.log_start);
}

/** One row of the detectors' SQL (see {@link CANDIDATES_SQL}'s columns) as a WindowRow. */
export function toWindowRow(r: Record<string, unknown>): WindowRow {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    tx_id: String(r.tx_id),
    user_id: String(r.user_id),
    account_number: String(r.account_number),
    merchant_id: String(r.merchant_id),
    subsidiary: String(r.subsidiary),
    direction: String(r.direction) as Direction,
    transaction_date: String(r.transaction_date),
    ts: Number(r.ts),
    amount: String(r.amount),
    n_tx: Number(r.n_tx),
    sum_amount: String(r.sum_amount),
    z_sum: num(r.z_sum),
    hist_days: Number(r.hist_days ?? 0),
    base_mean_daily_sum: num(r.base_mean_daily_sum),
  };
}

/** Cumulative account-day log totals of one segment, by day. */
interface SegmentDays {
  days: number[];
  lnSums: number[];
  counts: number[];
}

function accumulate(perDay: Map<number, { ln: number; n: number }>): SegmentDays {
  const days = [...perDay.keys()].sort((a, b) => a - b);
  const out: SegmentDays = { days, lnSums: [], counts: [] };
  let ln = 0;
  let n = 0;
  for (const d of days) {
    const v = perDay.get(d)!;
    ln += v.ln;
    n += v.n;
    out.lnSums.push(ln);
    out.counts.push(n);
  }
  return out;
}

/** The geometric mean of the account-day totals before `beforeDay`, or undefined when there are none. */
function typicalBefore(s: SegmentDays | undefined, beforeDay: number): number | undefined {
  if (!s) return undefined;
  let lo = 0;
  let hi = s.days.length; // first index with days[i] >= beforeDay
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s.days[mid] < beforeDay) lo = mid + 1;
    else hi = mid;
  }
  if (lo === 0) return undefined;
  // 12 significant digits: a parallel SUM over doubles differs run to run in the last bits, which would make
  // FitModels' sample, and a borderline alert, differ between two runs over the same data.
  return Number(Math.exp(s.lnSums[lo - 1] / s.counts[lo - 1]).toPrecision(12));
}

/**
 * The log's first days, whose windows have too little past for a segment typical day of their own: theirs is the
 * segment's over these days (the only look ahead, bounded: a day's value never changes once the log is this old).
 */
export const SEGMENT_BOOTSTRAP_DAYS = 7;

/**
 * The segment typical day per (merchant, direction) as of a day: from the segment's account-days before it, else
 * (a merchant new that day) from its direction's, else none (+Infinity: no split is judged against it). Past the
 * log's first {@link SEGMENT_BOOTSTRAP_DAYS} days it never uses the window's day or a later one, so adding days to
 * the log changes it only for later windows.
 */
export async function segmentTypicalDays(sqlEngine: SqlEngine): Promise<SegmentTypicalDay> {
  return segmentTypicalDaysOf(await sqlEngine.query(SEGMENT_TYPICAL_DAY_SQL));
}

/** {@link segmentTypicalDays} from the rows of {@link SEGMENT_TYPICAL_DAY_SQL}. */
function segmentTypicalDaysOf(queried: readonly Record<string, unknown>[]): SegmentTypicalDay {
  const bySegment = new Map<string, Map<number, { ln: number; n: number }>>();
  const add = (key: string, d: number, ln: number, n: number) => {
    let days = bySegment.get(key);
    if (!days) bySegment.set(key, (days = new Map()));
    const v = days.get(d);
    if (v) {
      v.ln += ln;
      v.n += n;
    } else days.set(d, { ln, n });
  };
  const rows = [...queried];
  // Summed in a fixed order, so the direction's totals do not depend on the order the engine returns.
  rows.sort((a, b) => Number(a.d) - Number(b.d) || String(a.merchant_id).localeCompare(String(b.merchant_id)) || String(a.direction).localeCompare(String(b.direction)));
  for (const s of rows) {
    const d = Number(s.d);
    const ln = Number(s.ln_sum);
    const n = Number(s.account_days);
    add(`${String(s.merchant_id)}|${String(s.direction)}`, d, ln, n);
    add(`*|${String(s.direction)}`, d, ln, n);
  }
  const segments = new Map([...bySegment].map(([key, days]) => [key, accumulate(days)]));
  const firstDay = rows.length > 0 ? Number(rows[0].d) : 0;
  return (r: WindowRow, beforeDay: number) => {
    const day = Math.max(beforeDay, firstDay + SEGMENT_BOOTSTRAP_DAYS);
    return (
      typicalBefore(segments.get(`${r.merchant_id}|${r.direction}`), day) ??
      typicalBefore(segments.get(`*|${r.direction}`), day) ??
      Number.POSITIVE_INFINITY
    );
  };
}

/**
 * Streams the candidate rows of the keys `keysSql` selects (default: every key with a multi-transaction window, of
 * one account slice or all) and hands over each key's rows in time order. With `owners`, each key comes with the
 * history of its owner on its other keys ({@link OWNER_CANDIDATES_SQL}: read along, never scored here; they are
 * scored by the slice or call whose keys they are). Returns the rows of the keys handed over.
 */
async function forEachKey(
  sqlEngine: SqlEngine,
  partition: number | undefined,
  partitions: number | undefined,
  onKey: (rows: WindowRow[], others: OtherKeysHistory | undefined) => void,
  keysSql = renderSql(ALL_KEYS_SQL, { partitionFilter: partitionFilter(partition, partitions) }),
  owners = false,
): Promise<number> {
  // One owner's keys (a single key without `owners`), handed over when the next owner (key) starts.
  let group: { rows: WindowRow[]; scored: boolean }[] = [];
  let owner: string | undefined;
  let prev: WindowRow | undefined;
  let count = 0;
  const flush = () => {
    const histories = owners ? OtherKeysHistory.ofOwner(group.map((k) => k.rows)) : [];
    group.forEach((k, i) => {
      if (k.scored) onKey(k.rows, histories[i]);
    });
    group = [];
  };
  const sql = renderSql(owners ? OWNER_CANDIDATES_SQL : CANDIDATES_SQL, { keys: keysSql });
  for await (const batch of sqlEngine.stream(sql, 50_000)) {
    for (const raw of batch) {
      const row = toWindowRow(raw);
      const scored = !owners || Number(raw.scored) === 1;
      if (scored) count++;
      const newKey = !prev || prev.account_number !== row.account_number || prev.direction !== row.direction;
      const rowOwner = owners ? String(raw.owner) : undefined;
      if (owners ? rowOwner !== owner : newKey) {
        if (group.length > 0) flush();
        owner = rowOwner;
      }
      if (newKey || group.length === 0) group.push({ rows: [row], scored });
      else group[group.length - 1].rows.push(row);
      prev = row;
    }
  }
  if (group.length > 0) flush();
  return count;
}

const SEGMENT_DAYS_FORMAT = 'splitwatch.segment-days.v1';

/**
 * {@link segmentTypicalDays} of the features as last built, computed once per feature build (by FitModels, before
 * the Detect Map; by the first slice when FitModels did not) and kept at `Keys.detectSegments` for the slices and
 * later runs (the query reads every feature row: ~11 s at the real log's size). Without a recorded build, computed
 * every time.
 */
async function segmentTypicalDaysOfBuild(
  deps: DetectDeps,
  features: FeaturesState | undefined,
): Promise<{ segmentDay: SegmentTypicalDay; cached: boolean }> {
  if (!features) return { segmentDay: await segmentTypicalDays(deps.sqlEngine), cached: false };
  const text = await getTextIfPresent(deps.objectStore, Keys.detectSegments);
  if (text !== undefined) {
    try {
      const kept = JSON.parse(text) as { format: string; lineage: string; generation: number; rows: Record<string, unknown>[] };
      if (kept.format === SEGMENT_DAYS_FORMAT && kept.lineage === features.lineage && kept.generation === features.generation) {
        return { segmentDay: segmentTypicalDaysOf(kept.rows), cached: true };
      }
    } catch {
      // unreadable: computed again below
    }
  }
  const rows = await deps.sqlEngine.query(SEGMENT_TYPICAL_DAY_SQL);
  const kept = { format: SEGMENT_DAYS_FORMAT, lineage: features.lineage, generation: features.generation, rows };
  await deps.objectStore.putText(Keys.detectSegments, JSON.stringify(kept), 'application/json');
  return { segmentDay: segmentTypicalDaysOf(rows), cached: false };
}

async function loadArtifacts(objectStore: ObjectStore, config: DetectionConfig) {
  const artifacts: ModelArtifact[] = [];
  const missing: string[] = [];
  for (const kind of enabledModelKinds(config)) {
    const key = modelKey(kind, modelsVersion(config));
    // Listed, not probed: a HEAD of a missing key answers 403 where the role may not list it.
    const text = await getTextIfPresent(objectStore, key);
    if (text !== undefined) artifacts.push(JSON.parse(text) as ModelArtifact);
    else missing.push(kind);
  }
  return { artifacts, missing };
}

/**
 * Walks every candidate window the unsupervised models see — 2..maxParts parts under the anchor's segment rules,
 * at least split.minSum in total — and hands over its feature vector ({@link windowVector}); returns the first and
 * last transaction date of the keys walked. FitModels samples from it; bench:detectors measures on it. Expects the
 * `features` table to be registered.
 */
export async function forEachCandidateWindow(
  sqlEngine: SqlEngine,
  config: DetectionConfig,
  visit: (vector: number[]) => void,
  segments?: SegmentTypicalDay,
  buckets?: string[],
): Promise<{ from: string | null; to: string | null }> {
  const segmentDay = segments ?? (await segmentTypicalDays(sqlEngine));
  let from: string | null = null;
  let to: string | null = null;
  const bucketFilter = buckets ? ` AND ${BUCKET_OF_ACCOUNT} IN (${buckets.map(sqlLiteral).join(', ')})` : '';
  const keysSql = renderSql(ALL_KEYS_SQL, { partitionFilter: bucketFilter });
  await forEachKey(sqlEngine, undefined, undefined, (rows) => {
    if (from === null || rows[0].transaction_date < from) from = rows[0].transaction_date;
    const last = rows[rows.length - 1].transaction_date;
    if (to === null || last > to) to = last;
    scanKeyWindows(rows, config, segmentDay, (w) => {
      const split = rulesFor(config, rows[w.i].merchant_id, rows[w.i].direction).split;
      if (isModelCandidate(rows, w.lo, w.hi, split)) visit(windowVector(rows, w.lo, w.hi, w.typicalDay));
    });
  }, keysSql);
  return { from, to };
}

/**
 * Accounts are sampled for FitModels in buckets by the last three characters of their id (4,096 buckets for hex ids,
 * 1,000 for numeric ones): spread evenly whether ids are hashes or sequence numbers, where leading digits would
 * follow the accounts' age.
 */
const BUCKET_OF_ACCOUNT = 'substr(account_number, greatest(length(account_number) - 2, 1), 3)';

/**
 * FitModels reads the rows of every key when the log has at most this many times `models.sampleSize` candidate
 * windows, else only the keys of enough account buckets, drawn at random (by seed), to hold that many: the
 * reservoir then draws its sample from a random fifth (or less) of the candidates instead of all of them, and
 * FitModels reads a fraction of the log (at the real log's size, 2.04M candidate windows: about a twentieth).
 */
export const MODEL_SAMPLE_SCAN_FACTOR = 5;

/**
 * Candidate windows per account bucket (the last three characters of the account id), counted on the
 * features table: the rows whose trailing window has 2..maxParts parts and reaches the split rule's minimum sum —
 * the windows FitModels samples (with segment overrides, the loosest of their settings).
 */
export const CANDIDATE_BUCKETS_SQL = `SELECT ${BUCKET_OF_ACCOUNT} AS bucket, COUNT(*) AS windows
FROM features
WHERE n_tx >= {{minParts}} AND n_tx <= {{maxParts}} AND sum_amount >= {{minSum}}
GROUP BY ${BUCKET_OF_ACCOUNT}`;

/**
 * The account buckets FitModels reads, or undefined for every key: with more than {@link MODEL_SAMPLE_SCAN_FACTOR}
 * × `sampleSize` candidate windows, buckets in a seeded random order until they hold that many.
 */
export async function modelSampleBuckets(
  sqlEngine: SqlEngine,
  config: DetectionConfig,
): Promise<{ buckets: string[] | undefined; of: number; candidateWindows: number; sampledWindows: number }> {
  const splits = [config.rules.split, ...config.segments.map((s) => ({ ...config.rules.split, ...(s.rules.split ?? {}) }))];
  const sql = renderSql(CANDIDATE_BUCKETS_SQL, {
    minParts: Math.min(...splits.map((s) => s.minParts)),
    maxParts: Math.max(...splits.map((s) => s.maxParts)),
    minSum: Math.min(...splits.map((s) => s.minSum)),
  });
  const counts = (await sqlEngine.query(sql)).map((r) => ({ bucket: String(r.bucket), windows: Number(r.windows) }));
  const candidateWindows = counts.reduce((n, c) => n + c.windows, 0);
  const target = MODEL_SAMPLE_SCAN_FACTOR * config.models.sampleSize;
  if (candidateWindows <= target) return { buckets: undefined, of: counts.length, candidateWindows, sampledWindows: candidateWindows };
  const order = (bucket: string) => sha256Hex(`${config.models.seed}|${bucket}`);
  const shuffled = counts.map((c) => ({ ...c, order: order(c.bucket) })).sort((a, b) => (a.order < b.order ? -1 : 1));
  const buckets: string[] = [];
  let sampledWindows = 0;
  for (const c of shuffled) {
    if (sampledWindows >= target) break;
    buckets.push(c.bucket);
    sampledWindows += c.windows;
  }
  return { buckets: buckets.sort(), of: counts.length, candidateWindows, sampledWindows };
}

export interface FitModelsResult {
  runId: string;
  version: string;
  reused: boolean;
  models: { kind: string; key: string; trainingRows: number; fitSeconds: number }[];
  candidateWindows: number;
}

/**
 * Fits the unsupervised detectors once per detection config version on a seeded sample of candidate windows
 * (2..maxParts parts, at least split.minSum; from the keys of a seeded random set of account buckets when the log has
 * many more candidates than the sample needs, see {@link modelSampleBuckets}) and stores them under `models/<detector>/<version>/model.json`
 * with their feature list, scaler, training range and code version. Later runs with the same config version
 * reuse them; a new version (or deleting the folder) refits.
 */
export async function fitModels(deps: DetectDeps, input: { runId: string; config: DetectionConfig }): Promise<FitModelsResult> {
  const { objectStore, sqlEngine } = deps;
  const { config } = input;
  const version = modelsVersion(config);
  const step = startStep(objectStore, input.runId, 'fit-models');
  // The segment typical days of this feature build, kept once here, before the Detect Map: its slices start
  // together (8 Lambdas at once in AWS), and each would otherwise scan every feature row to compute them.
  await registerFeatures(sqlEngine);
  const featuresState = await readFeaturesState(objectStore);
  const segments = featuresState ? await segmentTypicalDaysOfBuild(deps, featuresState) : undefined;
  const segmentDetails = segments ? { segmentTypicalDays: segments.cached ? 'kept' : 'computed' } : {};
  if (segments) (segments.cached ? step.record.reads : step.record.writes).push({ key: Keys.detectSegments });
  const existing = await loadArtifacts(objectStore, config);
  if (existing.missing.length === 0) {
    step.record.details = { reused: true, version, ...segmentDetails };
    step.record.reads.push(...existing.artifacts.map((a) => ({ key: modelKey(a.kind, a.version) })));
    await step.finish();
    return {
      runId: input.runId,
      version,
      reused: true,
      models: existing.artifacts.map((a) => ({ kind: a.kind, key: modelKey(a.kind, version), trainingRows: a.trainingRows, fitSeconds: a.fitSeconds })),
      candidateWindows: 0,
    };
  }
  const reservoir = new Reservoir<number[]>(config.models.sampleSize, config.models.seed);
  const sampled = await modelSampleBuckets(sqlEngine, config);
  const { from, to } = await forEachCandidateWindow(sqlEngine, config, (v) => reservoir.offer(v), segments?.segmentDay, sampled.buckets);
  const artifacts = fitArtifacts(reservoir.items, config, { from, to }, existing.missing as ReturnType<typeof enabledModelKinds>);
  for (const a of artifacts) {
    const key = modelKey(a.kind, version);
    await objectStore.putText(key, JSON.stringify(a), 'application/json');
    step.record.writes.push({ key, rows: a.trainingRows });
  }
  // Every candidate window of the log (counted in SQL), those of the account buckets read, and the sample.
  Object.assign(step.record.counts, { candidateWindows: sampled.candidateWindows, windowsRead: reservoir.seen, sample: reservoir.items.length });
  const bucketDetails = { accountBuckets: sampled.of, accountBucketsRead: sampled.buckets?.length ?? sampled.of };
  step.record.details = { reused: false, version, fitted: artifacts.map((a) => a.kind), ...bucketDetails, ...segmentDetails };
  await step.finish();
  const all = [...existing.artifacts, ...artifacts];
  return {
    runId: input.runId,
    version,
    reused: false,
    models: all.map((a) => ({ kind: a.kind, key: modelKey(a.kind, version), trainingRows: a.trainingRows, fitSeconds: a.fitSeconds })),
    candidateWindows: sampled.candidateWindows,
  };
}

/**
 * Bump when a change to the detectors' code changes the alerts of the same features and models: an incremental
 * Detect then rescores every key instead of carrying alerts the old code found.
 */
export const DETECT_CODE_VERSION = 'd2';
const DETECT_STATE_FORMAT = 'splitwatch.detect-state.v1';

/** What one Detect slice last scored, at `Keys.detectState` (see {@link detect}). */
export interface DetectState {
  format: typeof DETECT_STATE_FORMAT;
  /** The run whose parts hold the slice's whole result. */
  runId: string;
  /** sha256 of the detectors' code version, the config, the model artifacts and the split score's model. */
  fingerprint: string;
  logStart: number | null;
  /** The feature build it scored (null: none recorded, so the next Detect scores everything). */
  features: { lineage: string; generation: number } | null;
  alertsKey: string;
  candidatesKey: string | null;
}

/** What an incremental Detect slice changed against the run it carried alerts from (`Keys.alertChangesPart`). */
export interface AlertChanges {
  previousRunId: string;
  /** Ids of the slice's alerts scored by this run (every other alert of the slice is carried over). */
  fresh: string[];
  /** Ids of the previous run's alerts of the slice that were scored again (kept only if found again). */
  dropped: string[];
}

/** How Detect brings a slice's alerts up to date: score every key, or only those that changed. */
export type DetectPlan =
  | { mode: 'full'; reason: string }
  | { mode: 'incremental'; reason: string; previous: DetectState; since: number; fromDay: string | null };

export function detectFingerprint(config: DetectionConfig, artifacts: readonly ModelArtifact[], withCandidates: boolean): string {
  return sha256Hex(
    JSON.stringify({
      format: DETECT_STATE_FORMAT,
      code: DETECT_CODE_VERSION,
      config,
      withCandidates,
      models: artifacts.map((a) => sha256Hex(JSON.stringify(a))),
      split: sha256Hex(JSON.stringify(SPLIT_SCORE_MODEL)),
    }),
  );
}

const dayNumber = (day: string) => Math.floor(Date.parse(`${day}T00:00:00Z`) / 86_400_000);

/**
 * Compares what the slice was last scored from with now. Incremental when only feature builds of the same lineage
 * happened since, all recorded, none of them changing the log's first {@link SEGMENT_BOOTSTRAP_DAYS} days (they set
 * the first segment typical days of every key); then only the keys of {@link RESCORED_KEYS_SQL} can have other
 * alerts than last time.
 */
export function planDetect(
  previous: DetectState | undefined,
  now: { fingerprint: string; logStart: number | undefined; features: FeaturesState | undefined },
): DetectPlan {
  if (!previous) return { mode: 'full', reason: 'no earlier detection of this slice is recorded' };
  if (previous.format !== DETECT_STATE_FORMAT || previous.fingerprint !== now.fingerprint) {
    return { mode: 'full', reason: "the detection config, the models or the detectors' code changed" };
  }
  const f = now.features;
  if (!f) return { mode: 'full', reason: 'no feature build is recorded' };
  if (!previous.features || previous.features.lineage !== f.lineage) {
    return { mode: 'full', reason: 'the features were rebuilt from scratch since' };
  }
  if ((previous.logStart ?? null) !== (now.logStart ?? null)) return { mode: 'full', reason: "the log's first transaction changed" };
  const since = f.changes.filter((c) => c.generation > previous.features!.generation);
  if (since.length !== f.generation - previous.features.generation) {
    return { mode: 'full', reason: 'the feature builds since the last detection are not all recorded' };
  }
  if (since.length === 0) {
    return { mode: 'incremental', reason: 'no feature build since', previous, since: previous.features.generation, fromDay: null };
  }
  const fromDay = since.map((c) => c.firstDay).sort()[0];
  if (now.logStart !== undefined && dayNumber(fromDay) < Math.floor(now.logStart / 86_400) + SEGMENT_BOOTSTRAP_DAYS) {
    return { mode: 'full', reason: `a change on ${fromDay}, within the log's first ${SEGMENT_BOOTSTRAP_DAYS} days` };
  }
  return {
    mode: 'incremental',
    reason: `${since.length} feature build(s) since, changing days from ${fromDay}`,
    previous,
    since: previous.features.generation,
    fromDay,
  };
}

async function readDetectState(objectStore: ObjectStore, key: string): Promise<DetectState | undefined> {
  const text = await getTextIfPresent(objectStore, key);
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as DetectState;
    return state?.format === DETECT_STATE_FORMAT ? state : undefined;
  } catch {
    return undefined; // unreadable: score everything
  }
}

/** The alerts and split candidates of the previous run of the slice, or undefined when either file is gone. */
async function previousResults(objectStore: ObjectStore, previous: DetectState): Promise<{ alerts: Alert[]; candidates: Alert[] } | undefined> {
  const alerts = await getTextIfPresent(objectStore, previous.alertsKey);
  const candidates = previous.candidatesKey === null ? '[]' : await getTextIfPresent(objectStore, previous.candidatesKey);
  if (alerts === undefined || candidates === undefined) return undefined;
  return { alerts: JSON.parse(alerts) as Alert[], candidates: JSON.parse(candidates) as Alert[] };
}

/**
 * Runs the rule detectors and the models over the window features, streaming key by key, and writes the slice's
 * alert episodes to `alerts/run=<runId>/part=<partition>.json` (and the ensemble's split candidates) for the sink.
 *
 * Incremental when it can ({@link planDetect}): a scheduled run after a daily feature build rescores only the keys
 * of the users that build recomputed (and keys whose first transaction is after the first changed day) and carries
 * every other key's alerts over from the slice's previous run, restamped with this run's id. The result is the
 * same as scoring every key (tested): a key's alerts depend only on its own rows, its owner's rows on its other keys
 * (a change to any of them recomputes the owner, whose keys are all rescored), the models, the config, the log's
 * first transaction and, for its first windows, the segment typical days before them. The slice's state is
 * written last, so a Detect that stops half-way leaves the previous one, still true.
 */
export async function detect(
  deps: DetectDeps,
  input: { runId: string; config: DetectionConfig; partition?: number; partitions?: number },
): Promise<DetectResult> {
  const { objectStore, sqlEngine } = deps;
  const step = startStep(objectStore, input.runId, input.partition === undefined ? 'detect' : `detect-${input.partition}`);
  await registerFeatures(sqlEngine);
  const logStart = await logStartOf(sqlEngine);
  const { artifacts, missing } = await loadArtifacts(objectStore, input.config);
  const scorer = artifacts.length > 0 ? new ModelScorer(artifacts) : undefined;
  const found: Alert[] = [];
  const withCandidates = input.config.ensemble.enabled && input.config.ensemble.splitDepth > 0;
  const partition = input.partition === undefined ? 'all' : String(input.partition);
  const stateKey = Keys.detectState(partition, input.partition === undefined ? 1 : (input.partitions ?? 1));
  const fingerprint = detectFingerprint(input.config, artifacts, withCandidates);
  const featuresState = await readFeaturesState(objectStore);
  let plan = planDetect(await readDetectState(objectStore, stateKey), { fingerprint, logStart, features: featuresState });
  let carried: { alerts: Alert[]; candidates: Alert[] } = { alerts: [], candidates: [] };
  let keysSql: string | undefined;
  let changedUsers = new Set<string>();
  if (plan.mode === 'incremental') {
    const previous = await previousResults(objectStore, plan.previous);
    if (!previous) plan = { mode: 'full', reason: `the alerts of the previous run ${plan.previous.runId} are gone` };
    else {
      carried = previous;
      if (plan.fromDay !== null) {
        await registerFeatureChanges(sqlEngine);
        const params = { changes: 'feature_changes', since: plan.since, fromDay: plan.fromDay };
        changedUsers = new Set((await sqlEngine.query(renderSql(CHANGED_USERS_SQL, params))).map((r) => String(r.user_id)));
        keysSql = renderSql(RESCORED_KEYS_SQL, { ...params, partitionFilter: partitionFilter(input.partition, input.partitions, 'f.account_number') });
      }
    }
  }
  // Keys wait until their candidate windows fill a batch: the models score many keys' windows at once (LOF's
  // batched kNN is ~1.4× faster than a search per key), with the same scores.
  let pending: PendingEpisodes[] = [];
  let pendingVectors = 0;
  const flush = () => {
    const scored = scorer && pendingVectors > 0 ? scorer.score(pending.flatMap((p) => p.vectors)) : null;
    let offset = 0;
    for (const p of pending) {
      const hits = scored ? scored.slice(offset, offset + p.vectors.length) : null;
      offset += p.vectors.length;
      found.push(...finishEpisodes(p, hits, input.config, input.runId));
    }
    pending = [];
    pendingVectors = 0;
  };
  const scoreAll = plan.mode === 'full';
  // Only when some key is scored (nothing changed since the last run: every alert is carried over).
  const segments = scoreAll || keysSql !== undefined ? await segmentTypicalDaysOfBuild(deps, featuresState) : undefined;
  const segmentDay = segments?.segmentDay ?? (() => Number.NaN);
  const rescored = new Set<string>();
  const onKey = (keyRows: WindowRow[], others: OtherKeysHistory | undefined) => {
    rescored.add(`${keyRows[0].account_number}|${keyRows[0].direction}`);
    const p = scanEpisodes(keyRows, input.config, segmentDay, scorer !== undefined, withCandidates, logStart, others);
    if (p.vectors.length === 0) {
      found.push(...finishEpisodes(p, null, input.config, input.runId));
      return;
    }
    pending.push(p);
    pendingVectors += p.vectors.length;
    if (pendingVectors >= MODEL_BATCH_WINDOWS) flush();
  };
  const candidateRows = scoreAll || keysSql !== undefined
    ? await forEachKey(sqlEngine, input.partition, input.partitions, onKey, keysSql, true)
    : 0;
  flush();
  // A key keeps its previous alerts unless it was rescored, or its user's rows were rebuilt (a key whose rows
  // are all gone is not streamed, and must lose its alerts too).
  const keep = (a: Alert) => !rescored.has(`${a.account_number}|${a.direction}`) && !changedUsers.has(a.user_id);
  const restamp = (a: Alert): Alert => ({ ...a, run_id: input.runId });
  const carriedAlerts = scoreAll ? [] : carried.alerts.filter(keep).map(restamp);
  const carriedCandidates = scoreAll ? [] : carried.candidates.filter(keep).map(restamp);
  const byScore = (a: Alert, b: Alert) => b.score - a.score || (a.alert_id < b.alert_id ? -1 : 1);
  const alerts = [...carriedAlerts, ...found.filter((a) => a.method !== SPLIT_CANDIDATE_METHOD)].sort(byScore);
  // A candidate at or above the threshold shows the same window as a rule:split alert (its chain's best): only the
  // ones below it add anything.
  const candidates = [
    ...carriedCandidates,
    ...found.filter((a) => a.method === SPLIT_CANDIDATE_METHOD && a.score < a.threshold),
  ].sort(byScore);
  const alertsKey = Keys.alertsPart(input.runId, partition);
  await objectStore.putText(alertsKey, JSON.stringify(alerts), 'application/json');
  if (plan.mode === 'incremental') {
    // For the sink: the store already holds the carried alerts (as the previous run's); only these change.
    const changes: AlertChanges = {
      previousRunId: plan.previous.runId,
      fresh: found.filter((a) => a.method !== SPLIT_CANDIDATE_METHOD).map((a) => a.alert_id),
      dropped: carried.alerts.filter((a) => !keep(a)).map((a) => a.alert_id),
    };
    const changesKey = Keys.alertChangesPart(input.runId, partition);
    await objectStore.putText(changesKey, JSON.stringify(changes), 'application/json');
    step.record.writes.push({ key: changesKey, rows: changes.fresh.length + changes.dropped.length });
  }
  let candidatesKey: string | null = null;
  if (withCandidates) {
    candidatesKey = Keys.splitCandidatesPart(input.runId, partition);
    await objectStore.putText(candidatesKey, JSON.stringify(candidates), 'application/json');
    step.record.writes.push({ key: candidatesKey, rows: candidates.length });
  }
  const state: DetectState = {
    format: DETECT_STATE_FORMAT,
    runId: input.runId,
    fingerprint,
    logStart: logStart ?? null,
    features: featuresState ? { lineage: featuresState.lineage, generation: featuresState.generation } : null,
    alertsKey,
    candidatesKey,
  };
  await objectStore.putText(stateKey, JSON.stringify(state, null, 2), 'application/json');
  const byMethod: Record<string, number> = {};
  for (const a of alerts) byMethod[a.method] = (byMethod[a.method] ?? 0) + 1;
  step.record.reads.push({ key: Keys.features, rows: candidateRows });
  if (plan.mode === 'incremental') {
    step.record.reads.push({ key: plan.previous.alertsKey, rows: carried.alerts.length });
    if (plan.previous.candidatesKey) step.record.reads.push({ key: plan.previous.candidatesKey, rows: carried.candidates.length });
  }
  step.record.writes.push({ key: alertsKey, rows: alerts.length }, { key: stateKey });
  Object.assign(step.record.counts, {
    candidateRows,
    rescoredKeys: rescored.size,
    carriedAlerts: carriedAlerts.length,
    alerts: alerts.length,
    splitCandidates: candidates.length,
  });
  step.record.reads.push(...artifacts.map((a) => ({ key: modelKey(a.kind, a.version) })));
  step.record.details = {
    mode: plan.mode,
    reason: plan.reason,
    ...(segments ? { segmentTypicalDays: segments.cached ? `kept from this feature build (${Keys.detectSegments})` : 'computed' } : {}),
    byMethod,
    configVersion: input.config.version,
    ...(logStart !== undefined ? { logStart: new Date(logStart * 1000).toISOString().slice(0, 19).replace('T', ' ') } : {}),
    rules: input.config.rules,
    ...(input.config.segments.length ? { segments: input.config.segments } : {}),
    models: artifacts.map((a) => `${a.kind}@${a.version}`),
    ...(scorer
      ? {
          modelScoring: Object.fromEntries(
            [...scorer.timing].map(([kind, t]) => [kind, { windows: t.windows, seconds: Math.round(t.ms) / 1000 }]),
          ),
        }
      : {}),
    ...(missing.length ? { modelsNotFitted: missing } : {}),
  };
  await step.finish();
  return {
    runId: input.runId,
    partition,
    alertsKey,
    alerts: alerts.length,
    byMethod,
    candidateRows,
    splitCandidates: candidates.length,
    mode: plan.mode,
    reason: plan.reason,
    rescoredKeys: rescored.size,
    carriedAlerts: carriedAlerts.length,
  };
}
