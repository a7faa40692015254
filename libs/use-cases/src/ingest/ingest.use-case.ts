import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import {
  CURATED_COLUMNS,
  CURATED_PARTITION,
  INPUT_COLUMNS,
  InputFormatError,
  Keys,
  QueryFailedError,
  SplitwatchError,
  STAGED_COLUMNS,
  type ObjectStore,
  type SqlEngine,
} from '@splitwatch/core';
import { parseCsv } from './csv-parser';
import { isRejection, mapHeader, validateRow, type ValidRow } from './validate-row';
import { CLASSIFY_STAGED_SQL } from './dedupe.sql';
import { lit, renderSql, safeIdent } from '../sql-text';
import { startStep } from '../audit/step-record';

/** Raised when a file's counts do not add up; it means a bug, never bad input. */
export class AccountingError extends SplitwatchError {}

export interface IngestDeps {
  objectStore: ObjectStore;
  sqlEngine: SqlEngine;
  /** Local scratch directory (Lambda: /tmp). */
  tmpDir: string;
  onProgress?: (message: string) => void;
}

export interface IngestInput {
  runId: string;
  /** Object keys or prefixes (ending in `/`) under the store, e.g. `raw/2021-11.csv` or `raw/`. */
  sources: string[];
}

/** Per-file accounting: read = accepted + duplicates + rejected. */
export interface SourceReport {
  source: string;
  sourceId: string;
  format: 'csv' | 'parquet';
  sha256: string;
  bytes: number;
  read: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  extraColumns: string[];
  quarantineKey: string | null;
}

export interface IngestResult {
  runId: string;
  sources: SourceReport[];
  totals: { files: number; read: number; accepted: number; duplicates: number; rejected: number };
  dateRange: { min: string; max: string } | null;
}

export const INGEST_SCHEMA_VERSION = 1;
const SUPPORTED = /\.(csv|csv\.gz|parquet)$/i;
const QUARANTINE_HEADER = 'source_key,line,column,reason,tx_id,record\n';

/** Stable id of a source key: curated files of a source are named after it, so re-ingesting replaces them. */
export function sourceIdOf(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', resolve));
}

/** Collects lines and writes them in blocks: one write (and one await) per ~64 kB, not per row. */
class BufferedLines {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly stream: WriteStream) {}
  async push(line: string): Promise<void> {
    this.parts.push(line);
    this.size += line.length;
    if (this.size >= 1 << 16) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await write(this.stream, text);
  }
}

async function closeStream(stream: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
}

async function expandSources(store: ObjectStore, sources: string[]): Promise<string[]> {
  const keys = new Set<string>();
  for (const s of sources) {
    if (s.endsWith('/')) {
      for (const o of await store.list(s)) if (SUPPORTED.test(o.key)) keys.add(o.key);
    } else {
      if (!SUPPORTED.test(s)) throw new InputFormatError(`${s}: unsupported file type (expected .csv, .csv.gz or .parquet)`);
      if (!(await store.exists(s))) throw new InputFormatError(`${s}: no such object in ${store.location}`);
      keys.add(s);
    }
  }
  if (keys.size === 0) throw new InputFormatError(`No .csv, .csv.gz or .parquet input under ${sources.join(', ')}`);
  return [...keys].sort();
}

/** Feeds one row of a file through validation into the staged and quarantine files. */
class SourceStager {
  read = 0;
  rejected = 0;
  readonly rejectedByReason: Record<string, number> = {};
  minDate: string | null = null;
  maxDate: string | null = null;

  private readonly staged: BufferedLines;
  private readonly quarantine: BufferedLines;

  constructor(
    private readonly source: string,
    staged: WriteStream,
    quarantine: WriteStream,
  ) {
    this.staged = new BufferedLines(staged);
    this.quarantine = new BufferedLines(quarantine);
  }

  async flush(): Promise<void> {
    await this.staged.flush();
    await this.quarantine.flush();
  }

  async reject(line: number, column: string, reason: string, txId: string, record: string): Promise<void> {
    this.rejected++;
    const bucket = `${column}: ${reason.replace(/:.*$/, '')}`;
    this.rejectedByReason[bucket] = (this.rejectedByReason[bucket] ?? 0) + 1;
    const clipped = record.length > 2000 ? `${record.slice(0, 2000)}…` : record;
    await this.quarantine.push([this.source, String(line), column, reason, txId, clipped].map(csvField).join(',') + '\n');
  }

  async accept(row: ValidRow, line: number): Promise<void> {
    const day = row.transaction_date.slice(0, 10);
    if (this.minDate === null || day < this.minDate) this.minDate = day;
    if (this.maxDate === null || day > this.maxDate) this.maxDate = day;
    const values = [
      row.tx_id,
      row.merchant_id,
      row.subsidiary,
      row.transaction_date,
      row.account_number,
      row.user_id,
      row.transaction_amount,
      row.transaction_type,
      this.source,
      String(line),
    ];
    await this.staged.push(values.map(csvField).join(',') + '\n');
  }
}

async function stageCsv(body: Readable, key: string, stager: SourceStager): Promise<string[]> {
  const input = /\.gz$/i.test(key) ? body.pipe(createGunzip()) : body;
  let header: { positions: Record<string, number>; width: number } | null = null;
  let extra: string[] = [];
  try {
    for await (const rec of parseCsv(input)) {
      if (!header) {
        if (rec.error) throw new InputFormatError(`${key}: line ${rec.line}: unreadable header (${rec.error})`);
        const mapped = mapHeader(rec.fields, key);
        header = { positions: mapped.positions, width: rec.fields.length };
        extra = mapped.extra;
        continue;
      }
      stager.read++;
      const raw = () => rec.fields.join(',');
      if (rec.error) {
        await stager.reject(rec.line, '*', rec.error, '', raw());
        continue;
      }
      if (rec.fields.length !== header.width) {
        await stager.reject(rec.line, '*', `expected ${header.width} fields, found ${rec.fields.length}`, '', raw());
        continue;
      }
      const pos = header.positions;
      const result = validateRow((col) => rec.fields[pos[col]]);
      if (isRejection(result)) {
        await stager.reject(rec.line, result.column, result.reason, rec.fields[pos._id] ?? '', raw());
      } else {
        await stager.accept(result, rec.line);
      }
    }
  } catch (err) {
    if ((err as { code?: string }).code === 'Z_DATA_ERROR') {
      throw new InputFormatError(`${key}: not a valid gzip file (${(err as Error).message})`);
    }
    throw err;
  }
  if (!header) throw new InputFormatError(`${key}: empty file, expected a header with ${INPUT_COLUMNS.join(',')}`);
  return extra;
}

async function stageParquet(deps: IngestDeps, runId: string, key: string, stager: SourceStager): Promise<void> {
  const { objectStore, sqlEngine } = deps;
  const sid = sourceIdOf(key);
  const prefix = `${Keys.staging(runId)}parquet-src/${sid}/`;
  await objectStore.copy(key, `${prefix}data.parquet`);
  const table = safeIdent(`raw_${runId}_${sid}`);
  const cols = INPUT_COLUMNS.map((name) => ({ name, type: 'VARCHAR' as const }));
  let row = 0;
  try {
    await sqlEngine.registerTable({ name: table, prefix, format: 'parquet', columns: cols });
    const select = `SELECT ${INPUT_COLUMNS.map((c) => `"${c}"`).join(', ')} FROM ${table}`;
    for await (const batch of sqlEngine.stream(select, 10_000)) {
      for (const r of batch) {
        row++;
        stager.read++;
        const result = validateRow((col) => (r[col] === null || r[col] === undefined ? '' : String(r[col])));
        const raw = INPUT_COLUMNS.map((c) => String(r[c] ?? '')).join(',');
        if (isRejection(result)) await stager.reject(row, result.column, result.reason, String(r._id ?? ''), raw);
        else await stager.accept(result, row);
      }
    }
  } catch (err) {
    if (err instanceof QueryFailedError && row === 0) {
      throw new InputFormatError(
        `${key}: cannot read as a Parquet transaction log with columns ${INPUT_COLUMNS.join(',')} (${err.message.split('\n')[0]})`,
        { cause: err },
      );
    }
    throw err;
  }
}

function shiftDay(day: string, delta: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + delta);
  return d.toISOString().slice(0, 10);
}

/**
 * Ingests raw transaction logs: validates every row, drops `_id` retry duplicates, quarantines bad and
 * conflicting rows with file, line, column and reason, and writes curated Parquet partitioned by date.
 * Idempotent: a source's curated files are named after the source, so ingesting it again replaces them,
 * and rows already curated from another source count as duplicates.
 */
export async function ingest(deps: IngestDeps, input: IngestInput): Promise<IngestResult> {
  const { objectStore, sqlEngine } = deps;
  const { runId } = input;
  const step = startStep(objectStore, runId, 'ingest');
  const keys = await expandSources(objectStore, input.sources);
  const scratch = await mkdtemp(join(deps.tmpDir, 'splitwatch-ingest-'));
  const reports: SourceReport[] = [];
  const quarantines = new Map<string, { path: string; stream: WriteStream; stager: SourceStager }>();
  let minDate: string | null = null;
  let maxDate: string | null = null;
  try {
    for (const key of keys) {
      const sid = sourceIdOf(key);
      const format = /\.parquet$/i.test(key) ? 'parquet' : 'csv';
      deps.onProgress?.(`reading ${key}`);
      const stagedPath = join(scratch, `${sid}.csv`);
      const quarantinePath = join(scratch, `${sid}.quarantine.csv`);
      const staged = createWriteStream(stagedPath);
      const quarantine = createWriteStream(quarantinePath);
      await write(staged, STAGED_COLUMNS.map((c) => c.name).join(',') + '\n');
      await write(quarantine, QUARANTINE_HEADER);
      const stager = new SourceStager(key, staged, quarantine);
      const hash = createHash('sha256');
      let bytes = 0;
      let extra: string[] = [];
      if (format === 'csv') {
        const body = await objectStore.getStream(key);
        body.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          bytes += chunk.length;
        });
        extra = await stageCsv(body, key, stager);
      } else {
        const data = await objectStore.getBytes(key);
        hash.update(data);
        bytes = data.length;
        await stageParquet(deps, runId, key, stager);
      }
      await stager.flush();
      await closeStream(staged);
      await objectStore.putFile(`${Keys.staging(runId)}accepted/${sid}.csv`, stagedPath, 'text/csv');
      quarantines.set(key, { path: quarantinePath, stream: quarantine, stager });
      if (stager.minDate && (minDate === null || stager.minDate < minDate)) minDate = stager.minDate;
      if (stager.maxDate && (maxDate === null || stager.maxDate > maxDate)) maxDate = stager.maxDate;
      reports.push({
        source: key,
        sourceId: sid,
        format,
        sha256: hash.digest('hex'),
        bytes,
        read: stager.read,
        accepted: 0,
        duplicates: 0,
        rejected: stager.rejected,
        rejectedByReason: stager.rejectedByReason,
        extraColumns: extra,
        quarantineKey: null,
      });
      deps.onProgress?.(`${key}: ${stager.read} rows read, ${stager.rejected} rejected by validation`);
    }

    const stagedTable = safeIdent(`staged_${runId}`);
    await sqlEngine.registerTable({
      name: stagedTable,
      prefix: `${Keys.staging(runId)}accepted/`,
      format: 'csv',
      columns: STAGED_COLUMNS,
    });
    await sqlEngine.registerTable({
      name: 'transactions',
      prefix: Keys.curated,
      format: 'parquet',
      columns: CURATED_COLUMNS,
      partitionedBy: CURATED_PARTITION,
    });
    // Classify once and keep the result as Parquet in staging: the counts, the conflicts and the curated
    // output below all read it instead of re-running the classification.
    const classifyPrefix = `${Keys.staging(runId)}classified/`;
    deps.onProgress?.('classifying retries and conflicts');
    await sqlEngine.unload(
      renderSql(CLASSIFY_STAGED_SQL, {
        staged: stagedTable,
        curated: 'transactions',
        minDt: lit(minDate ? shiftDay(minDate, -1) : '1970-01-01'),
        maxDt: lit(maxDate ? shiftDay(maxDate, 1) : '1970-01-01'),
        runSources: keys.map(lit).join(', '),
      }),
      classifyPrefix,
    );
    const classifiedTable = safeIdent(`classified_${runId}`);
    await sqlEngine.registerTable({
      name: classifiedTable,
      prefix: classifyPrefix,
      format: 'parquet',
      columns: [...STAGED_COLUMNS, { name: 'status', type: 'VARCHAR' }, { name: 'dt', type: 'VARCHAR' }],
    });
    const classified = `SELECT * FROM ${classifiedTable}`;
    deps.onProgress?.('counting');
    const statusRows = await sqlEngine.query(
      `SELECT source_key, status, COUNT(*) AS n FROM (${classified}) c GROUP BY source_key, status`,
    );
    for (const r of statusRows) {
      const rep = reports.find((x) => x.source === r.source_key);
      if (!rep) throw new AccountingError(`Classified rows of unknown source ${String(r.source_key)}`);
      const n = Number(r.n);
      if (r.status === 'accepted') rep.accepted += n;
      else if (r.status === 'duplicate') rep.duplicates += n;
      else {
        rep.rejected += n;
        const bucket = '_id: conflicting duplicate';
        rep.rejectedByReason[bucket] = (rep.rejectedByReason[bucket] ?? 0) + n;
      }
    }
    const conflicts = await sqlEngine.query(
      `SELECT source_key, source_line, tx_id FROM (${classified}) c WHERE status = 'conflict' ORDER BY source_key, source_line`,
    );
    for (const c of conflicts) {
      const q = quarantines.get(String(c.source_key));
      await q?.stager.reject(
        Number(c.source_line),
        '_id',
        'conflicting duplicate: same _id with different content or timestamps more than 1 s apart',
        String(c.tx_id),
        '',
      );
    }

    // Write every source's new curated files to staging first: the curated view reads the live layout,
    // so nothing in it may change until all queries over it are done.
    const unloaded = new Map<string, { prefix: string; keys: string[] }>();
    deps.onProgress?.('writing curated Parquet');
    for (const rep of reports) {
      if (rep.accepted === 0) continue;
      const outPrefix = `${Keys.staging(runId)}curated/${rep.sourceId}/`;
      const keys = await sqlEngine.unload(
        `SELECT ${CURATED_COLUMNS.map((c) => c.name).join(', ')}, dt ` +
          `FROM ${classifiedTable} WHERE status = 'accepted' AND source_key = ${lit(rep.source)}`,
        outPrefix,
        { partitionBy: ['dt'] },
      );
      unloaded.set(rep.sourceId, { prefix: outPrefix, keys });
    }
    // Then replace each source's files in the curated layout (named after the source: re-runs replace, never add).
    const curatedNow = (await objectStore.list(Keys.curated)).map((o) => o.key);
    for (const rep of reports) {
      const stale = curatedNow.filter((k) => k.split('/').pop()!.startsWith(`${rep.sourceId}-`));
      await objectStore.delete(stale);
      const out = unloaded.get(rep.sourceId);
      for (const k of out?.keys ?? []) {
        const rel = k.slice(out!.prefix.length); // dt=YYYY-MM-DD/file.parquet
        const cut = rel.lastIndexOf('/');
        const file = rel.slice(cut + 1);
        // Athena's UNLOAD names files without an extension; keep the curated layout uniform.
        const dest = `${Keys.curated}${rel.slice(0, cut)}/${rep.sourceId}-${file}${file.endsWith('.parquet') ? '' : '.parquet'}`;
        await objectStore.copy(k, dest);
        step.record.writes.push({ key: dest });
      }
    }

    for (const rep of reports) {
      const q = quarantines.get(rep.source)!;
      await q.stager.flush();
      await closeStream(q.stream);
      if (rep.rejected > 0) {
        rep.quarantineKey = `${Keys.quarantine(runId)}${rep.sourceId}.csv`;
        await objectStore.putFile(rep.quarantineKey, q.path, 'text/csv');
        step.record.writes.push({ key: rep.quarantineKey, rows: rep.rejected });
      }
      if (rep.accepted + rep.duplicates + rep.rejected !== rep.read) {
        throw new AccountingError(
          `${rep.source}: ${rep.read} rows read but ${rep.accepted} accepted + ${rep.duplicates} duplicates + ${rep.rejected} rejected`,
        );
      }
      const manifest = { ...rep, schemaVersion: INGEST_SCHEMA_VERSION, runId, ingestedAt: new Date().toISOString() };
      await objectStore.putText(`runs/${runId}/ingest/${rep.sourceId}.json`, JSON.stringify(manifest, null, 2), 'application/json');
      step.record.reads.push({ key: rep.source, sha256: rep.sha256, rows: rep.read });
    }
    deps.onProgress?.('cleaning up staging');
    const staging = (await objectStore.list(Keys.staging(runId))).map((o) => o.key);
    await objectStore.delete(staging);
  } finally {
    for (const q of quarantines.values()) if (!q.stream.closed) q.stream.destroy();
    await rm(scratch, { recursive: true, force: true });
  }

  const totals = reports.reduce(
    (t, r) => ({
      files: t.files + 1,
      read: t.read + r.read,
      accepted: t.accepted + r.accepted,
      duplicates: t.duplicates + r.duplicates,
      rejected: t.rejected + r.rejected,
    }),
    { files: 0, read: 0, accepted: 0, duplicates: 0, rejected: 0 },
  );
  Object.assign(step.record.counts, totals);
  await step.finish();
  return { runId, sources: reports, totals, dateRange: minDate && maxDate ? { min: minDate, max: maxDate } : null };
}

