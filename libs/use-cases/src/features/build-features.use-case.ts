import { CURATED_COLUMNS, CURATED_PARTITION, Keys, type DetectionConfig, type ObjectStore, type SqlEngine } from '@splitwatch/core';
import { startStep } from '../audit/step-record';
import { renderSql } from '../sql-text';
import { FEATURES_SQL, FEATURE_COLUMNS } from './features.sql';

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

/** The features SQL with its parameters filled in, ready for the engine. */
export function featuresSql(config: DetectionConfig, transactionsTable = 'transactions'): string {
  return renderSql(FEATURES_SQL, {
    transactions: transactionsTable,
    windowSeconds: Math.round(config.windowHours * 3600),
    baselineDays: BASELINE_DAYS,
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
      `COUNT(DISTINCT account_number || '|' || direction) AS keys FROM features`,
  );
  const result: BuildFeaturesResult = {
    runId: input.runId,
    rows: Number(stats?.n ?? 0),
    multiTxWindows: Number(stats?.multi ?? 0),
    keys: Number(stats?.keys ?? 0),
    files: written.length,
  };
  step.record.reads.push({ key: Keys.curated });
  step.record.writes.push(...written.map((key) => ({ key })));
  Object.assign(step.record.counts, { rows: result.rows, multiTxWindows: result.multiTxWindows, keys: result.keys });
  step.record.details = { windowHours: input.config.windowHours, baselineDays: BASELINE_DAYS };
  await step.finish();
  return result;
}
