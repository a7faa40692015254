import { randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import {
  ConfigError,
  QueryFailedError,
  type ColumnDef,
  type SqlEngine,
  type TableDef,
} from '@splitwatch/core';
import { rowReader, toPlainRow } from './duckdb-values';
import { folderPrefixToDir, pathToKey, resolveRoot, TEMP_DIR, walkFiles } from './local-keys';

/** Options of {@link DuckDbSqlEngine.open}. */
export interface DuckDbSqlEngineOptions {
  /** Directory holding the object-store layout (the LocalObjectStore root). */
  root: string;
  /** Worker threads (DuckDB default: all cores). */
  threads?: number;
  /** DuckDB memory limit, e.g. `'2GB'` (DuckDB default: 80% of RAM). */
  memoryLimit?: string;
  /** Where DuckDB spills when over the memory limit. */
  tempDirectory?: string;
}

const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnDef['type']>([
  'VARCHAR',
  'BIGINT',
  'DOUBLE',
  'DECIMAL(24,8)',
  'DECIMAL(38,8)',
  'TIMESTAMP',
  'DATE',
  'BOOLEAN',
]);

const DEFAULT_BATCH_SIZE = 10_000;
const SQL_SNIPPET_CHARS = 200;

/** Quotes an identifier for DuckDB (`"a""b"`). */
function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for DuckDB (`'it''s'`). */
function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The first line of a text file (without its line end, or a byte-order mark), read a block at a time. */
async function firstLine(file: string): Promise<string> {
  const handle = await fsp.open(file, 'r');
  try {
    const chunks: Buffer[] = [];
    const block = Buffer.alloc(4096);
    for (let total = 0; total < 1 << 20;) {
      const { bytesRead } = await handle.read(block, 0, block.length, total);
      if (bytesRead === 0) break;
      const part = block.subarray(0, bytesRead);
      const end = part.indexOf(10);
      chunks.push(Buffer.from(end >= 0 ? part.subarray(0, end) : part));
      if (end >= 0) break;
      total += bytesRead;
    }
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/^\uFEFF/, '')
      .replace(/\r$/, '');
  } finally {
    await handle.close();
  }
}

/** Local paths in SQL use `/`, which DuckDB accepts on every platform. */
function sqlPath(file: string): string {
  return literal(file.split(path.sep).join('/'));
}

function snippet(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > SQL_SNIPPET_CHARS ? `${flat.slice(0, SQL_SNIPPET_CHARS)}…` : flat;
}

// Not `instanceof Error`: errors raised by the native addon may come from another realm (e.g. under Jest).
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * Athena (Trino) functions the shared SQL may use that DuckDB lacks, as macros playing the same part: `to_utf8`
 * (text to bytes) and `xxhash64` (a 64-bit hash of bytes; DuckDB's own `hash`, so the values differ from Athena's,
 * which nothing may depend on: the shared SQL only groups and compares by them).
 */
const ATHENA_FUNCTION_MACROS = [
  `CREATE OR REPLACE MACRO to_utf8(s) AS encode(s)`,
  `CREATE OR REPLACE MACRO xxhash64(b) AS hash(b)`,
];

/**
 * SQL engine over the local object-store directory, backed by an in-memory DuckDB: tables are views over the same
 * Parquet/CSV layout Athena reads in S3, typed like the Glue tables, so the shared SQL behaves alike.
 *
 * @example
 * const engine = await DuckDbSqlEngine.open({ root: '.splitwatch', memoryLimit: '2GB' });
 * await engine.registerTable({ name: 'curated_transactions', prefix: 'curated/transactions/', format: 'parquet',
 *   columns: CURATED_COLUMNS, partitionedBy: CURATED_PARTITION });
 * const rows = await engine.query('SELECT COUNT(*) AS n FROM curated_transactions');
 * await engine.close();
 */
export class DuckDbSqlEngine implements SqlEngine {
  readonly name = 'duckdb' as const;
  readonly numbersFileRows = true;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    /** Absolute root directory the table prefixes and unload destinations are relative to. */
    readonly root: string,
  ) {}

  /** Starts an in-memory DuckDB over `options.root`. */
  static async open(options: DuckDbSqlEngineOptions): Promise<DuckDbSqlEngine> {
    const root = resolveRoot(options.root);
    // DuckDB's external file cache may serve the bytes of a file that has since been replaced at the same path (one
    // engine sees staging keys rewritten: a run that starts over, a re-run with the same id): with it on, ingest's
    // one-stream/chunked property failed 2 of 3 times over 400 files (an exception list read stale, caught by the
    // accounting invariant); with it off, 0 of 3. The OS page cache serves local files anyway.
    const config: Record<string, string> = { enable_external_file_cache: 'false' };
    if (options.threads !== undefined) {
      if (!Number.isInteger(options.threads) || options.threads < 1) {
        throw new ConfigError(`DuckDB threads must be a positive integer, got ${options.threads}`);
      }
      config.threads = String(options.threads);
    }
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    if (options.tempDirectory !== undefined) config.temp_directory = options.tempDirectory;
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(':memory:', config);
    } catch (error) {
      throw new ConfigError(`Cannot start DuckDB with ${JSON.stringify(config)}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    const engine = new DuckDbSqlEngine(instance, root);
    // Zone-aware Parquet timestamps cast to TIMESTAMP must keep their wall-clock value, never the laptop's zone.
    await engine.execute(`SET GLOBAL TimeZone = 'UTC'`, 'configuring the session');
    for (const macro of ATHENA_FUNCTION_MACROS) await engine.execute(macro, 'configuring the session');
    return engine;
  }

  /**
   * Creates (or replaces) a view `def.name` reading every `*.parquet` / `*.csv` under `def.prefix`, with each
   * column cast to its declared type (CSV is read as text first, as the Athena typed view does). When no file
   * exists yet, the view is an empty relation with the declared columns; register again once data is written.
   */
  private ddlQueue: Promise<unknown> = Promise.resolve();

  async registerTable(def: TableDef): Promise<void> {
    const columns = [...def.columns, ...(def.partitionedBy ?? [])];
    if (!def.name) throw new QueryFailedError('Cannot register a table without a name');
    if (columns.length === 0) throw new QueryFailedError(`Cannot register table ${def.name} without columns`);
    for (const c of columns) {
      if (!COLUMN_TYPES.has(c.type)) {
        throw new QueryFailedError(
          `Table ${def.name}: column ${c.name} has unsupported type ${String(c.type)}`,
        );
      }
    }
    if (def.format !== 'parquet' && def.format !== 'csv') {
      throw new QueryFailedError(`Table ${def.name}: unsupported format ${String(def.format)}`);
    }
    const dir = folderPrefixToDir(this.root, def.prefix, `location of table ${def.name}`);
    const extension = `.${def.format}`;
    let hasFiles = false;
    // CSV files whose header is the declared columns in order are read by position with the dialect given: DuckDB
    // sniffing every file (to match columns by name) cost more than reading a month of staged rows.
    const declaredHeader = def.columns.map((c) => c.name).join(',');
    let csvInOrder = def.format === 'csv';
    for await (const { file } of walkFiles(dir)) {
      if (!file.endsWith(extension)) continue;
      hasFiles = true;
      if (!csvInOrder) break;
      csvInOrder = (await firstLine(file)) === declaredHeader;
    }

    let select: string;
    const rowNumber = def.format === 'parquet' && def.rowNumber ? def.rowNumber : null;
    if (!hasFiles) {
      const empty = columns.map((c) => `CAST(NULL AS ${c.type}) AS ${ident(c.name)}`);
      if (rowNumber) empty.push(`CAST(NULL AS BIGINT) AS ${ident(rowNumber)}`);
      select = `SELECT ${empty.join(', ')} WHERE false`;
    } else {
      const glob = sqlPath(path.join(dir, `**/*${extension}`));
      const hive = def.partitionedBy?.length
        ? 'hive_partitioning = true, hive_types_autocast = false'
        : 'hive_partitioning = false';
      const csvColumns = `{${def.columns.map((c) => `${literal(c.name)}: 'VARCHAR'`).join(', ')}}`;
      const source =
        def.format === 'parquet'
          ? `read_parquet(${glob}, union_by_name = true, ${rowNumber ? 'file_row_number = true, ' : ''}${hive})`
          : csvInOrder
            ? `read_csv(${glob}, header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', ` +
              `columns = ${csvColumns}, ${hive})`
            : `read_csv(${glob}, header = true, all_varchar = true, union_by_name = true, ${hive})`;
      const typed = columns.map((c) => `CAST(${ident(c.name)} AS ${c.type}) AS ${ident(c.name)}`);
      if (rowNumber) typed.push(`CAST(file_row_number + 1 AS BIGINT) AS ${ident(rowNumber)}`);
      select = `SELECT ${typed.join(', ')} FROM ${source}`;
    }
    // Concurrent steps sharing this engine (the Detect Map run locally) may register the same view at once;
    // DuckDB rejects concurrent catalog writes, so DDL is serialised here.
    const ddl = this.ddlQueue.then(() =>
      this.execute(`CREATE OR REPLACE VIEW ${ident(def.name)} AS ${select}`, `registering table ${def.name}`),
    );
    this.ddlQueue = ddl.catch(() => undefined);
    await ddl;
  }

  /** Drops the view `name` made by {@link registerTable}; the files it reads stay. No error when it does not exist. */
  async dropTable(name: string): Promise<void> {
    if (!name) throw new QueryFailedError('Cannot drop a table without a name');
    const ddl = this.ddlQueue.then(() =>
      this.execute(`DROP VIEW IF EXISTS ${ident(name)}`, `dropping table ${name}`),
    );
    this.ddlQueue = ddl.catch(() => undefined);
    await ddl;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    return this.withConnection(async (connection) => {
      try {
        const reader = await connection.runAndReadAll(sql);
        const names = reader.deduplicatedColumnNames();
        return reader.getRows().map((values) => toPlainRow(names, values));
      } catch (error) {
        throw this.queryFailed(error, sql);
      }
    });
  }

  /**
   * Streams the rows of `sql` in batches of `batchSize` from DuckDB's streaming result, one chunk at a time, on a
   * connection of its own (so it never holds the whole result). Stopping the iteration early releases the query.
   * A row's texts come packed in one JSON array (see {@link rowReader}): Detect and FitModels read every key's rows
   * this way, and unpacked one by one the ids cost more than the query.
   */
  async *stream(sql: string, batchSize = DEFAULT_BATCH_SIZE): AsyncGenerator<Record<string, unknown>[]> {
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new QueryFailedError(`Stream batch size must be a positive integer, got ${batchSize}`);
    }
    const connection = await this.connect();
    try {
      let toRow: (values: readonly DuckDBValue[]) => Record<string, unknown>;
      let result;
      try {
        // The statement rowReader prepared is the one run (bound once); without one, DuckDB reports the error.
        const reader = await rowReader(connection, sql);
        if (reader) {
          try {
            result = await reader.prepared.stream();
          } finally {
            reader.prepared.destroySync();
          }
          toRow = reader.toRow;
        } else {
          result = await connection.stream(sql);
          const names = result.deduplicatedColumnNames();
          toRow = (values) => toPlainRow(names, values);
        }
      } catch (error) {
        throw this.queryFailed(error, sql);
      }
      let batch: Record<string, unknown>[] = [];
      for (;;) {
        let chunk;
        try {
          chunk = await result.fetchChunk();
        } catch (error) {
          throw this.queryFailed(error, sql);
        }
        if (!chunk || chunk.rowCount === 0) break;
        for (const values of chunk.getRows()) {
          batch.push(toRow(values));
          if (batch.length === batchSize) {
            yield batch;
            batch = [];
          }
        }
      }
      if (batch.length > 0) yield batch;
    } finally {
      connection.closeSync();
    }
  }

  /**
   * Writes the result of `selectSql` as zstd Parquet under `destPrefix` (a folder prefix that must hold no files):
   * `<destPrefix>data_0.parquet`, or `<destPrefix><col>=<value>/data_0.parquet` with `partitionBy`. The output is
   * assembled in the root's temp folder and moved into place at the end, so a failed unload leaves nothing behind
   * and can simply be retried. Returns the keys written, sorted.
   */
  async unload(
    selectSql: string,
    destPrefix: string,
    options?: { partitionBy?: string[] },
  ): Promise<string[]> {
    if (destPrefix === '') throw new QueryFailedError('Refusing to unload into the root of the object store');
    const destDir = folderPrefixToDir(this.root, destPrefix, 'unload destination');
    for await (const { file } of walkFiles(destDir)) {
      throw new QueryFailedError(
        `Refusing to unload into ${destPrefix}: it already holds objects (e.g. ${pathToKey(this.root, file)}); ` +
          'unload destinations must be empty',
      );
    }
    const partitionBy = options?.partitionBy ?? [];
    const work = path.join(this.root, TEMP_DIR, `unload-${randomUUID()}`);
    await fsp.mkdir(work, { recursive: true });
    try {
      const target = partitionBy.length > 0 ? work : path.join(work, 'data_0.parquet');
      const partition = partitionBy.length > 0 ? `, PARTITION_BY (${partitionBy.map(ident).join(', ')})` : '';
      const body = selectSql.trim().replace(/;+\s*$/, '');
      await this.execute(
        `COPY (${body}) TO ${sqlPath(target)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1${partition})`,
        `unloading to ${destPrefix}`,
        selectSql,
      );
      const written: string[] = [];
      for await (const { file } of walkFiles(work)) written.push(path.relative(work, file));
      await this.moveInto(work, destDir, written);
      return written.map((rel) => destPrefix + rel.split(path.sep).join('/')).sort();
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  }

  /** Releases DuckDB; the engine cannot be used afterwards. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.instance.closeSync();
  }

  private async moveInto(work: string, destDir: string, files: string[]): Promise<void> {
    await fsp.mkdir(path.dirname(destDir), { recursive: true });
    try {
      await fsp.rename(work, destDir); // one step when the destination is absent or an empty folder
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
    }
    // The destination has (empty) subfolders: move file by file.
    for (const rel of files) {
      const to = path.join(destDir, rel);
      await fsp.mkdir(path.dirname(to), { recursive: true });
      await fsp.rename(path.join(work, rel), to);
    }
  }

  private async connect(): Promise<DuckDBConnection> {
    if (this.closed) throw new QueryFailedError('The DuckDB engine is closed');
    return this.instance.connect();
  }

  // One connection per call: a DuckDB connection runs one query at a time, and concurrent callers must not
  // invalidate each other's (streaming) results. Views live in the shared in-memory catalog.
  private async withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.connect();
    try {
      return await fn(connection);
    } finally {
      connection.closeSync();
    }
  }

  private async execute(sql: string, context: string, shownSql = sql): Promise<void> {
    await this.withConnection(async (connection) => {
      try {
        await connection.run(sql);
      } catch (error) {
        throw this.queryFailed(error, shownSql, context);
      }
    });
  }

  private queryFailed(error: unknown, sql: string, context?: string): QueryFailedError {
    const what = context ? `DuckDB failed ${context}` : 'DuckDB query failed';
    return new QueryFailedError(`${what}: ${messageOf(error)} [SQL: ${snippet(sql)}]`, { cause: error });
  }
}
