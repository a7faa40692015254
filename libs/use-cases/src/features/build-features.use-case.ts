import {
  ConfigError,
  CURATED_COLUMNS,
  CURATED_PARTITION,
  Keys,
  SplitwatchError,
  type DetectionConfig,
  type ObjectStore,
  type SqlEngine,
} from '@splitwatch/core';
import { startStep } from '../audit/step-record';
import { renderSql } from '../sql-text';
import { FEATURES_SQL, FEATURE_COLUMNS, FEATURE_KEYS } from './features.sql';

export interface BuildFeaturesDeps {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
}

export interface BuildFeaturesResult {
  runId: string;
  rows: number;
  multiTxWindows: number;
  keys: number;
  files: number;
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

/** Registers the window features written by buildFeatures. */
export async function registerFeatures(sqlEngine: SqlEngine): Promise<void> {
  await sqlEngine.registerTable({
    name: 'features',
    prefix: Keys.features,
    format: 'parquet',
    columns: [...FEATURE_COLUMNS, { name: 'dt', type: 'VARCHAR' }],
  });
}

/** The currency unit (a scaled currency): 96% of real amounts are whole multiples of it. */
export const GRID_UNIT = '5.94445501';

/**
 * The features SQL with its parameters filled in, ready for the engine. `windowHours` may be any positive
 * length (1, 6, 24, 168 …); it is rounded to whole seconds.
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
 * Computes the sliding-window features of every curated transaction in the SQL engine and writes them as
 * Parquet under `features/windows/` (replacing the previous set: windows depend on the whole history).
 */
export async function buildFeatures(
  deps: BuildFeaturesDeps,
  input: { runId: string; config: DetectionConfig },
): Promise<BuildFeaturesResult> {
  const { objectStore, sqlEngine } = deps;
  const step = startStep(objectStore, input.runId, 'build-features');
  await registerTransactions(sqlEngine);
  const old = (await objectStore.list(Keys.features)).map((o) => o.key);
  await objectStore.delete(old);
  const written = await sqlEngine.unload(featuresSql(input.config), Keys.features);
  await registerFeatures(sqlEngine);
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
  const result: BuildFeaturesResult = {
    runId: input.runId,
    rows: Number(stats?.n ?? 0),
    multiTxWindows: Number(stats?.multi ?? 0),
    keys: Number(stats?.keys ?? 0),
    files: written.length,
  };
  step.record.reads.push({ key: Keys.curated, rows: Number(stats?.curated ?? 0) });
  step.record.writes.push(...written.map((key) => ({ key })));
  Object.assign(step.record.counts, {
    rows: result.rows,
    multiTxWindows: result.multiTxWindows,
    keys: result.keys,
  });
  step.record.details = {
    windowHours: input.config.windowHours,
    baselineDays: BASELINE_DAYS,
    keys: FEATURE_KEYS.map((k) => `${k.prefix}: ${k.columns.join(', ')}`),
  };
  await step.finish();
  return result;
}
