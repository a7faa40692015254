import { Keys, rulesFor, type Alert, type DetectionConfig, type Direction, type ObjectStore, type SqlEngine } from '@splitwatch/core';
import { startStep } from '../audit/step-record';
import { registerFeatures } from '../features/build-features.use-case';
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

function partitionFilter(partition: number | undefined, partitions: number | undefined): string {
  if (partition === undefined) return '';
  const { lo, hi } = partitionRange(partition, partitions ?? 1);
  const conds = [lo !== null ? `account_number >= '${lo}'` : '', hi !== null ? `account_number < '${hi}'` : ''].filter(Boolean);
  return conds.length ? ` AND ${conds.join(' AND ')}` : '';
}

/** Rows of every key that has at least one multi-transaction window, in key then time order. */
export const CANDIDATES_SQL = `
SELECT f.tx_id, f.user_id, f.account_number, f.merchant_id, f.subsidiary, f.direction,
       f.transaction_date, date_diff('second', TIMESTAMP '1970-01-01 00:00:00', f.transaction_date) AS ts,
       CAST(f.amount AS VARCHAR) AS amount, f.n_tx, CAST(f.sum_amount AS VARCHAR) AS sum_amount,
       f.z_sum, f.hist_days, f.base_mean_daily_sum
FROM features f
JOIN (SELECT account_number, direction FROM features WHERE n_tx >= 2{{partitionFilter}} GROUP BY account_number, direction) k
  ON k.account_number = f.account_number AND k.direction = f.direction
ORDER BY f.account_number, f.direction, f.transaction_date, f.tx_id
`;

/**
 * Typical active-day total per segment (merchant, direction): the geometric mean of account-day totals,
 * robust to a few huge days. Used for keys with too little history of their own.
 */
export const SEGMENT_TYPICAL_DAY_SQL = `
SELECT merchant_id, direction, exp(avg(ln(day_sum))) AS typical_day, COUNT(*) AS account_days
FROM (
  SELECT account_number, merchant_id, direction, CAST(transaction_date AS DATE) AS d,
         SUM(CAST(amount AS DOUBLE)) AS day_sum
  FROM features
  GROUP BY account_number, merchant_id, direction, CAST(transaction_date AS DATE)
) x
GROUP BY merchant_id, direction
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

/** The segment typical day per (merchant, direction), for keys without history. */
async function segmentTypicalDays(sqlEngine: SqlEngine): Promise<SegmentTypicalDay> {
  const segments = new Map<string, number>();
  for (const s of await sqlEngine.query(SEGMENT_TYPICAL_DAY_SQL)) {
    // 12 significant digits: a parallel AVG over doubles differs run to run in the last bits, which would make
    // FitModels' sample, and a borderline model alert, differ between two runs over the same data.
    segments.set(`${String(s.merchant_id)}|${String(s.direction)}`, Number(Number(s.typical_day).toPrecision(12)));
  }
  return (r: WindowRow) => segments.get(`${r.merchant_id}|${r.direction}`) ?? Number.POSITIVE_INFINITY;
}

/** Streams the candidate rows (of one account slice, or all) and hands over each key's rows in time order. */
async function forEachKey(
  sqlEngine: SqlEngine,
  partition: number | undefined,
  partitions: number | undefined,
  onKey: (rows: WindowRow[]) => void,
): Promise<number> {
  let keyRows: WindowRow[] = [];
  let count = 0;
  const candidatesSql = renderSql(CANDIDATES_SQL, { partitionFilter: partitionFilter(partition, partitions) });
  for await (const batch of sqlEngine.stream(candidatesSql, 50_000)) {
    for (const raw of batch) {
      const row = toWindowRow(raw);
      count++;
      const prev = keyRows[keyRows.length - 1];
      if (prev && (prev.account_number !== row.account_number || prev.direction !== row.direction)) {
        onKey(keyRows);
        keyRows = [];
      }
      keyRows.push(row);
    }
  }
  if (keyRows.length > 0) onKey(keyRows);
  return count;
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
): Promise<{ from: string | null; to: string | null }> {
  const segmentDay = await segmentTypicalDays(sqlEngine);
  let from: string | null = null;
  let to: string | null = null;
  await forEachKey(sqlEngine, undefined, undefined, (rows) => {
    if (from === null || rows[0].transaction_date < from) from = rows[0].transaction_date;
    const last = rows[rows.length - 1].transaction_date;
    if (to === null || last > to) to = last;
    scanKeyWindows(rows, config, segmentDay, (w) => {
      const split = rulesFor(config, rows[w.i].merchant_id, rows[w.i].direction).split;
      if (isModelCandidate(rows, w.lo, w.hi, split)) visit(windowVector(rows, w.lo, w.hi, w.typicalDay));
    });
  });
  return { from, to };
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
 * (2..maxParts parts, at least split.minSum) and stores them under `models/<detector>/<version>/model.json`
 * with their feature list, scaler, training range and code version. Later runs with the same config version
 * reuse them; a new version (or deleting the folder) refits.
 */
export async function fitModels(deps: DetectDeps, input: { runId: string; config: DetectionConfig }): Promise<FitModelsResult> {
  const { objectStore, sqlEngine } = deps;
  const { config } = input;
  const version = modelsVersion(config);
  const step = startStep(objectStore, input.runId, 'fit-models');
  const existing = await loadArtifacts(objectStore, config);
  if (existing.missing.length === 0) {
    step.record.details = { reused: true, version };
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
  await registerFeatures(sqlEngine);
  const reservoir = new Reservoir<number[]>(config.models.sampleSize, config.models.seed);
  const { from, to } = await forEachCandidateWindow(sqlEngine, config, (v) => reservoir.offer(v));
  const artifacts = fitArtifacts(reservoir.items, config, { from, to }, existing.missing as ReturnType<typeof enabledModelKinds>);
  for (const a of artifacts) {
    const key = modelKey(a.kind, version);
    await objectStore.putText(key, JSON.stringify(a), 'application/json');
    step.record.writes.push({ key, rows: a.trainingRows });
  }
  step.record.counts.candidateWindows = reservoir.seen;
  step.record.counts.sample = reservoir.items.length;
  step.record.details = { reused: false, version, fitted: artifacts.map((a) => a.kind) };
  await step.finish();
  const all = [...existing.artifacts, ...artifacts];
  return {
    runId: input.runId,
    version,
    reused: false,
    models: all.map((a) => ({ kind: a.kind, key: modelKey(a.kind, version), trainingRows: a.trainingRows, fitSeconds: a.fitSeconds })),
    candidateWindows: reservoir.seen,
  };
}

/**
 * Runs the rule detectors over the window features, streaming key by key, and writes the alert episodes to
 * `alerts/run=<runId>/alerts.json` for the sink.
 */
export async function detect(
  deps: DetectDeps,
  input: { runId: string; config: DetectionConfig; partition?: number; partitions?: number },
): Promise<DetectResult> {
  const { objectStore, sqlEngine } = deps;
  const step = startStep(objectStore, input.runId, input.partition === undefined ? 'detect' : `detect-${input.partition}`);
  await registerFeatures(sqlEngine);
  const segmentDay = await segmentTypicalDays(sqlEngine);
  const logStart = await logStartOf(sqlEngine);
  const { artifacts, missing } = await loadArtifacts(objectStore, input.config);
  const scorer = artifacts.length > 0 ? new ModelScorer(artifacts) : undefined;
  const found: Alert[] = [];
  const withCandidates = input.config.ensemble.enabled && input.config.ensemble.splitDepth > 0;
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
  const candidateRows = await forEachKey(sqlEngine, input.partition, input.partitions, (keyRows) => {
    const p = scanEpisodes(keyRows, input.config, segmentDay, scorer !== undefined, withCandidates, logStart);
    if (p.vectors.length === 0) {
      found.push(...finishEpisodes(p, null, input.config, input.runId));
      return;
    }
    pending.push(p);
    pendingVectors += p.vectors.length;
    if (pendingVectors >= MODEL_BATCH_WINDOWS) flush();
  });
  flush();
  const byScore = (a: Alert, b: Alert) => b.score - a.score || (a.alert_id < b.alert_id ? -1 : 1);
  const alerts = found.filter((a) => a.method !== SPLIT_CANDIDATE_METHOD).sort(byScore);
  // A candidate at or above the threshold shows the same window as a rule:split alert (its chain's best): only the
  // ones below it add anything.
  const candidates = found.filter((a) => a.method === SPLIT_CANDIDATE_METHOD && a.score < a.threshold).sort(byScore);
  const partition = input.partition === undefined ? 'all' : String(input.partition);
  const alertsKey = Keys.alertsPart(input.runId, partition);
  await objectStore.putText(alertsKey, JSON.stringify(alerts), 'application/json');
  if (withCandidates) {
    const candidatesKey = Keys.splitCandidatesPart(input.runId, partition);
    await objectStore.putText(candidatesKey, JSON.stringify(candidates), 'application/json');
    step.record.writes.push({ key: candidatesKey, rows: candidates.length });
  }
  const byMethod: Record<string, number> = {};
  for (const a of alerts) byMethod[a.method] = (byMethod[a.method] ?? 0) + 1;
  step.record.reads.push({ key: Keys.features, rows: candidateRows });
  step.record.writes.push({ key: alertsKey, rows: alerts.length });
  Object.assign(step.record.counts, { candidateRows, alerts: alerts.length, splitCandidates: candidates.length });
  step.record.reads.push(...artifacts.map((a) => ({ key: modelKey(a.kind, a.version) })));
  step.record.details = {
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
  return { runId: input.runId, partition, alertsKey, alerts: alerts.length, byMethod, candidateRows, splitCandidates: candidates.length };
}
