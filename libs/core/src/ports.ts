import type { Readable } from 'node:stream';
import type { Alert } from './alert';
import type { AlertFilter, AlertSummary, AlertSummaryOptions } from './alerts-sql';

/**
 * Object store port: S3 in AWS, a local directory with the same key layout on a laptop.
 * Keys are `/`-separated and never start with `/` (e.g. `curated/transactions/dt=2021-01-01/a.parquet`).
 */
export interface ObjectStore {
  /** Human-readable root, e.g. `s3://bucket` or `/home/me/.splitwatch`; only for messages and manifests. */
  readonly location: string;
  getText(key: string): Promise<string>;
  /** Reads a whole object; throws ObjectNotFoundError when the key is absent. */
  getBytes(key: string): Promise<Uint8Array>;
  getStream(key: string): Promise<Readable>;
  putText(key: string, body: string, contentType?: string): Promise<void>;
  putBytes(key: string, body: Uint8Array, contentType?: string): Promise<void>;
  /**
   * Uploads a local file (streamed) under `key`. `move`: the caller is done with the file, so a store on the same
   * disk may take it instead of copying it (it may then be gone; the caller still removes it, forcefully).
   */
  putFile(key: string, localPath: string, contentType?: string, options?: { move?: boolean }): Promise<void>;
  /**
   * Writes `body` under `key` only when nothing is there (S3's conditional write, `If-None-Match: *`; locally an
   * exclusive create): true when written, false when the key was taken. The object appears whole or not at all.
   */
  putTextIfAbsent(key: string, body: string, contentType?: string): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Lists every key under a prefix (all pages), sorted, with sizes. */
  list(prefix: string): Promise<ObjectInfo[]>;
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(keys: string[]): Promise<void>;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /**
   * Changes whenever the object is written again (S3: the ETag; locally: size, modification time and inode).
   * Absent when the store cannot tell; a reader that needs it (incremental BuildFeatures) then starts over.
   */
  version?: string;
}

/** Column of a table registered in the SQL engine. Types are in the subset shared by Athena and DuckDB. */
export interface ColumnDef {
  name: string;
  type:
    'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'DECIMAL(24,8)' | 'DECIMAL(38,8)' | 'TIMESTAMP' | 'DATE' | 'BOOLEAN';
}

/** A table over objects under a key prefix (Glue table in AWS, a DuckDB view locally). */
export interface TableDef {
  name: string;
  /** Key prefix holding the data, e.g. `curated/transactions/`. */
  prefix: string;
  format: 'parquet' | 'csv';
  /**
   * Parquet: found by name. CSV: a header line, then these columns, written in this order: Athena reads them by
   * position; DuckDB matches by name, and reads files whose header is exactly this order without sniffing them.
   */
  columns: ColumnDef[];
  /** Hive-style partition columns encoded in the keys (`dt=2021-01-01/`). They are not listed in `columns`. */
  partitionedBy?: ColumnDef[];
  /**
   * Parquet, engines with {@link SqlEngine.numbersFileRows} only: a BIGINT column of this name holding each row's
   * 1-based position in its file.
   */
  rowNumber?: string;
}

/**
 * SQL engine port: Athena in AWS, DuckDB locally. SQL text handed to it must stay in the dialect
 * subset the two share (see libs/use-cases/src/sql); only table registration differs per engine.
 */
export interface SqlEngine {
  readonly name: 'athena' | 'duckdb';
  /**
   * True when {@link TableDef.rowNumber} is honoured (DuckDB reads each row's position in its Parquet file, in
   * parallel); otherwise SQL must number rows itself (`row_number() OVER ()`, serial, and in no promised order).
   */
  readonly numbersFileRows?: boolean;
  /** Makes `def.name` queryable. A prefix with no objects yet yields an empty table with the declared columns. */
  registerTable(def: TableDef): Promise<void>;
  /** Runs a query and returns all rows (use for small results). Values: string, number, bigint-as-string, boolean, null; timestamps as ISO-like `YYYY-MM-DD HH:MM:SS` strings. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Streams the rows of a query in batches (for large results). */
  stream(sql: string, batchSize?: number): AsyncIterable<Record<string, unknown>[]>;
  /**
   * Writes the result of `selectSql` as Parquet files under `destPrefix` (which must be empty or absent),
   * optionally Hive-partitioned by the given columns, and returns the keys written.
   */
  unload(selectSql: string, destPrefix: string, options?: { partitionBy?: string[] }): Promise<string[]>;
  /**
   * Forgets a table made by {@link registerTable} (its data stays in the store); no error when it does not exist.
   * Per-run tables are dropped when the run is done, so the catalog (Glue in AWS) does not collect them.
   */
  dropTable(name: string): Promise<void>;
}

/** Results store port: Redshift (Data API) in AWS, PGlite or any PostgreSQL locally. */
export interface ResultsStore {
  readonly name: string;
  /** Creates the schema when absent; safe to call on every run. */
  ensureSchema(): Promise<void>;
  /** Inserts or replaces alerts by `alert_id`, so re-running the same input never duplicates them. Returns rows written. */
  upsertAlerts(alerts: Alert[]): Promise<number>;
  /**
   * Deletes every alert that run `runId` did not write: a run writes every current alert (an incremental Detect
   * carries the unchanged ones over), so what is left from earlier runs is no longer current (an episode whose
   * chain grew and moved its best window, hence its id, or whose transactions were withdrawn). Returns how many.
   */
  retireAlerts(runId: string): Promise<number>;
  /** Deletes the alerts of these ids; returns how many ids were given. */
  deleteAlerts(alertIds: string[]): Promise<number>;
  /** Moves every alert of run `from` but those of `exceptMethod` to run `to` (carried-over alerts); returns how many. */
  restampAlerts(from: string, to: string, exceptMethod: string): Promise<number>;
  /** How many alerts the store holds, and how many of them run `runId` wrote. */
  alertCounts(runId: string): Promise<{ total: number; ofRun: number }>;
  /** Lists alerts (of a run, or of given ids) ordered by score descending, then alert_id. */
  listAlerts(filter?: AlertFilter): Promise<Alert[]>;
  /**
   * Hands every alert (of `runId` when given) to `onPage` in listAlerts' order, about `pageSize` at a time, without
   * holding them all (an export of every alert); returns how many.
   */
  forEachAlertPage(
    filter: { runId?: string },
    pageSize: number,
    onPage: (alerts: Alert[]) => Promise<void>,
  ): Promise<number>;
  /** The dashboard's counts and top alerts, computed in the store (see summarizeAlertsSql): no full listing. */
  summarizeAlerts(options: AlertSummaryOptions): Promise<AlertSummary>;
  close(): Promise<void>;
}
