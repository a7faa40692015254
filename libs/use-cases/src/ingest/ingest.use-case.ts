import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import {
  INPUT_COLUMNS,
  InputFormatError,
  Keys,
  memorySizeBytes,
  SplitwatchError,
  type ObjectInfo,
  type ObjectStore,
  type SqlEngine,
  type TableDef,
} from '@splitwatch/core';
import { resolveColumnMap, type ColumnMap } from './column-map';
import { parseCsvBatches, type CsvRecord } from './csv-parser';
import {
  countLines,
  isWholeRecords,
  LineCutter,
  stageRecords,
  type CsvChunkJob,
  type CsvChunkOutcome,
  type CsvChunkRunner,
  type CsvLayout,
} from './csv-chunks';
import {
  CLASSIFY_EXCEPTIONS_SQL,
  EXCEPTION_COLUMNS,
  KNOWN_CONFLICT_COLUMNS,
  STAGED_CSV_COLUMNS,
  STAGED_CSV_PARTITION,
  VALIDATED_COLUMNS,
  curatedChunkSql,
  validatedRelation,
} from './dedupe.sql';
import { parquetExtrasSql, planParquet, validateParquetSql, type ParquetPlan } from './parquet-input';
import { readParquetSchema, TailKeeper } from './parquet-schema';
import {
  CsvSourceStager,
  MonthSinks,
  QUARANTINE_HEADER,
  QuarantineFile,
  TextSink,
  csvField,
  type StagedMonth,
} from './source-stager';
import {
  checksum,
  curatedFilesOf,
  newSourceReport,
  planSources,
  readSourceState,
  sameColumnMap,
  shiftDay,
  SOURCE_STATE_FORMAT,
  type SourceState,
} from './source-state';
import { planWithdrawals, sourcesToClassifyAgain, withdrawSources, type WithdrawalReport } from './withdraw';
import { mapHeader } from './validate-row';
import { lit, renderSql, safeIdent } from '../sql-text';
import { startStep } from '../audit/step-record';
import { registerTransactions } from '../features/build-features.use-case';
import { publishUnloaded } from '../unloaded-files';

/*
 * Choices ingest makes (see also the README's input contract):
 * - Curated amounts are DECIMAL(24,8), the input contract's type: exact, 16 integer digits. CSV amounts are checked
 *   and normalised as text (never a float); SQL casts them through DECIMAL(18,8) when they fit, only because DuckDB
 *   parses text into a 128-bit decimal ten times slower — the value is the same. Parquet amounts may be
 *   DECIMAL(p, s ≤ 8) (widened exactly), integers or text (validated like CSV); floats, and decimals with more than
 *   8 decimals, make the file fail with what was expected and found, since either would round silently.
 * - Extra columns never fail a file. CSV: their values go to `extras/run=<id>/<sourceId>.csv` (source_key, line,
 *   one column per extra, as text), joinable to curated rows on (source_key, source_line). Parquet: to
 *   `extras/run=<id>/<sourceId>/` as Parquet with their types; nested columns are only listed in the manifest.
 * - `line` is the physical line a CSV record starts on (header = 1); for Parquet it is the 1-based row position in
 *   file order (DuckDB reads in file order; Athena does not promise an order for it).
 * - Memory: CSV streams through the parser with fixed-size buffers; staged rows are written a month per file; the
 *   engine finds retries and conflicts with one hash aggregation over the ids and writes curated Parquet a month
 *   at a time. Everything big is in the SQL engine, which spills past its memory limit (DuckDB: `memory_limit`).
 */

export { resolveColumnMap, type ColumnMap } from './column-map';

/** Raised when a file's counts do not add up; it means a bug, never bad input. */
export class AccountingError extends SplitwatchError {}

export interface IngestDeps {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
  /** Local scratch directory (Lambda: /tmp). */
  tmpDir: string;
  onProgress?: (message: string) => void;
  /**
   * Most accepted rows written to curated Parquet by one statement (default 2,000,000, or
   * {@link curatedChunkRowsFor} the engine's memory limit; a single bigger day is written alone). Each statement writes consecutive days of one calendar month, so a month's staged rows are
   * read once and few partition files are open at a time (Athena allows 100, DuckDB keeps 100 open).
   */
  curatedChunkRows?: number;
  /**
   * Parses and validates a CSV file's chunks on worker threads (the CLI's pool); without it a file is read in one
   * stream on this thread. The staged output is the same either way.
   */
  csvChunks?: CsvChunkRunner;
}

export interface IngestInput {
  runId: string;
  /** Object keys or prefixes (ending in `/`) under the store, e.g. `raw/2021-11.csv` or `raw/`. */
  sources: string[];
  /**
   * Contract column → the name it has in the files, for logs with another schema (e.g. `{ "_id": "id" }`);
   * checked with {@link resolveColumnMap}. Columns left out keep their contract name.
   */
  columnMap?: ColumnMap | Record<string, unknown>;
  /**
   * Read every source again, even those curated before from the same content (default false: such a source is
   * skipped, see `source-state.ts`). For after a change to validation that did not change the schema version.
   */
  reingest?: boolean;
  /**
   * Object keys of ingested files to withdraw (see withdraw.ts): their curated rows are removed, sources whose rows
   * were dropped or quarantined against them are classified again, and this content is skipped when given again.
   * `sources` may then be empty.
   */
  withdraw?: string[];
}

/** Per-file accounting: read = accepted + duplicates + rejected. */
export interface SourceReport {
  source: string;
  sourceId: string;
  /**
   * `unchanged`: curated before from the same content and left as it was (not read again); its counts, quarantine
   * and extras are those of run `ingestedBy`. `withdrawn`: this content was withdrawn (not read; nothing curated).
   */
  status: 'ingested' | 'unchanged' | 'withdrawn';
  /** Why it was read again, or why not. */
  reason: string;
  /** The run that curated what is in the curated layout for this source. */
  ingestedBy: string;
  format: 'csv' | 'parquet';
  sha256: string;
  bytes: number;
  read: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  /** Columns beyond the contract; their values are kept under `extrasKey`. */
  extraColumns: string[];
  /** Extra Parquet columns of a type that is not kept (nested types), listed only. */
  extraColumnsNotKept?: string[];
  quarantineKey: string | null;
  /** CSV: `extras/run=<id>/<sourceId>.csv` (source_key, line, one column per extra); Parquet: a folder of Parquet files. */
  extrasKey: string | null;
}

export interface IngestResult {
  runId: string;
  sources: SourceReport[];
  /** Files read by this run and their rows; `unchanged`: files skipped because they were curated already. */
  totals: {
    files: number;
    read: number;
    accepted: number;
    duplicates: number;
    rejected: number;
    /** Files skipped as curated before from the same content (not those skipped as withdrawn before). */
    unchanged: number;
    /** Sources withdrawn by this run. */
    withdrawn: number;
  };
  dateRange: { min: string; max: string } | null;
  /** What this run withdrew (see IngestInput.withdraw). */
  withdrawn: WithdrawalReport[];
  /** Set when the run did nothing because another run holds the data set (see audit/run-lock.ts): why. */
  skipped?: string;
}

/** The result of a run that ingested nothing because it was refused the data set (`reason`: the lock's message). */
export function skippedIngest(runId: string, reason: string): IngestResult {
  return {
    runId,
    sources: [],
    totals: { files: 0, read: 0, accepted: 0, duplicates: 0, rejected: 0, unchanged: 0, withdrawn: 0 },
    dateRange: null,
    withdrawn: [],
    skipped: reason,
  };
}

/** 2: validated in SQL for Parquet, extras kept aside, column map, `extrasKey` in the manifest. */
export const INGEST_SCHEMA_VERSION = 2;
const SUPPORTED = /\.(csv|csv\.gz|parquet)$/i;
const DEFAULT_CHUNK_ROWS = 2_000_000;
const MIN_CHUNK_ROWS = 250_000;

/**
 * The curated write's statement size for a SQL engine memory limit (`448MB`, `8GB`, `2GiB`): one row per 2 KiB of
 * the limit, between 250,000 and 2,000,000. A partitioned Parquet write holds its statement's rows and one writer
 * per day beside the engine's buffer pool, so a small limit needs small statements: at 448MB, 250k-row statements
 * peak at ~730 MB of RSS while writing a 2 GB CSV's rows, 458k-row ones at 930–1,030 MB (measured back to back, in
 * the same total time). Undefined when the limit is not a size (a percentage, say): the default applies.
 */
export function curatedChunkRowsFor(memoryLimit: string): number | undefined {
  const bytes = memorySizeBytes(memoryLimit);
  if (bytes === undefined) return undefined;
  return Math.max(MIN_CHUNK_ROWS, Math.min(DEFAULT_CHUNK_ROWS, Math.floor(bytes / 2048)));
}
/** Days (partitions) written by one statement at most; month-aligned ranges stay well under both engines' 100. */
const MAX_DAYS_PER_WRITE = 31;
/** Largest Parquet footer accepted (a footer lists every row group; 16 MB is thousands of them). */
const MAX_PARQUET_FOOTER_BYTES = 16 << 20;
const PROGRESS_EVERY_ROWS = 1_000_000;
const CONFLICT_REASON =
  'conflicting duplicate: same _id with different content or timestamps more than 1 s apart';

/** Stable id of a source key: curated files of a source are named after it, so re-ingesting replaces them. */
export function sourceIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

const extrasPrefix = (runId: string) => `extras/run=${runId}/`;

/** The objects to ingest, with their sizes and versions, in key order. */
async function expandSources(store: ObjectStore, sources: string[]): Promise<ObjectInfo[]> {
  const objects = new Map<string, ObjectInfo>();
  if (sources.length === 0) return []; // a run that only withdraws
  // A key given alone is listed by itself; several keys of one folder (the CLI passes every file of a directory)
  // are looked up in that folder's listing, listed once.
  const folderOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);
  const perFolder = new Map<string, number>();
  for (const s of sources)
    if (!s.endsWith('/')) perFolder.set(folderOf(s), (perFolder.get(folderOf(s)) ?? 0) + 1);
  const listings = new Map<string, Promise<ObjectInfo[]>>();
  const listingFor = (key: string) => {
    const prefix = folderOf(key) !== '' && perFolder.get(folderOf(key))! > 1 ? folderOf(key) : key;
    let listing = listings.get(prefix);
    if (!listing) listings.set(prefix, (listing = store.list(prefix)));
    return listing;
  };
  for (const s of sources) {
    if (s.endsWith('/')) {
      for (const o of await store.list(s)) if (SUPPORTED.test(o.key)) objects.set(o.key, o);
    } else {
      if (!SUPPORTED.test(s))
        throw new InputFormatError(`${s}: unsupported file type (expected .csv, .csv.gz or .parquet)`);
      const found = (await listingFor(s)).find((o) => o.key === s);
      if (!found) throw new InputFormatError(`${s}: no such object in ${store.location}`);
      objects.set(s, found);
    }
  }
  if (objects.size === 0)
    throw new InputFormatError(`No .csv, .csv.gz or .parquet input under ${sources.join(', ')}`);
  return [...objects.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

interface Staged {
  report: SourceReport;
  object: ObjectInfo;
  quarantine: QuarantineFile;
  quarantinePath: string;
  extrasPath: string | null;
  /** Rows that passed validation, and how many per day (plans the curated writes). */
  valid: number;
  days: Map<string, number>;
  minTs?: string | null;
  maxTs?: string | null;
  parquet?: { plan: ParquetPlan; rawTable: string };
  /** The `_id`s this run quarantined as conflicts in this source (CSV in the scratch folder), if any. */
  conflictsPath?: string;
}

/** Bytes of a chunk handed to a worker by default: cut after the last line break past this size. */
const CSV_CHUNK_BYTES = 1 << 20;
/** A file that goes this far without a line break is read in one stream from there (memory stays bounded). */
const MAX_CSV_CHUNK_BYTES = 64 << 20;
/** Chunks of a file found cut inside a quoted field before the rest of it goes to one stream. */
const MAX_MISALIGNED_CHUNKS = 8;

/**
 * Streams one CSV file through the parser and the validator into its staging, quarantine and extras files.
 *
 * With a {@link CsvChunkRunner} (the CLI's worker threads), the file after its header is cut into chunks of whole
 * lines that workers parse and validate in parallel; their staged output is appended in file order, so files,
 * counts and line numbers are those of the one-stream path. Quoted fields are read on the workers too: a chunk cut
 * inside a quoted field (one that holds a line break) is cut again from its start, a chunk longer (up to 64 MiB), and
 * the file's later chunks are cut where the quotes are balanced; a chunk holding a lone carriage return, or a ninth
 * chunk cut wrong, switches the rest of the file to the one stream, from that chunk's first line.
 */
async function stageCsv(
  deps: IngestDeps,
  key: string,
  scratch: string,
  columnMap: ColumnMap,
  report: SourceReport,
  quarantine: QuarantineFile,
): Promise<{
  months: StagedMonth[];
  days: Map<string, number>;
  extrasPath: string | null;
  minTs: string | null;
  maxTs: string | null;
}> {
  const body = await deps.objectStore.getStream(key);
  const sum = checksum(body);
  const input = (/\.gz$/i.test(key) ? body.pipe(createGunzip()) : body) as AsyncIterable<Buffer>;
  const staged = new MonthSinks(
    join(scratch, 'accepted'),
    `${report.sourceId}.csv`,
    STAGED_CSV_COLUMNS.map((c) => c.name).join(',') + '\n',
  );
  let stager: CsvSourceStager | null = null;
  let extrasPath: string | null = null;
  let layout: CsvLayout | null = null;
  let nextProgress = PROGRESS_EVERY_ROWS;

  const progress = () => {
    if (stager && stager.read >= nextProgress) {
      deps.onProgress?.(`${key}: ${stager.read.toLocaleString('en-US')} rows read`);
      nextProgress = (Math.floor(stager.read / PROGRESS_EVERY_ROWS) + 1) * PROGRESS_EVERY_ROWS;
    }
  };
  /** The header's record: the file's layout, and its stager. */
  const startFile = (rec: CsvRecord) => {
    if (rec.error) throw new InputFormatError(`${key}: line ${rec.line}: unreadable header (${rec.error})`);
    const mapping = mapHeader(rec.fields, key, columnMap);
    layout = {
      positions: INPUT_COLUMNS.map((c) => mapping.positions[c]),
      width: rec.fields.length,
      extraPositions: mapping.extraPositions,
    };
    report.extraColumns = mapping.extra;
    let extras: TextSink | null = null;
    if (mapping.extra.length > 0) {
      extrasPath = join(scratch, `${report.sourceId}.extras.csv`);
      extras = TextSink.open(extrasPath);
      extras.add(['source_key', 'line', ...mapping.extra].map(csvField).join(',') + '\n');
    }
    return new CsvSourceStager(key, staged, quarantine, extras);
  };
  /** One stream through the parser, from `firstLine` (1: the header comes first). */
  const stageStream = async (bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, firstLine: number) => {
    for await (const batch of parseCsvBatches(bytes, { firstLine })) {
      let records = batch;
      if (stager === null) {
        stager = startFile(records[0]);
        records = records.slice(1);
      }
      stageRecords(records, layout!, stager, quarantine);
      await stager.endBatch();
      progress();
    }
  };

  try {
    const runner = deps.csvChunks;
    if (!runner) await stageStream(input, 1);
    else {
      const it = input[Symbol.asyncIterator]();
      const cut = new LineCutter();
      let ended = false;
      const more = async () => {
        const r = await it.next();
        if (r.done) ended = true;
        else cut.add(r.value);
      };
      /** What is left to read: the bytes given back, the bytes not yet cut, the rest of the stream. */
      async function* rest(given: Uint8Array[]): AsyncGenerator<Uint8Array> {
        yield* given;
        yield* cut.drain();
        for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
      }
      /** The next chunk of whole lines; null at the end, or when a line is longer than a chunk may be. */
      const nextChunk = async (min: number, balanced = false) => {
        for (;;) {
          const chunk = min === 0 ? cut.firstLine(ended) : cut.take(min, ended, balanced);
          if (chunk !== null || ended || cut.size >= MAX_CSV_CHUNK_BYTES) return chunk;
          await more();
        }
      };
      // The header in one stream: the file's layout.
      const header = await nextChunk(0);
      if (header !== null && isWholeRecords(header, 1)) await stageStream([header], 1);
      if (stager === null) {
        // A header holding a line break or a lone CR, after blank lines, too long, or no header at all: one stream
        // from line 1.
        await stageStream(rest(header ? [header] : []), 1);
      } else {
        const fileLayout: CsvLayout = layout!;
        const chunkBytes = runner.chunkBytes ?? CSV_CHUNK_BYTES;
        let line = 1 + countLines(header!);
        const inflight: { job: CsvChunkJob; outcome: Promise<CsvChunkOutcome> }[] = [];
        let fallback: number | null = null;
        // After a chunk cut inside a quoted field, the next chunk is cut again from its start, this much longer, and
        // from then on chunks are cut where the quotes before the cut are balanced (this file's quoted fields hold
        // line breaks); a file cut wrong even so (quotes that are not well formed) goes on in one stream.
        let atLeast = 0;
        let balanced = false;
        let misaligned = 0;
        const absorbOldest = async () => {
          const { job, outcome } = inflight.shift()!;
          const done = await outcome;
          if (done.aligned) {
            await stager!.absorb(done.staged);
            progress();
            return true;
          }
          // The chunks after it were cut from a point that may not start a record: their work goes, their bytes come
          // back, and the file is cut again from this chunk's start, as a longer chunk or in one stream.
          cut.putBack([job.bytes, ...inflight.splice(0).map((f) => f.job.bytes)]);
          line = job.firstLine;
          atLeast = job.bytes.length + chunkBytes;
          balanced = true;
          misaligned++;
          if (!done.longer || atLeast > MAX_CSV_CHUNK_BYTES || misaligned > MAX_MISALIGNED_CHUNKS)
            fallback = job.firstLine;
          return false;
        };
        while (fallback === null) {
          if (ended && cut.size === 0) {
            // Nothing left to cut: what is in flight is absorbed (one cut inside a quoted field gives bytes back).
            if (inflight.length === 0) break;
            await absorbOldest();
            continue;
          }
          const bytes = await nextChunk(Math.max(chunkBytes, atLeast), balanced);
          atLeast = 0;
          if (bytes === null) {
            if (ended && cut.size === 0) continue;
            // A line longer than a chunk may be: once the chunks before it are in, the rest goes in one stream from
            // it, unless one of them gives its bytes back to be cut again.
            let again = false;
            while (fallback === null && !again && inflight.length > 0) again = !(await absorbOldest());
            if (fallback === null && !again) fallback = line;
            continue;
          }
          const last = ended && cut.size === 0;
          const job: CsvChunkJob = { source: key, layout: fileLayout, firstLine: line, bytes, last };
          line += countLines(bytes);
          const outcome = runner.run(job);
          // Handled where it is awaited; one left behind by a fallback or a failure must not go unhandled.
          outcome.catch(() => {});
          inflight.push({ job, outcome });
          if (inflight.length > runner.concurrency) await absorbOldest();
        }
        if (fallback !== null) await stageStream(rest([]), fallback);
      }
    }
  } catch (err) {
    (stager as CsvSourceStager | null)?.destroy();
    staged.destroy();
    body.destroy();
    const code = (err as { code?: string }).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || code === 'Z_STREAM_ERROR') {
      throw new InputFormatError(`${key}: not a valid gzip file (${(err as Error).message})`, { cause: err });
    }
    throw err;
  }
  if (stager === null) {
    staged.destroy();
    throw new InputFormatError(`${key}: empty file, expected a header with ${INPUT_COLUMNS.join(',')}`);
  }
  const done: CsvSourceStager = stager;
  const months = await done.closeStaged();
  const { sha256, bytes } = await sum.done;
  report.sha256 = sha256;
  report.bytes = bytes;
  report.read = done.read;
  return { months, days: done.days, extrasPath, minTs: done.minTs, maxTs: done.maxTs };
}

/** Checks a Parquet file's columns from its footer and registers it (typed as in the file) in the SQL engine. */
async function stageParquet(
  deps: IngestDeps,
  runId: string,
  key: string,
  columnMap: ColumnMap,
  report: SourceReport,
): Promise<{ plan: ParquetPlan; rawTable: string }> {
  const { objectStore, sqlEngine } = deps;
  const tail = new TailKeeper(MAX_PARQUET_FOOTER_BYTES + 8);
  const body = await objectStore.getStream(key);
  const { sha256, bytes } = await checksum(body, (chunk) => tail.push(chunk)).done;
  report.sha256 = sha256;
  report.bytes = bytes;
  const schema = readParquetSchema(tail.bytes(), key, bytes);
  const plan = planParquet(schema, key, columnMap);
  report.extraColumns = plan.extras.map((e) => e.column.name);
  if (plan.extrasNotKept.length > 0) report.extraColumnsNotKept = plan.extrasNotKept;
  const prefix = `${Keys.staging(runId)}parquet-src/${report.sourceId}/`;
  await objectStore.copy(key, `${prefix}data.parquet`);
  const rawTable = safeIdent(`raw_${runId}_${report.sourceId}`);
  await sqlEngine.registerTable({
    name: rawTable,
    prefix,
    format: 'parquet',
    columns: plan.registration,
    ...(sqlEngine.numbersFileRows ? { rowNumber: 'source_line' } : {}),
  });
  return { plan, rawTable };
}

const validatedPrefixOf = (runId: string) => `${Keys.staging(runId)}validated/`;

/**
 * Validates every Parquet source in SQL into one validated table, quarantines its rejected rows (streamed, in
 * row order) and counts its valid rows per day. Returns the validated table's name.
 */
async function validateParquetSources(
  deps: IngestDeps,
  runId: string,
  sources: Staged[],
  writes: { key: string }[],
): Promise<string> {
  const { sqlEngine } = deps;
  const validatedPrefix = validatedPrefixOf(runId);
  for (const s of sources) {
    deps.onProgress?.(`validating ${s.report.source}`);
    const { rawTable, plan } = s.parquet!;
    // By calendar month (rejected rows apart): a curated write of a range of days reads that month's rows only.
    await sqlEngine.unload(
      validateParquetSql(rawTable, s.report.source, plan, sqlEngine.numbersFileRows === true),
      `${validatedPrefix}${s.report.sourceId}/`,
      { partitionBy: ['month_of_year'] },
    );
    if (plan.extras.length > 0) {
      const prefix = `${extrasPrefix(runId)}${s.report.sourceId}/`;
      const written = await sqlEngine.unload(
        parquetExtrasSql(rawTable, s.report.source, plan, sqlEngine.numbersFileRows === true),
        prefix,
      );
      s.report.extrasKey = prefix;
      for (const k of written) writes.push({ key: k });
    }
  }
  const table = safeIdent(`validated_${runId}`);
  await sqlEngine.registerTable({
    name: table,
    prefix: validatedPrefix,
    format: 'parquet',
    columns: VALIDATED_COLUMNS,
  });
  const bySource = new Map(sources.map((s) => [s.report.source, s]));
  const counts = await sqlEngine.query(
    `SELECT source_key, COUNT(*) AS n, COUNT(reject_column) AS rejected FROM ${table} GROUP BY source_key`,
  );
  const withRejects: string[] = [];
  for (const c of counts) {
    const s = bySource.get(String(c.source_key))!;
    s.report.read = Number(c.n);
    s.valid = s.report.read - Number(c.rejected);
    if (Number(c.rejected) > 0) withRejects.push(s.report.source);
  }
  const days = await sqlEngine.query(
    `SELECT source_key, CAST(CAST(transaction_date AS DATE) AS VARCHAR) AS dt, COUNT(*) AS n,
            MIN(transaction_date) AS min_ts, MAX(transaction_date) AS max_ts
     FROM ${table} WHERE reject_column IS NULL GROUP BY source_key, CAST(CAST(transaction_date AS DATE) AS VARCHAR)`,
  );
  for (const d of days) {
    const s = bySource.get(String(d.source_key))!;
    s.days.set(String(d.dt), Number(d.n));
    const lo = String(d.min_ts);
    const hi = String(d.max_ts);
    if (s.minTs == null || lo < s.minTs) s.minTs = lo;
    if (s.maxTs == null || hi > s.maxTs) s.maxTs = hi;
  }
  if (withRejects.length > 0) {
    for (const s of sources) s.quarantine.reopen(s.quarantinePath);
    const rejects = sqlEngine.stream(
      `SELECT source_key, source_line, reject_column, reject_reason, record FROM ${table}
       WHERE reject_column IS NOT NULL AND source_key IN (${withRejects.map(lit).join(', ')})
       ORDER BY source_key, source_line`,
    );
    for await (const batch of rejects) {
      for (const r of batch) {
        const s = bySource.get(String(r.source_key))!;
        const record = String(r.record ?? '');
        const cut = record.indexOf(',');
        s.quarantine.reject(
          Number(r.source_line),
          String(r.reject_column),
          String(r.reject_reason),
          cut < 0 ? record : record.slice(0, cut),
          record,
        );
      }
      for (const s of sources) await s.quarantine.flushIfFull();
    }
    for (const s of sources) await s.quarantine.close();
  }
  return table;
}

/**
 * Ranges of consecutive days to write curated Parquet a statement at a time: never across a calendar month (a CSV
 * range then reads only its month's staged files, once), at most `maxRows` rows (a bigger single day is a range
 * alone) and at most `maxDays` days (partitions).
 */
export function planDayChunks(
  days: { dt: string; n: number }[],
  maxRows: number,
  maxDays = MAX_DAYS_PER_WRITE,
): { from: string; to: string; rows: number }[] {
  const chunks: { from: string; to: string; rows: number; days: number }[] = [];
  for (const { dt, n } of [...days].sort((a, b) => (a.dt < b.dt ? -1 : a.dt > b.dt ? 1 : 0))) {
    const last = chunks[chunks.length - 1];
    if (last && last.from.slice(0, 7) === dt.slice(0, 7) && last.rows + n <= maxRows && last.days < maxDays) {
      last.to = dt;
      last.rows += n;
      last.days++;
    } else chunks.push({ from: dt, to: dt, rows: n, days: 1 });
  }
  return chunks.map(({ from, to, rows }) => ({ from, to, rows }));
}

/** The calendar months (`YYYY-MM`) a range of days touches. */
function monthsOf(from: string, to: string): string[] {
  const out: string[] = [];
  let y = Number(from.slice(0, 4));
  let m = Number(from.slice(5, 7));
  const end = to.slice(0, 7);
  for (;;) {
    const month = `${y}-${String(m).padStart(2, '0')}`;
    out.push(month);
    if (month >= end) return out;
    if (++m > 12) {
      m = 1;
      y++;
    }
  }
}

/** Drops a per-run table; a failure to tidy up never fails the ingest that has already succeeded. */
async function dropQuietly(
  sqlEngine: SqlEngine,
  name: string,
  onProgress?: (m: string) => void,
): Promise<void> {
  try {
    await sqlEngine.dropTable(name);
  } catch (err) {
    onProgress?.(`could not drop staging table ${name}: ${(err as Error).message}`);
  }
}

/**
 * Ingests raw transaction logs: validates every row, drops `_id` retry duplicates, quarantines bad and
 * conflicting rows with file, line, column and reason, keeps extra columns aside, and writes curated Parquet
 * partitioned by date. CSV streams through the TypeScript parser and validator; Parquet is validated by the SQL
 * engine after its schema is checked. Memory stays bounded: nothing holds all rows, the engine spills.
 * Idempotent: a source's curated files are named after the source, so ingesting it again replaces them,
 * and rows already curated from another source count as duplicates.
 */
export async function ingest(deps: IngestDeps, input: IngestInput): Promise<IngestResult> {
  const step = startStep(deps.objectStore, input.runId, 'ingest');
  // Sources read again with this run because their curated rows conflict with its rows; each attempt that finds
  // such a source starts over with it (rare: conflicting versions of one `_id` in two files), so it ends.
  const joined = new Map<string, string>();
  for (;;) {
    const outcome = await ingestAttempt(deps, input, joined, step);
    if ('result' in outcome) return outcome.result;
    for (const [key, reason] of outcome.readAgain) joined.set(key, reason);
  }
}

type IngestStep = ReturnType<typeof startStep>;

async function ingestAttempt(
  deps: IngestDeps,
  input: IngestInput,
  joined: ReadonlyMap<string, string>,
  step: IngestStep,
): Promise<{ result: IngestResult } | { readAgain: Map<string, string> }> {
  const { objectStore, sqlEngine } = deps;
  const { runId } = input;
  const columnMap = resolveColumnMap(input.columnMap);
  const chunkRows = deps.curatedChunkRows ?? DEFAULT_CHUNK_ROWS;
  step.record.reads.length = 0;
  step.record.writes.length = 0;
  if (joined.size > 0) step.record.counts.sourcesReadForConflicts = joined.size;
  // The curated layout as it is before this run: nothing below writes to it until the sources' files are replaced.
  const curatedBefore = await objectStore.list(Keys.curated);
  const withdrawKeys = new Set(input.withdraw ?? []);
  for (const key of input.sources)
    if (withdrawKeys.has(key)) throw new InputFormatError(`${key}: given both to ingest and to withdraw`);
  const withdrawals = await planWithdrawals(objectStore, [...withdrawKeys], curatedBefore, sourceIdOf);
  // Sources whose rows were dropped or quarantined against rows being withdrawn are classified again without them.
  const again = await sourcesToClassifyAgain(objectStore, withdrawals, (key, reason) =>
    deps.onProgress?.(`${key}: ${reason}, but it is no longer in the object store: its rows stay as they are`),
  );
  if (again.size > 0) step.record.counts.sourcesReadForWithdrawals = again.size;
  const readWith = new Map([...again, ...joined]);
  const objects = (await expandSources(objectStore, [...input.sources, ...readWith.keys()])).filter(
    (o) => !withdrawKeys.has(o.key),
  );
  const plans = await planSources(objectStore, objects, {
    sourceIdOf,
    schemaVersion: INGEST_SCHEMA_VERSION,
    columnMap,
    reingest: input.reingest === true,
    curated: curatedBefore,
    joined: readWith,
  });
  const unchanged = plans.filter((p) => p.action === 'skip');
  const toRead = plans.filter((p) => p.action === 'ingest');
  // A withdrawal that stopped half-way (its tombstone written, some files left) is finished by any run given it.
  for (const p of unchanged) {
    const files = curatedFilesOf(curatedBefore, p.sourceId);
    if (p.state?.withdrawn && files.length > 0) withdrawals.push({ key: p.object.key, sourceId: p.sourceId, state: p.state, files, days: null });
  }
  // Sources read or withdrawn by this run: their curated rows are replaced, so duplicates are not looked for among them.
  const keys = [...toRead.map((p) => p.object.key), ...withdrawals.map((w) => w.key)];
  const scratch = await mkdtemp(join(deps.tmpDir, 'splitwatch-ingest-'));
  const staged: Staged[] = [];
  const withdrawn: WithdrawalReport[] = [];
  const tables: string[] = [];
  let minTs: string | null = null;
  let maxTs: string | null = null;
  const widen = (lo: string | null, hi: string | null) => {
    if (lo !== null && (minTs === null || lo < minTs)) minTs = lo;
    if (hi !== null && (maxTs === null || hi > maxTs)) maxTs = hi;
  };
  try {
    // 1. Read every file once: CSV is validated while streaming, Parquet's schema is checked from its footer.
    let csvSources = 0;
    for (const plan of toRead) {
      const key = plan.object.key;
      const report = newSourceReport(key, plan.sourceId, runId, plan.reason);
      deps.onProgress?.(`reading ${key}`);
      const quarantinePath = join(scratch, `${report.sourceId}.quarantine.csv`);
      const qSink = TextSink.open(quarantinePath);
      qSink.add(QUARANTINE_HEADER);
      const quarantine = new QuarantineFile(key, qSink);
      const entry: Staged = {
        report,
        object: plan.object,
        quarantine,
        quarantinePath,
        extrasPath: null,
        valid: 0,
        days: new Map(),
      };
      staged.push(entry);
      if (report.format === 'csv') {
        const out = await stageCsv(deps, key, scratch, columnMap, report, quarantine);
        for (const m of out.months) {
          await objectStore.putFile(
            `${Keys.staging(runId)}accepted/stage_month=${m.month}/${report.sourceId}.csv`,
            m.path,
            'text/csv',
            { move: true },
          );
          await rm(m.path, { force: true });
        }
        entry.extrasPath = out.extrasPath;
        entry.days = out.days;
        entry.valid = report.read - quarantine.rejected;
        entry.minTs = out.minTs;
        entry.maxTs = out.maxTs;
        widen(out.minTs, out.maxTs);
        csvSources++;
        deps.onProgress?.(
          `${key}: ${report.read.toLocaleString('en-US')} rows read, ${quarantine.rejected} rejected by validation`,
        );
      } else {
        entry.parquet = await stageParquet(deps, runId, key, columnMap, report);
        tables.push(entry.parquet.rawTable);
      }
      await quarantine.close();
    }
    await deps.csvChunks?.release?.();

    if (staged.length > 0) {
      // 2. Staged CSV rows are typed where they are read; Parquet rows are validated in SQL into one table.
      let stagedTable: string | null = null;
      if (csvSources > 0) {
        stagedTable = safeIdent(`staged_${runId}`);
        tables.push(stagedTable);
        await sqlEngine.registerTable({
          name: stagedTable,
          prefix: `${Keys.staging(runId)}accepted/`,
          format: 'csv',
          columns: STAGED_CSV_COLUMNS,
          partitionedBy: STAGED_CSV_PARTITION,
        });
      }
      const parquetSources = staged.filter((s) => s.parquet);
      let validatedTable: string | null = null;
      if (parquetSources.length > 0) {
        validatedTable = await validateParquetSources(deps, runId, parquetSources, step.record.writes);
        tables.push(validatedTable);
        for (const s of parquetSources) {
          if (s.valid > 0) widen(s.minTs ?? null, s.maxTs ?? null);
        }
      }

      // 3. Find retries and conflicts, against this run and curated rows of nearby days of other sources.
      await registerTransactions(sqlEngine);
      const lo = minTs as string | null;
      const hi = maxTs as string | null;
      const exceptionsPrefix = `${Keys.staging(runId)}exceptions/`;
      // Curated days compared with this run's rows: its days, one either side.
      const curatedDays = {
        minDt: lit(lo ? shiftDay(lo.slice(0, 10), -1) : '1970-01-01'),
        maxDt: lit(hi ? shiftDay(hi.slice(0, 10), 1) : '1970-01-01'),
      };
      deps.onProgress?.('looking for retries and conflicts');
      const knownConflicts = safeIdent(`known_conflicts_${runId}`);
      tables.push(knownConflicts);
      await sqlEngine.registerTable({
        name: knownConflicts,
        prefix: Keys.knownConflicts,
        format: 'csv',
        columns: KNOWN_CONFLICT_COLUMNS,
      });
      await sqlEngine.unload(
        renderSql(CLASSIFY_EXCEPTIONS_SQL, {
          validated: validatedRelation(stagedTable, validatedTable),
          curated: 'transactions',
          conflicted: knownConflicts,
          ...curatedDays,
          runSources: keys.map(lit).join(', '),
        }),
        exceptionsPrefix,
      );
      const exceptionsTable = safeIdent(`exceptions_${runId}`);
      tables.push(exceptionsTable);
      await sqlEngine.registerTable({
        name: exceptionsTable,
        prefix: exceptionsPrefix,
        format: 'parquet',
        columns: EXCEPTION_COLUMNS,
      });
      const bySource = new Map(staged.map((s) => [s.report.source, s]));
      const exceptionCounts = await sqlEngine.query(
        `SELECT source_key, status, COUNT(*) AS n FROM ${exceptionsTable} GROUP BY source_key, status`,
      );
      const withExceptions = new Set<string>();
      let conflicts = 0;
      for (const r of exceptionCounts) {
        const s = bySource.get(String(r.source_key));
        if (!s) throw new AccountingError(`Exceptions for unknown source ${String(r.source_key)}`);
        withExceptions.add(s.report.source);
        if (r.status === 'duplicate') s.report.duplicates += Number(r.n);
        else conflicts += Number(r.n);
      }
      if (conflicts > 0) {
        const conflictSinks = new Map<Staged, TextSink>();
        for (const s of staged) s.quarantine.reopen(s.quarantinePath);
        const rows = sqlEngine.stream(
          `SELECT source_key, source_line, tx_id FROM ${exceptionsTable} WHERE status = 'conflict' ORDER BY source_key, source_line`,
        );
        for await (const batch of rows) {
          for (const c of batch) {
            const s = bySource.get(String(c.source_key))!;
            s.quarantine.reject(Number(c.source_line), '_id', CONFLICT_REASON, String(c.tx_id), '');
            let sink = conflictSinks.get(s);
            if (sink === undefined) {
              s.conflictsPath = join(scratch, `${s.report.sourceId}.conflicts.csv`);
              sink = TextSink.open(s.conflictsPath);
              sink.add(KNOWN_CONFLICT_COLUMNS.map((k) => k.name).join(',') + '\n');
              conflictSinks.set(s, sink);
            }
            sink.add(`${csvField(String(c.tx_id))},${csvField(s.report.source)}\n`);
          }
          for (const s of staged) await s.quarantine.flushIfFull();
          for (const sink of conflictSinks.values()) await sink.flushIfFull();
        }
        for (const s of staged) await s.quarantine.close();
        for (const sink of conflictSinks.values()) await sink.close();
        // Another version of these `_id`s may be curated from a source this run does not read: it is read again with
        // this run (the attempt starts over), so every version is quarantined, as if both files came together.
        const readAgain = await conflictingCuratedSources(
          deps,
          exceptionsTable,
          keys,
          curatedDays,
          columnMap,
        );
        if (readAgain.size > 0) {
          await objectStore.delete((await objectStore.list(Keys.staging(runId))).map((o) => o.key));
          return { readAgain };
        }
      }

      // 4. Write each source's accepted rows (valid minus exceptions) to staging, a range of days at a time: the
      // curated view reads the live layout, so nothing in it may change until all queries over it are done.
      const curatedStaging = `${Keys.staging(runId)}curated/`;
      const unloaded = new Map<string, { prefix: string; keys: string[] }[]>();
      // A table per staged month: DuckDB sniffs every file of a multi-file CSV table on each query, so a range
      // of days reads only its months' files this way (Athena would prune the partition either way). Parquet
      // sources have one per calendar month of any year (see validateParquetSources). A range never spans two months.
      const partTables = new Set<string>();
      const partTable = async (name: string, def: Omit<TableDef, 'name'>): Promise<string> => {
        if (!partTables.has(name)) {
          partTables.add(name);
          tables.push(name);
          await sqlEngine.registerTable({ name, ...def });
        }
        return name;
      };
      const monthTables = async (from: string, to: string): Promise<string[]> => {
        const names: string[] = [];
        for (const month of monthsOf(from, to))
          names.push(
            await partTable(safeIdent(`staged_${runId}_${month.replace('-', '')}`), {
              prefix: `${Keys.staging(runId)}accepted/stage_month=${month}/`,
              format: 'csv',
              columns: STAGED_CSV_COLUMNS,
            }),
          );
        return names;
      };
      const validatedMonth = (sourceId: string, monthOfYear: string): Promise<string> =>
        partTable(safeIdent(`validated_${runId}_${sourceId}_m${monthOfYear}`), {
          prefix: `${validatedPrefixOf(runId)}${sourceId}/month_of_year=${monthOfYear}/`,
          format: 'parquet',
          columns: VALIDATED_COLUMNS,
        });
      for (const s of staged) {
        const rep = s.report;
        const days = [...s.days.entries()].map(([dt, n]) => ({ dt, n }));
        const outs: { prefix: string; keys: string[] }[] = [];
        for (const [i, chunk] of planDayChunks(days, chunkRows).entries()) {
          deps.onProgress?.(
            `writing curated Parquet for ${rep.source}: ${chunk.from} … ${chunk.to} (${chunk.rows.toLocaleString('en-US')} rows)`,
          );
          const prefix = `${curatedStaging}${rep.sourceId}/${i}/`;
          const written = await sqlEngine.unload(
            curatedChunkSql({
              format: rep.format,
              tables:
                rep.format === 'csv'
                  ? await monthTables(chunk.from, chunk.to)
                  : [await validatedMonth(rep.sourceId, chunk.from.slice(5, 7))],
              exceptions: withExceptions.has(rep.source) ? exceptionsTable : null,
              sourceLiteral: lit(rep.source),
              from: chunk.from,
              to: chunk.to,
              nextDay: shiftDay(chunk.to, 1),
            }),
            prefix,
            { partitionBy: ['dt'] },
          );
          outs.push({ prefix, keys: written });
        }
        unloaded.set(rep.sourceId, outs);
      }
      // What was written is counted from the files themselves: the accounting below checks it, not a derived number.
      const writtenTable = safeIdent(`written_${runId}`);
      tables.push(writtenTable);
      await sqlEngine.registerTable({
        name: writtenTable,
        prefix: curatedStaging,
        format: 'parquet',
        columns: [{ name: 'source_key', type: 'VARCHAR' }],
      });
      for (const r of await sqlEngine.query(
        `SELECT source_key, COUNT(*) AS n FROM ${writtenTable} GROUP BY source_key`,
      )) {
        const s = bySource.get(String(r.source_key));
        if (!s) throw new AccountingError(`Curated rows of unknown source ${String(r.source_key)}`);
        s.report.accepted = Number(r.n);
      }
      // Then replace each source's files in the curated layout (named after the source: re-runs replace, never add).
      // Their states go first: an ingest that stops while replacing leaves none, and the next reads them again.
      await objectStore.delete(staged.map((s) => Keys.curatedSourceState(s.report.sourceId)));
      for (const { report: rep } of staged) {
        await objectStore.delete(curatedFilesOf(curatedBefore, rep.sourceId).map((o) => o.key));
        for (const out of unloaded.get(rep.sourceId) ?? []) {
          const written = await publishUnloaded(
            objectStore,
            out.keys,
            out.prefix,
            Keys.curated,
            rep.sourceId,
          );
          step.record.writes.push(...written.map((key) => ({ key })));
        }
        // The `_id`s it quarantined as conflicts, for later runs to keep them so (none: its earlier list goes).
        const conflictsKey = Keys.knownConflictsOf(rep.sourceId);
        const { conflictsPath } = bySource.get(rep.source)!;
        if (conflictsPath) {
          await objectStore.putFile(conflictsKey, conflictsPath, 'text/csv');
          step.record.writes.push({ key: conflictsKey });
        } else await objectStore.delete([conflictsKey]);
      }
    }

    // The withdrawn sources' rows go once every query over the curated layout is done, as replaced sources' do.
    withdrawn.push(
      ...(await withdrawSources(objectStore, withdrawals, runId, (key) => step.record.writes.push({ key }))),
    );

    // 5. Quarantine, extras, manifests; the accounting invariant is checked before anything is reported.
    for (const s of staged) {
      const rep = s.report;
      rep.rejected = s.quarantine.rejected;
      Object.assign(rep.rejectedByReason, s.quarantine.rejectedByReason);
      if (rep.accepted + rep.duplicates + rep.rejected !== rep.read) {
        throw new AccountingError(
          `${rep.source}: ${rep.read} rows read but ${rep.accepted} accepted + ${rep.duplicates} duplicates + ${rep.rejected} rejected`,
        );
      }
      if (rep.rejected > 0) {
        rep.quarantineKey = `${Keys.quarantine(runId)}${rep.sourceId}.csv`;
        await objectStore.putFile(rep.quarantineKey, s.quarantinePath, 'text/csv');
        step.record.writes.push({ key: rep.quarantineKey, rows: rep.rejected });
      }
      if (s.extrasPath) {
        rep.extrasKey = `${extrasPrefix(runId)}${rep.sourceId}.csv`;
        await objectStore.putFile(rep.extrasKey, s.extrasPath, 'text/csv');
        step.record.writes.push({ key: rep.extrasKey });
      }
      const manifest = {
        ...rep,
        schemaVersion: INGEST_SCHEMA_VERSION,
        runId,
        ingestedAt: new Date().toISOString(),
        ...(Object.keys(columnMap).length > 0 ? { columnMap } : {}),
      };
      await objectStore.putText(
        `runs/${runId}/ingest/${rep.sourceId}.json`,
        JSON.stringify(manifest, null, 2),
        'application/json',
      );
      step.record.reads.push({ key: rep.source, sha256: rep.sha256, rows: rep.read });
    }
    // 6. What each source curated, written last: the next run skips a source whose content and files are these.
    const curatedAfter = staged.length > 0 ? await objectStore.list(Keys.curated) : [];
    for (const s of staged) {
      const rep = s.report;
      const state: SourceState = {
        format: SOURCE_STATE_FORMAT,
        source: rep.source,
        sourceId: rep.sourceId,
        sha256: rep.sha256,
        bytes: rep.bytes,
        ...(s.object.version !== undefined ? { version: s.object.version } : {}),
        schemaVersion: INGEST_SCHEMA_VERSION,
        columnMap,
        runId,
        ingestedAt: new Date().toISOString(),
        dateRange: s.minTs && s.maxTs ? { min: s.minTs.slice(0, 10), max: s.maxTs.slice(0, 10) } : null,
        report: rep,
        curated: Object.fromEntries(
          curatedFilesOf(curatedAfter, rep.sourceId).map((o) => [o.key, o.version ?? null]),
        ),
      };
      await objectStore.putText(
        Keys.curatedSourceState(rep.sourceId),
        JSON.stringify(state, null, 2),
        'application/json',
      );
      step.record.writes.push({ key: Keys.curatedSourceState(rep.sourceId) });
    }
    for (const p of unchanged) {
      const state = p.state!;
      const manifest = {
        source: p.object.key,
        sourceId: p.sourceId,
        status: state.withdrawn ? 'withdrawn' : 'unchanged',
        reason: p.reason,
        ingestedBy: state.runId,
        sha256: state.sha256,
        bytes: state.bytes,
        schemaVersion: INGEST_SCHEMA_VERSION,
        runId,
        checkedAt: new Date().toISOString(),
      };
      await objectStore.putText(
        `runs/${runId}/ingest/${p.sourceId}.json`,
        JSON.stringify(manifest, null, 2),
        'application/json',
      );
      step.record.reads.push({ key: p.object.key, sha256: state.sha256, rows: 0 });
    }
    deps.onProgress?.('cleaning up staging');
    const stagingKeys = (await objectStore.list(Keys.staging(runId))).map((o) => o.key);
    await objectStore.delete(stagingKeys);
  } finally {
    for (const s of staged) s.quarantine.destroy();
    for (const t of tables) await dropQuietly(sqlEngine, t, deps.onProgress);
    // A quarantine file still opening would otherwise race the removal of its directory.
    await Promise.all(staged.map((s) => s.quarantine.released()));
    await rm(scratch, { recursive: true, force: true });
  }

  const reports = staged.map((s) => s.report);
  const skipped: SourceReport[] = unchanged.map((p) => ({
    ...p.state!.report,
    status: p.state!.withdrawn ? 'withdrawn' : 'unchanged',
    reason: p.reason,
    ingestedBy: p.state!.runId,
  }));
  const totals = reports.reduce(
    (t, r) => ({
      ...t,
      files: t.files + 1,
      read: t.read + r.read,
      accepted: t.accepted + r.accepted,
      duplicates: t.duplicates + r.duplicates,
      rejected: t.rejected + r.rejected,
    }),
    {
      files: 0,
      read: 0,
      accepted: 0,
      duplicates: 0,
      rejected: 0,
      unchanged: skipped.filter((r) => r.status === 'unchanged').length,
      withdrawn: withdrawn.filter((w) => w.status === 'withdrawn').length,
    },
  );
  Object.assign(step.record.counts, totals);
  await step.finish();
  const lo = minTs as string | null;
  const hi = maxTs as string | null;
  return {
    result: {
      runId,
      sources: [...reports, ...skipped].sort((a, b) =>
        a.source < b.source ? -1 : a.source > b.source ? 1 : 0,
      ),
      totals,
      dateRange: lo && hi ? { min: lo.slice(0, 10), max: hi.slice(0, 10) } : null,
      withdrawn,
    },
  };
}

/**
 * Sources outside this run whose curated rows (of the days the classification compared, SQL literals) share an
 * `_id` with this run's conflicts, mapped to why they are read again; those whose raw object is gone cannot be, and
 * keep their rows (said in the progress and the README).
 */
async function conflictingCuratedSources(
  deps: IngestDeps,
  exceptionsTable: string,
  runSources: string[],
  curatedDays: { minDt: string; maxDt: string },
  columnMap: ColumnMap,
): Promise<Map<string, string>> {
  const readAgain = new Map<string, string>();
  const rows = await deps.sqlEngine.query(
    `SELECT t.source_key AS curated_source, MIN(e.source_key) AS run_source, COUNT(DISTINCT t.tx_id) AS ids
FROM transactions t
JOIN ${exceptionsTable} e ON e.tx_id = t.tx_id AND e.status = 'conflict'
WHERE t.dt BETWEEN ${curatedDays.minDt} AND ${curatedDays.maxDt}
  AND t.source_key NOT IN (${runSources.map(lit).join(', ')})
GROUP BY t.source_key
ORDER BY t.source_key`,
  );
  for (const r of rows) {
    const key = String(r.curated_source);
    const ids = Number(r.ids);
    const runSource = String(r.run_source);
    const present = SUPPORTED.test(key) && (await deps.objectStore.list(key)).some((o) => o.key === key);
    // Read with another column map (another log schema), it may not read with this run's: it is left as it is.
    const state = present ? await readSourceState(deps.objectStore, sourceIdOf(key)) : undefined;
    const why = !present
      ? 'which is no longer in the object store'
      : state && !sameColumnMap(state.columnMap, columnMap)
        ? 'which was read with another column map'
        : null;
    if (why !== null) {
      deps.onProgress?.(
        `${runSource}: ${ids} _id(s) conflict with rows curated from ${key}, ${why}: ` +
          'those rows stay curated, this run quarantines its own versions',
      );
      continue;
    }
    deps.onProgress?.(
      `${runSource}: ${ids} _id(s) conflict with rows curated from ${key}: reading it again with this run`,
    );
    readAgain.set(
      key,
      `its rows conflict with ${runSource} (the same _id with other content): read again with it, so every version is quarantined`,
    );
  }
  return readAgain;
}
