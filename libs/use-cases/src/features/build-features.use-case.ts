import {
  ConfigError,
  CURATED_COLUMNS,
  CURATED_PARTITION,
  Keys,
  SplitwatchError,
  type ColumnDef,
  type DetectionConfig,
  type ObjectInfo,
  type ObjectStore,
  type SqlEngine,
} from '@splitwatch/core';
import { sha256Hex, startStep, type StepRecord } from '../audit/step-record';
import { getTextIfPresent } from '../optional-object';
import { renderSql, safeIdent } from '../sql-text';
import { publishUnloaded } from '../unloaded-files';
import { FEATURES_DAY, FEATURES_PARTITION, FEATURES_SQL, FEATURE_COLUMNS, FEATURE_KEYS } from './features.sql';

export interface BuildFeaturesDeps {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
}

/** How buildFeatures brought `features/windows/` up to date with the curated transactions. */
export type FeaturesBuildMode = 'full' | 'incremental' | 'unchanged';

export interface BuildFeaturesResult {
  runId: string;
  rows: number;
  multiTxWindows: number;
  keys: number;
  /** Files written by this call (none when the features were already up to date). */
  files: number;
  mode: FeaturesBuildMode;
  /** Why this mode: what changed since the last build, or why it started over. */
  reason: string;
  /** Transactions whose features this call computed (every one in a full build). */
  recomputedRows: number;
}

/** The features written do not match the curated transactions one to one. */
export class FeaturesIntegrityError extends SplitwatchError {}

/** Baseline length in days for the per-key z-score. */
export const BASELINE_DAYS = 30;

/** Registers the curated transactions table (the same table name in Athena and DuckDB). */
export async function registerTransactions(sqlEngine: SqlEngine): Promise<void> {
  await sqlEngine.registerTable({
    name: 'transactions',
    prefix: Keys.curated,
    format: 'parquet',
    columns: CURATED_COLUMNS,
    partitionedBy: CURATED_PARTITION,
  });
}

/** Columns of the files under `Keys.featuresChanges`: the users one incremental build recomputed, and its number. */
export const FEATURES_CHANGES_COLUMNS: ColumnDef[] = [
  { name: 'user_id', type: 'VARCHAR' },
  { name: 'generation', type: 'BIGINT' },
];

/** Registers the users the incremental builds recomputed (see {@link FeaturesState.changes}). */
export async function registerFeatureChanges(sqlEngine: SqlEngine, name = 'feature_changes'): Promise<void> {
  await sqlEngine.registerTable({ name, prefix: Keys.featuresChanges, format: 'parquet', columns: FEATURES_CHANGES_COLUMNS });
}

/** Registers the window features written by buildFeatures. */
export async function registerFeatures(sqlEngine: SqlEngine): Promise<void> {
  await sqlEngine.registerTable({
    name: 'features',
    prefix: Keys.features,
    format: 'parquet',
    columns: [...FEATURE_COLUMNS, FEATURES_DAY],
    partitionedBy: FEATURES_PARTITION,
  });
}

/** The currency unit (a scaled currency): 96% of real amounts are whole multiples of it. */
export const GRID_UNIT = '5.94445501';

/**
 * The features SQL with its parameters filled in, ready for the engine. `windowHours` may be any positive
 * length (1, 6, 24, 168 …); it is rounded to whole seconds. `transactionsTable` is a table name or an aliased
 * subquery (an incremental build passes the recomputed users' transactions).
 */
export function featuresSql(config: DetectionConfig, transactionsTable = 'transactions'): string {
  const windowSeconds = Math.round(config.windowHours * 3600);
  if (!(windowSeconds >= 1))
    throw new ConfigError(`windowHours must give at least one second, got ${config.windowHours}`);
  return renderSql(FEATURES_SQL, {
    transactions: transactionsTable,
    windowSeconds,
    windowSecondsPlus1: windowSeconds + 1,
    // Window length in days, as a DOUBLE in both engines (Trino reads a bare 0.25 as DECIMAL).
    windowDays: `(CAST(${windowSeconds} AS DOUBLE) / 86400)`,
    baselineDays: BASELINE_DAYS,
    baselineFrameStart: windowSeconds + BASELINE_DAYS * 86400,
    gridUnit: GRID_UNIT,
  });
}

/**
 * What the features under `features/windows/` were built from, kept at `Keys.featuresState` (outside the table's
 * location, so Athena never reads it as data). Removed before features are replaced and written after, so a build
 * that stops half-way leaves no state and the next one starts over.
 */
export interface FeaturesState {
  format: typeof FEATURES_STATE_FORMAT;
  /** sha256 of the features SQL (window length included), its columns and partition. */
  fingerprint: string;
  runId: string;
  builtAt: string;
  /** Every curated object (key → version) the features cover, as listed when that build started. */
  curated: Record<string, string>;
  /** This build's number, written in the rows it computed ({@link FEATURES_GENERATION}); one more per build. */
  generation: number;
  /** The last full build (`<runId>@<builtAt>`): generations compare only within one lineage. */
  lineage: string;
  /** The incremental builds since the lineage's full build: their generation and first changed day (yyyy-MM-dd). */
  changes: FeaturesChange[];
}

export interface FeaturesChange {
  generation: number;
  firstDay: string;
}

const FEATURES_STATE_FORMAT = 'splitwatch.features-state.v2';

/**
 * Above this share of the curated transactions to recompute, an incremental build becomes a full one: it would
 * read nearly everything twice (the affected users' history and the old feature months it rewrites).
 */
export const INCREMENTAL_MAX_SHARE = 0.5;

/** The plan for one build: start over, do nothing, or recompute the users active on some days. */
export type FeaturesPlan =
  | { mode: 'full'; reason: string }
  | { mode: 'unchanged'; reason: string }
  | { mode: 'incremental'; reason: string; days: string[] };

const DAY_OF_KEY = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})\//;

/** The fingerprint a build records: any change to the SQL, its columns or layout forces a full build. */
export function featuresFingerprint(config: DetectionConfig): string {
  return sha256Hex(
    JSON.stringify({
      format: FEATURES_STATE_FORMAT,
      sql: featuresSql(config),
      columns: [...FEATURE_COLUMNS, FEATURES_DAY],
      partition: FEATURES_PARTITION,
    }),
  );
}

/**
 * Compares the curated objects listed now with those the last build covered: the days of every object added,
 * rewritten (a new version) or removed since are the days whose users must be recomputed.
 */
export function planFeaturesBuild(
  state: FeaturesState | undefined,
  curated: readonly ObjectInfo[],
  fingerprint: string,
): FeaturesPlan {
  if (!state) return { mode: 'full', reason: 'no previous build is recorded' };
  if (state.format !== FEATURES_STATE_FORMAT || state.fingerprint !== fingerprint) {
    return { mode: 'full', reason: 'the features definition changed (window length, SQL or layout)' };
  }
  const changed: string[] = [];
  const now = new Set<string>();
  for (const o of curated) {
    if (o.version === undefined) return { mode: 'full', reason: `the object store gives no version for ${o.key}` };
    now.add(o.key);
    if (state.curated[o.key] !== o.version) changed.push(o.key);
  }
  for (const key of Object.keys(state.curated)) if (!now.has(key)) changed.push(key);
  if (changed.length === 0) return { mode: 'unchanged', reason: 'no curated object changed since the last build' };
  const days = new Set<string>();
  for (const key of changed) {
    const day = DAY_OF_KEY.exec(key)?.[1];
    if (!day) return { mode: 'full', reason: `a curated object outside the dt=YYYY-MM-DD/ layout changed: ${key}` };
    days.add(day);
  }
  const sorted = [...days].sort();
  return {
    mode: 'incremental',
    reason: `${changed.length} curated object(s) changed on ${sorted.length} day(s) from ${sorted[0]}`,
    days: sorted,
  };
}

async function readState(objectStore: ObjectStore): Promise<FeaturesState | undefined> {
  const text = await getTextIfPresent(objectStore, Keys.featuresState);
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as FeaturesState;
    return state && typeof state.curated === 'object' && state.curated !== null ? state : undefined;
  } catch {
    return undefined; // unreadable state: start over
  }
}

/** The state of the features as last built (undefined when none is recorded or it is unreadable). */
export async function readFeaturesState(objectStore: ObjectStore): Promise<FeaturesState | undefined> {
  const state = await readState(objectStore);
  return state?.format === FEATURES_STATE_FORMAT ? state : undefined;
}

interface Written {
  /** Feature files written. */
  keys: string[];
  /** The recomputed users' file under Keys.featuresChanges (an incremental build). */
  changes?: string[];
  recomputedRows: number;
  details: Record<string, unknown>;
}

/** Starts over: every feature file is replaced by one file per month of the whole history. */
async function buildAll(deps: BuildFeaturesDeps, config: DetectionConfig): Promise<Written> {
  const { objectStore, sqlEngine } = deps;
  await objectStore.delete([Keys.featuresState]);
  await objectStore.delete((await objectStore.list(Keys.features)).map((o) => o.key));
  // A new lineage: the previous builds' changes are no longer comparable.
  await objectStore.delete((await objectStore.list(Keys.featuresChanges)).map((o) => o.key));
  const keys = await sqlEngine.unload(featuresSql(config), Keys.features, {
    partitionBy: FEATURES_PARTITION.map((c) => c.name),
  });
  const [c] = await sqlEngine.query('SELECT COUNT(*) AS n FROM transactions');
  return { keys, recomputedRows: Number(c?.n ?? 0), details: {} };
}

const quoted = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

/**
 * Recomputes the users active on the changed days, over their whole history, and rewrites the feature months
 * from the first changed day's on: each such month's new file holds the recomputed rows of those users and the
 * previous rows of everybody else. Exact, because every key (account, user, user-merchant) belongs to one user and
 * no feature looks ahead: a user without a transaction on a changed day has the same history as before, and rows
 * before a changed day do not depend on it. Returns a reason instead when a full build is needed: a recomputed
 * user shares an account with a user who is not recomputed (the account's windows would be cut), or the
 * increment is most of the log.
 */
async function buildIncrement(
  deps: BuildFeaturesDeps,
  runId: string,
  config: DetectionConfig,
  days: readonly string[],
  maxShare: number,
  generation: number,
): Promise<Written | { fallback: string }> {
  const { objectStore, sqlEngine } = deps;
  const staging = `${Keys.staging(runId)}features/`;
  const usersPrefix = `${staging}users/`;
  const usersTable = safeIdent(`features_users_${runId}`);
  const months = [...new Set(days.map((d) => d.slice(0, 7)))];
  const fromMonth = months[0];
  // Leftovers of an earlier attempt of this run that was stopped (a Lambda timeout) would block the UNLOADs.
  await objectStore.delete((await objectStore.list(staging)).map((o) => o.key));
  try {
    // The users with a transaction on a changed day, now or in the previous features (a removed row's user), and
    // every user of an account they used.
    // Kept (features/changes/) once the build succeeds, with its number: Detect rescores these users' keys.
    const usersFiles = await sqlEngine.unload(
      `WITH changed AS (
  SELECT user_id, account_number FROM transactions WHERE dt IN (${quoted(days)})
  UNION
  SELECT user_id, account_number FROM features WHERE month IN (${quoted(months)}) AND dt IN (${quoted(days)})
)
SELECT user_id, CAST(${generation} AS BIGINT) AS generation FROM (
  SELECT user_id FROM changed
  UNION
  SELECT user_id FROM transactions WHERE account_number IN (SELECT account_number FROM changed)
) u`,
      usersPrefix,
    );
    await sqlEngine.registerTable({
      name: usersTable,
      prefix: usersPrefix,
      format: 'parquet',
      columns: FEATURES_CHANGES_COLUMNS,
    });
    const inUsers = `user_id IN (SELECT user_id FROM ${usersTable})`;
    const [c] = await sqlEngine.query(
      `SELECT (SELECT COUNT(*) FROM ${usersTable}) AS users,
  (SELECT COUNT(*) FROM transactions WHERE ${inUsers}) AS affected,
  (SELECT COUNT(*) FROM transactions) AS total,
  (SELECT COUNT(*) FROM transactions WHERE NOT ${inUsers}
     AND account_number IN (SELECT account_number FROM transactions WHERE ${inUsers})) AS shared`,
    );
    const users = Number(c?.users ?? 0);
    const affected = Number(c?.affected ?? 0);
    const total = Number(c?.total ?? 0);
    const shared = Number(c?.shared ?? 0);
    if (shared > 0) {
      return { fallback: `${shared} transaction(s) of other users share an account with the users to recompute` };
    }
    if (affected > maxShare * total) {
      return {
        fallback: `the changed days' users hold ${affected} of ${total} transactions (over ${100 * maxShare}%)`,
      };
    }
    const columns = [...FEATURE_COLUMNS, FEATURES_DAY, ...FEATURES_PARTITION].map((col) => col.name).join(', ');
    const source = `(SELECT * FROM transactions WHERE ${inUsers}) recomputed_tx`;
    const staged = await sqlEngine.unload(
      `SELECT ${columns} FROM (${featuresSql(config, source)}) recomputed WHERE month >= '${fromMonth}'
UNION ALL
SELECT ${columns} FROM features WHERE month >= '${fromMonth}' AND NOT ${inUsers}`,
      `${staging}windows/`,
      { partitionBy: FEATURES_PARTITION.map((col) => col.name) },
    );
    // The swap: state first (a build that stops here leaves none, and the next starts over), then the months.
    await objectStore.delete([Keys.featuresState]);
    const replaced = (await objectStore.list(Keys.features))
      .map((o) => o.key)
      .filter((key) => (/\/month=(\d{4}-\d{2})\//.exec(key)?.[1] ?? '') >= fromMonth);
    await objectStore.delete(replaced);
    // Named after the run, so names stay unique across builds.
    const keys = await publishUnloaded(objectStore, staged, `${staging}windows/`, Keys.features, safeIdent(runId));
    const changes = await publishUnloaded(objectStore, usersFiles, usersPrefix, Keys.featuresChanges, `g${generation}`);
    return {
      keys,
      changes,
      recomputedRows: affected,
      details: { changedDays: days, users, monthsRewritten: `${fromMonth} on` },
    };
  } finally {
    await sqlEngine.dropTable(usersTable);
    await objectStore.delete((await objectStore.list(staging)).map((o) => o.key));
  }
}

/**
 * Computes the sliding-window features of every curated transaction in the SQL engine and writes them as
 * Parquet under `features/windows/month=YYYY-MM/`, incrementally when it can: a scheduled run that brings a new
 * day recomputes only that day's users (over their whole history) and rewrites only the months from that day on;
 * nothing changed, nothing is written. The result is the same as a full build, row for row (tested). It starts
 * over when no earlier build is recorded, the definition changed (window length, SQL), a curated object outside
 * the day layout changed, users share accounts across the increment, or the increment is most of the log.
 */
export async function buildFeatures(
  deps: BuildFeaturesDeps,
  input: {
    runId: string;
    config: DetectionConfig;
    /** Share of the curated transactions above which an increment becomes a full build ({@link INCREMENTAL_MAX_SHARE}). */
    incrementalMaxShare?: number;
  },
): Promise<BuildFeaturesResult> {
  const { objectStore, sqlEngine } = deps;
  const step = startStep(objectStore, input.runId, 'build-features');
  await registerTransactions(sqlEngine);
  const curated = await objectStore.list(Keys.curated);
  const fingerprint = featuresFingerprint(input.config);
  const previous = await readState(objectStore);
  let plan = planFeaturesBuild(previous, curated, fingerprint);
  const generation = (Number.isSafeInteger(previous?.generation) ? previous!.generation : 0) + 1;
  // Only a recorded build is read back (an older layout without the month folders is simply replaced).
  if (plan.mode !== 'full') await registerFeatures(sqlEngine);
  let written: Written = { keys: [], recomputedRows: 0, details: {} };
  if (plan.mode === 'unchanged') {
    const [c] = await sqlEngine.query(
      'SELECT (SELECT COUNT(*) FROM features) AS f, (SELECT COUNT(*) FROM transactions) AS t',
    );
    if (Number(c?.f) !== Number(c?.t)) {
      plan = { mode: 'full', reason: `the features hold ${String(c?.f)} rows for ${String(c?.t)} curated transactions` };
    }
  }
  if (plan.mode === 'incremental') {
    const maxShare = input.incrementalMaxShare ?? INCREMENTAL_MAX_SHARE;
    const increment = await buildIncrement(deps, input.runId, input.config, plan.days, maxShare, generation);
    if ('fallback' in increment) plan = { mode: 'full', reason: increment.fallback };
    else written = increment;
  }
  if (plan.mode === 'full') written = await buildAll(deps, input.config);
  if (plan.mode !== 'unchanged') {
    const builtAt = new Date().toISOString();
    const state: FeaturesState = {
      format: FEATURES_STATE_FORMAT,
      fingerprint,
      runId: input.runId,
      builtAt,
      curated: Object.fromEntries(curated.map((o) => [o.key, o.version ?? ''])),
      generation,
      // The full build's run and time: a second full build of the same run id is another lineage.
      lineage: plan.mode === 'incremental' && previous ? previous.lineage : `${input.runId}@${builtAt}`,
      changes: plan.mode === 'incremental' && previous ? [...previous.changes, { generation, firstDay: plan.days[0] }] : [],
    };
    await objectStore.putText(Keys.featuresState, JSON.stringify(state, null, 2), 'application/json');
  }
  await registerFeatures(sqlEngine);
  const result = await checkAndCount(sqlEngine, input.runId, plan, written);
  recordStep(step.record, input.config, result, written);
  await step.finish();
  return result;
}

async function checkAndCount(
  sqlEngine: SqlEngine,
  runId: string,
  plan: FeaturesPlan,
  written: Written,
): Promise<BuildFeaturesResult> {
  const [stats] = await sqlEngine.query(
    `SELECT COUNT(*) AS n, SUM(CASE WHEN n_tx >= 2 THEN 1 ELSE 0 END) AS multi, ` +
      `COUNT(DISTINCT account_number || '|' || direction) AS keys, ` +
      `(SELECT COUNT(*) FROM transactions) AS curated FROM features`,
  );
  // The keys' windows are joined on tx_id: a tx_id twice in curated data would multiply rows, never silently.
  if (Number(stats?.n ?? 0) !== Number(stats?.curated ?? 0)) {
    throw new FeaturesIntegrityError(
      `Features have ${String(stats?.n)} rows for ${String(stats?.curated)} curated transactions: ` +
        `tx_id must be unique in ${Keys.curated} (check: SELECT tx_id, COUNT(*) FROM transactions GROUP BY tx_id HAVING COUNT(*) > 1)`,
    );
  }
  return {
    runId,
    rows: Number(stats?.n ?? 0),
    multiTxWindows: Number(stats?.multi ?? 0),
    keys: Number(stats?.keys ?? 0),
    files: written.keys.length,
    mode: plan.mode,
    reason: plan.reason,
    recomputedRows: written.recomputedRows,
  };
}

function recordStep(record: StepRecord, config: DetectionConfig, result: BuildFeaturesResult, written: Written): void {
  record.reads.push({ key: Keys.curated, rows: result.rows });
  record.writes.push(...[...written.keys, ...(written.changes ?? [])].map((key) => ({ key })));
  if (result.mode !== 'unchanged') record.writes.push({ key: Keys.featuresState });
  Object.assign(record.counts, {
    rows: result.rows,
    multiTxWindows: result.multiTxWindows,
    keys: result.keys,
    recomputedRows: result.recomputedRows,
  });
  record.details = {
    mode: result.mode,
    reason: result.reason,
    ...written.details,
    windowHours: config.windowHours,
    baselineDays: BASELINE_DAYS,
    keys: FEATURE_KEYS.map((k) => `${k.prefix}: ${k.columns.join(', ')}`),
  };
}
