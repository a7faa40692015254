import { tmpdir } from 'node:os';
import {
  ConfigError,
  requireEnv,
  type ObjectStore,
  type ResultsStore,
  type SqlEngine,
} from '@splitwatch/core';
import { curatedChunkRowsFor, type CsvChunkRunner } from '@splitwatch/use-cases';

/**
 * The adapters a step needs. The SQL engine and the results store are opened on first use: a step that
 * does not need PGlite or DuckDB never pays for starting them.
 */
export interface Adapters {
  objectStore: ObjectStore;
  sqlEngine(): Promise<SqlEngine>;
  resultsStore(): Promise<ResultsStore>;
  tmpDir: string;
  /** Ingest's curated write statement size, set from the embedded SQL engine's memory limit (see `curatedChunkRowsFor`). */
  ingestChunkRows?: number;
  /** Where ingest parses a CSV file's chunks in parallel (the CLI's worker threads); else one stream per file. */
  csvChunks?: CsvChunkRunner;
  close(): Promise<void>;
}

export type AdapterProvider = () => Promise<Adapters>;

/** Runs `open` once and hands the same promise to every caller. */
export function once<T>(open: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= open());
}

/** Local adapter settings: everything under one data directory, results in PGlite or a PostgreSQL server. */
export interface LocalAdapterConfig {
  dataDir: string;
  results: { kind: 'pglite' } | { kind: 'postgres'; url: string };
  /** DuckDB's memory limit (e.g. `448MB`); past it DuckDB spills to a temp directory. Default: DuckDB's (80% of RAM). */
  duckdbMemoryLimit?: string;
  /** DuckDB's threads (default: one per core). */
  duckdbThreads?: number;
  /**
   * Where DuckDB spills (default: `splitwatch-duckdb-spill` in the OS temp directory when a memory limit is set,
   * else DuckDB's own). Two engines open at once need two folders.
   */
  duckdbTempDirectory?: string;
}

/** Reads the adapter choice from the environment once, failing fast on anything missing or unknown. */
export function adapterConfigFromEnv(
  env: NodeJS.ProcessEnv,
): { mode: 'aws' } | ({ mode: 'local' } & LocalAdapterConfig) {
  const mode = requireEnv(env, 'SPLITWATCH_MODE');
  if (mode === 'aws') return { mode };
  if (mode !== 'local')
    throw new ConfigError(`SPLITWATCH_MODE must be "aws" or "local", got ${JSON.stringify(mode)}`);
  const dataDir = requireEnv(env, 'SPLITWATCH_DATA_DIR');
  const kind = (env.SPLITWATCH_RESULTS_STORE ?? 'pglite').trim();
  const memory = env.SPLITWATCH_DUCKDB_MEMORY_LIMIT?.trim();
  const extra = memory ? { duckdbMemoryLimit: memory } : {};
  if (kind === 'pglite') return { mode, dataDir, results: { kind }, ...extra };
  if (kind === 'postgres')
    return { mode, dataDir, results: { kind, url: requireEnv(env, 'DATABASE_URL') }, ...extra };
  throw new ConfigError(
    `SPLITWATCH_RESULTS_STORE must be "pglite" or "postgres", got ${JSON.stringify(kind)}`,
  );
}

/**
 * Opens the embedded adapters (local directory, DuckDB, PGlite or PostgreSQL). Loaded lazily: never bundled for
 * Lambda. A caller that has the adapters module already (a worker thread, whose loader serves `require` but not a
 * dynamic `import` of TypeScript) passes it in.
 */
export async function openLocalAdapters(
  config: LocalAdapterConfig,
  modules?: typeof import('@splitwatch/adapters-local'),
): Promise<Adapters> {
  const local = modules ?? (await import('@splitwatch/adapters-local'));
  const { join } = await import('node:path');
  const objectStore = new local.LocalObjectStore({ root: config.dataDir });
  const sqlEngine = once(() =>
    local.DuckDbSqlEngine.open({
      root: config.dataDir,
      ...(config.duckdbMemoryLimit
        ? { memoryLimit: config.duckdbMemoryLimit, tempDirectory: join(tmpdir(), 'splitwatch-duckdb-spill') }
        : {}),
      ...(config.duckdbTempDirectory ? { tempDirectory: config.duckdbTempDirectory } : {}),
      ...(config.duckdbThreads ? { threads: config.duckdbThreads } : {}),
    }),
  );
  const results = config.results;
  const resultsStore = once(() =>
    results.kind === 'pglite'
      ? local.PostgresResultsStore.openPglite(join(config.dataDir, 'pglite'))
      : local.PostgresResultsStore.connect(results.url),
  );
  const chunkRows = config.duckdbMemoryLimit ? curatedChunkRowsFor(config.duckdbMemoryLimit) : undefined;
  let engineUsed = false;
  let storeUsed = false;
  return {
    objectStore,
    sqlEngine: () => ((engineUsed = true), sqlEngine()),
    resultsStore: () => ((storeUsed = true), resultsStore()),
    tmpDir: tmpdir(),
    ...(chunkRows !== undefined ? { ingestChunkRows: chunkRows } : {}),
    async close() {
      if (engineUsed) await (await sqlEngine()).close();
      if (storeUsed) await (await resultsStore()).close();
    },
  };
}

/** The AWS adapters (S3, Athena, Redshift Data API) from the Lambda's environment. */
export async function openAwsAdapters(env: NodeJS.ProcessEnv): Promise<Adapters> {
  const aws = await import('@splitwatch/adapters-aws');
  const a = aws.createAwsAdapters(env);
  return {
    objectStore: a.objectStore,
    sqlEngine: async () => a.sqlEngine,
    resultsStore: async () => a.resultsStore,
    tmpDir: tmpdir(),
    async close() {},
  };
}

/** Picks the adapters named by SPLITWATCH_MODE. */
export async function openAdaptersFromEnv(env: NodeJS.ProcessEnv): Promise<Adapters> {
  const cfg = adapterConfigFromEnv(env);
  return cfg.mode === 'aws' ? openAwsAdapters(env) : openLocalAdapters(cfg);
}
