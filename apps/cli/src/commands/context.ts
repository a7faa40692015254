import { openLocalAdapters, type Adapters, type LocalAdapterConfig } from '@splitwatch/handlers';
import { resolve } from 'node:path';
import { sizeInBytes } from '../detect-pool';
import { DEFAULT_DATA_DIR } from '../paths';

export interface StoreOptions {
  dataDir?: string;
  resultsStore?: string;
  databaseUrl?: string;
  memoryLimit?: string;
}

/** Turns the shared CLI options into the local adapter configuration, with clear errors. */
export function localConfig(opts: StoreOptions): LocalAdapterConfig {
  const dataDir = resolve(opts.dataDir ?? DEFAULT_DATA_DIR);
  const kind = opts.resultsStore ?? 'pglite';
  const memory = opts.memoryLimit ?? process.env.SPLITWATCH_DUCKDB_MEMORY_LIMIT;
  if (memory !== undefined) {
    try {
      sizeInBytes(memory); // the Detect workers split it, so it must be a size they can read
    } catch {
      throw new Error(`--memory-limit must look like 448MB or 2GB, got "${memory}"`);
    }
  }
  const extra = memory ? { duckdbMemoryLimit: memory.trim() } : {};
  if (kind === 'pglite') return { dataDir, results: { kind }, ...extra };
  if (kind === 'postgres') {
    const url = opts.databaseUrl ?? process.env.DATABASE_URL;
    if (!url) throw new Error('--results-store postgres needs --database-url or DATABASE_URL');
    return { dataDir, results: { kind, url }, ...extra };
  }
  throw new Error(`--results-store must be "pglite" or "postgres", got "${kind}"`);
}

/** Opens the embedded adapters for a command and closes them afterwards, whatever happens. */
export async function withAdapters<T>(opts: StoreOptions, fn: (a: Adapters, cfg: LocalAdapterConfig) => Promise<T>): Promise<T> {
  const cfg = localConfig(opts);
  const adapters = await openLocalAdapters(cfg);
  try {
    return await fn(adapters, cfg);
  } finally {
    await adapters.close();
  }
}
