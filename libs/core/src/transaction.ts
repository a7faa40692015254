import type { ColumnDef } from './ports';

/** The eight columns of the input contract (the Nequi transaction log), any order in a file. */
export const INPUT_COLUMNS = [
  '_id',
  'merchant_id',
  'subsidiary',
  'transaction_date',
  'account_number',
  'user_id',
  'transaction_amount',
  'transaction_type',
] as const;
export type InputColumn = (typeof INPUT_COLUMNS)[number];

/**
 * Curated transaction row. `transaction_amount` is DECIMAL(24,8) in Parquet and kept as exact decimal
 * text in TypeScript; `transaction_date` is local time without zone, `YYYY-MM-DD HH:MM:SS`.
 */
export interface Transaction {
  tx_id: string;
  merchant_id: string;
  subsidiary: string;
  transaction_date: string;
  account_number: string;
  user_id: string;
  transaction_amount: string;
  transaction_type: 'DEBITO' | 'CREDITO';
}

/** Columns of the staging CSV written by ingest (validated rows with their provenance). */
export const STAGED_COLUMNS: ColumnDef[] = [
  { name: 'tx_id', type: 'VARCHAR' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'subsidiary', type: 'VARCHAR' },
  { name: 'transaction_date', type: 'TIMESTAMP' },
  { name: 'account_number', type: 'VARCHAR' },
  { name: 'user_id', type: 'VARCHAR' },
  { name: 'transaction_amount', type: 'DECIMAL(24,8)' },
  { name: 'transaction_type', type: 'VARCHAR' },
  { name: 'source_key', type: 'VARCHAR' },
  { name: 'source_line', type: 'BIGINT' },
];

/** Columns of curated Parquet (`curated/transactions/dt=YYYY-MM-DD/`), partition column `dt` aside. */
export const CURATED_COLUMNS: ColumnDef[] = STAGED_COLUMNS;
export const CURATED_PARTITION: ColumnDef[] = [{ name: 'dt', type: 'VARCHAR' }];

/** Object-store layout shared by S3 and the local directory. */
export const Keys = {
  raw: 'raw/',
  curated: 'curated/transactions/',
  /** What ingest curated from each source (see ingest's source states); outside the curated table's location. */
  curatedSources: 'curated/sources/',
  curatedSourceState: (sourceId: string) => `curated/sources/${sourceId}.json`,
  /** The `_id`s each source quarantined as conflicts (`<sourceId>.csv`), so that later runs keep them conflicts. */
  knownConflicts: 'curated/sources/conflicts/',
  knownConflictsOf: (sourceId: string) => `curated/sources/conflicts/${sourceId}.csv`,
  quarantine: (runId: string) => `quarantine/run=${runId}/`,
  staging: (runId: string) => `staging/run=${runId}/`,
  features: 'features/windows/',
  /** What the features in `features/windows/` were built from (see buildFeatures); outside the table's location. */
  featuresState: 'features/state.json',
  /**
   * The users each incremental build recomputed (user_id, generation), one file per build, for Detect to rescore
   * only their keys; cleared by a full build. Outside the table's location.
   */
  featuresChanges: 'features/changes/',
  candidates: (runId: string) => `scores/run=${runId}/`,
  alerts: (runId: string) => `alerts/run=${runId}/`,
  alertsPart: (runId: string, part: string) => `alerts/run=${runId}/part=${part}.json`,
  /**
   * What one Detect slice last scored (see detect): the run whose parts hold its whole result, and what they were
   * computed from. Outside every run's folder, so the sink never reads it.
   */
  detectState: (part: string, partitions: number) => `alerts/state/partitions=${partitions}/part=${part}.json`,
  /** The segment typical days of the last feature build, computed by the first Detect slice that needs them. */
  detectSegments: 'alerts/state/segment-days.json',
  /** Split episodes below the rule's threshold, for the ensemble only (never stored as alerts). */
  /**
   * What an incremental Detect slice changed against the run it carried alerts from (see sink): that run, the ids of
   * its alerts it scored again, and of its own fresh alerts. Outside the run's alert folder, which holds alerts only.
   */
  alertChanges: (runId: string) => `alerts/changes/run=${runId}/`,
  alertChangesPart: (runId: string, part: string) => `alerts/changes/run=${runId}/part=${part}.json`,
  splitCandidates: (runId: string) => `alerts/run=${runId}/split-candidates/`,
  splitCandidatesPart: (runId: string, part: string) => `alerts/run=${runId}/split-candidates/part=${part}.json`,
  report: (runId: string) => `reports/run=${runId}/index.html`,
  reportLatest: 'reports/latest/index.html',
  manifest: (runId: string) => `runs/${runId}/manifest.json`,
  stepRecord: (runId: string, step: string) => `runs/${runId}/steps/${step}.json`,
} as const;
