/**
 * Ingest benchmark: `npm run bench:ingest [-- --rows 1000000,5000000] [--formats csv,parquet] [--input FILE.csv]
 * [--memory-limit 512MB] [--threads N] [--chunk-rows N] [--workers 1,2] [--csv-chunk-bytes N] [--dir DIR] [--fresh]
 * [--skip-copy] [--trace]` (`--skip-copy`: no bare or day copy)
 * (`--chunk-rows`: most rows one curated write statement holds, ingest's `curatedChunkRows`; by default what the
 * CLI uses for the memory limit, `curatedChunkRowsFor`. `--workers`: the worker threads CSV chunks are parsed and
 * validated on, as the CLI's `--workers` (default: the CLI's, one per core, at most 8); 1 = one stream in the
 * ingest thread; a list measures ingest once per value, in the same run.)
 *
 * For each size, a synthetic Nequi-format log (libs/synth, realistic sparsity, retry duplicates included) cut to
 * exactly that many rows is written as CSV, and as Parquet by DuckDB's COPY (DECIMAL(24,8) amounts, TIMESTAMP
 * dates); `--input` measures a given CSV instead (e.g. the 2 GB file). Each measurement runs in a child process of
 * its own, so its peak RSS (which includes DuckDB's native memory) is its own:
 * - `bare read`: DuckDB alone, `SELECT COUNT(*), SUM(transaction_amount)` over `read_csv` / `read_parquet` (DuckDB
 *   converts only the amount: the issue's reference);
 * - `full read`: DuckDB alone, every one of the eight columns converted to its contract type (ids as text, the date as
 *   TIMESTAMP, the amount as DECIMAL(18,8), as ingest parses it) and folded into an aggregate, so none can be
 *   skipped — what any ingest that checks every field must at least do;
 * - `checked read`: DuckDB alone, every field read as text and checked per row as ingest checks it, failures counted
 *   (what rejecting rows one by one costs the engine itself, before anything is written);
 * - `bare copy`: DuckDB alone, the file read and written back as one Parquet file (`COPY … (FORMAT parquet)`);
 * - `day copy`: DuckDB alone, the file read with the contract's types and written as Parquet partitioned by day, the
 *   curated layout, with no check at all (the least an ingest that lays its data out by day can cost);
 * - `ingest`: the ingest use-case (embedded adapters: local directory, DuckDB with the given memory limit and a
 *   spill folder): validation, quarantine, retries and conflicts, curated Parquet by day, manifests.
 * Data is kept under --dir (default $TMPDIR/splitwatch-bench-ingest) and reused unless --fresh. On a shared machine
 * wall times vary with load; CPU time and the load average at each measurement are reported beside them.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { copyFile, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { LocalObjectStore, type DuckDbSqlEngine } from '@splitwatch/adapters-local';
import { synthesize } from '@splitwatch/synth';
import type { SqlEngine } from '@splitwatch/core';
import { curatedChunkRowsFor, ingest } from '@splitwatch/use-cases';
import { CsvChunkPool } from '../../apps/cli/src/csv-chunk-pool';
import { defaultDetectWorkers } from '../../apps/cli/src/detect-pool';
import {
  fmt,
  log,
  measureInChild,
  openBenchEngine,
  reportFromChild,
  ROWS_PER_USER,
  secs,
  type ChildMeasurement,
} from './measure';

type Format = 'csv' | 'parquet';
type Phase = 'bare-read' | 'full-read' | 'checked-read' | 'bare-copy' | 'day-copy' | 'ingest';

interface Options {
  rows: number[];
  formats: Format[];
  input?: string;
  dir: string;
  threads?: number;
  memoryLimit: string;
  chunkRows?: number;
  workers: number[];
  csvChunkBytes?: number;
  fresh: boolean;
  skipCopy: boolean;
  trace: boolean;
}

interface Measurement extends ChildMeasurement {
  /** 1-minute load average when the measurement started. */
  load: number;
}

function readOptions(argv: string[]): Options & { child?: Phase; file?: string; work?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '100000' },
      formats: { type: 'string', default: 'csv,parquet' },
      input: { type: 'string' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench-ingest') },
      threads: { type: 'string' },
      'memory-limit': { type: 'string', default: '512MB' },
      fresh: { type: 'boolean', default: false },
      'skip-copy': { type: 'boolean', default: false },
      'chunk-rows': { type: 'string' },
      workers: { type: 'string' },
      'csv-chunk-bytes': { type: 'string' },
      trace: { type: 'boolean', default: false },
      child: { type: 'string' },
      file: { type: 'string' },
      work: { type: 'string' },
    },
  });
  const rows = values.rows.split(',').map((r) => Number(r.replace(/_/g, '')));
  if (rows.some((r) => !Number.isInteger(r) || r < 1000))
    throw new Error(`--rows must be integers ≥ 1000, got ${values.rows}`);
  const formats = values.formats.split(',').map((f) => f.trim()) as Format[];
  if (formats.some((f) => f !== 'csv' && f !== 'parquet'))
    throw new Error(`--formats must list csv and/or parquet, got ${values.formats}`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new Error('--threads must be a positive integer');
  const workers = values.workers ? values.workers.split(',').map(Number) : [defaultDetectWorkers()];
  if (workers.some((w) => !Number.isInteger(w) || w < 1))
    throw new Error(`--workers must list positive integers, got ${values.workers}`);
  if (values.input !== undefined && !existsSync(values.input))
    throw new Error(`--input ${values.input}: no such file`);
  return {
    rows,
    formats,
    input: values.input === undefined ? undefined : resolve(values.input),
    dir: resolve(values.dir),
    threads,
    memoryLimit: values['memory-limit'],
    chunkRows: values['chunk-rows'] ? Number(values['chunk-rows']) : undefined,
    workers,
    csvChunkBytes: values['csv-chunk-bytes'] ? Number(values['csv-chunk-bytes']) : undefined,
    fresh: values.fresh,
    skipCopy: values['skip-copy'],
    trace: values.trace,
    child: values.child as Phase | undefined,
    file: values.file,
    work: values.work,
  };
}

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** Copies the header and the first `rows` data lines of `from` into `to`; returns the data lines copied. */
async function firstLines(from: string, to: string, rows: number): Promise<number> {
  const out = createWriteStream(to);
  const lines = createInterface({ input: createReadStream(from), crlfDelay: Infinity });
  let n = -1;
  for await (const line of lines) {
    if (n >= rows) break;
    if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
    n++;
  }
  lines.close();
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  return n;
}

/** The CSV of `rows` synthetic transactions and its Parquet twin, made once under `sizeDir`. */
async function prepare(sizeDir: string, rows: number, o: Options): Promise<{ csv: string; parquet: string }> {
  const csv = join(sizeDir, 'transactions.csv');
  const parquet = join(sizeDir, 'transactions.parquet');
  const ready = join(sizeDir, 'READY.json');
  if (o.fresh || !existsSync(ready)) {
    await rm(sizeDir, { recursive: true, force: true });
    await mkdir(sizeDir, { recursive: true });
    let t = Date.now();
    // A little more than needed (the count per user varies), cut to the exact size below.
    const users = Math.ceil((rows / ROWS_PER_USER) * 1.05) + 10;
    const summary = await synthesize({ users, days: 334, seed: 2021 }, join(sizeDir, 'synth'));
    if (summary.rows < rows) throw new Error(`synth wrote ${summary.rows} rows, fewer than ${rows}`);
    await firstLines(summary.files.transactions, csv, rows);
    await rm(join(sizeDir, 'synth'), { recursive: true, force: true });
    log(`  synthesised ${fmt(rows)} rows of CSV in ${secs(Date.now() - t)}`);
    t = Date.now();
    await writeParquet(csv, parquet, sizeDir, o);
    log(`  wrote the Parquet twin in ${secs(Date.now() - t)}`);
    await writeFile(ready, JSON.stringify({ rows }));
  }
  return { csv, parquet };
}

async function writeParquet(csv: string, parquet: string, root: string, o: Options): Promise<void> {
  const engine = await openBenchEngine(root, o);
  try {
    // Bench-only DuckDB SQL: the input contract's types, DECIMAL(24,8) amounts and zone-less timestamps.
    await engine.query(
      `COPY (SELECT "_id", merchant_id, subsidiary, CAST(transaction_date AS TIMESTAMP) AS transaction_date,
                    account_number, user_id, CAST(transaction_amount AS DECIMAL(24,8)) AS transaction_amount,
                    transaction_type
             FROM read_csv(${sqlText(csv)}, header = true, all_varchar = true))
       TO ${sqlText(parquet)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } finally {
    await engine.close();
  }
}

/** Runs `measure` on a DuckDB engine of its own (the bench's memory limit and threads), closed afterwards. */
async function duckdbAlone<T>(
  work: string,
  o: Options,
  measure: (engine: DuckDbSqlEngine) => Promise<T>,
): Promise<T> {
  const engine = await openBenchEngine(work, o);
  try {
    return await measure(engine);
  } finally {
    await engine.close();
  }
}

/** DuckDB alone: COUNT + SUM of the amount over the file, with the types DuckDB detects itself. */
async function bareRead(file: string, work: string, o: Options): Promise<{ rows: number; detail: string }> {
  return duckdbAlone(work, o, async (engine) => {
    const source = file.endsWith('.parquet')
      ? `read_parquet(${sqlText(file)})`
      : `read_csv(${sqlText(file)}, header = true)`;
    const [r] = await engine.query(`SELECT COUNT(*) AS n, SUM(transaction_amount) AS total FROM ${source}`);
    return { rows: Number(r.n), detail: `sum ${String(r.total)}` };
  });
}

/** The contract's types for DuckDB's CSV reader (parsed natively, the fastest way it reads them). */
const TYPED_COLUMNS = [
  ...['_id', 'merchant_id', 'subsidiary', 'account_number', 'user_id', 'transaction_type'].map(
    (c) => `'${c}': 'VARCHAR'`,
  ),
  `'transaction_date': 'TIMESTAMP'`,
  // DECIMAL(18,8) as ingest parses amounts that fit (DuckDB parses text into a 128-bit decimal far slower).
  `'transaction_amount': 'DECIMAL(18,8)'`,
].join(', ');

/** DuckDB alone: every column read with its contract type and used, so the reader converts all of them. */
async function fullRead(file: string, work: string, o: Options): Promise<{ rows: number; detail: string }> {
  return duckdbAlone(work, o, async (engine) => {
    const source = file.endsWith('.parquet')
      ? `read_parquet(${sqlText(file)})`
      : `read_csv(${sqlText(file)}, header = true, types = {${TYPED_COLUMNS}})`;
    const [r] = await engine.query(
      `SELECT COUNT(*) AS n, SUM(transaction_amount) AS total, MAX(transaction_date) AS last_ts,
            MAX(length("_id") + length(merchant_id) + length(subsidiary) + length(account_number) + length(user_id)
                + length(transaction_type)) AS widest
     FROM ${source}`,
    );
    return { rows: Number(r.n), detail: `sum ${String(r.total)}, last ${String(r.last_ts)}` };
  });
}

/** DuckDB alone: the file read and written back as one zstd Parquet file (the cheapest full rewrite). */
async function bareCopy(file: string, work: string, o: Options): Promise<{ rows: number; detail: string }> {
  return duckdbAlone(work, o, async (engine) => {
    const source = file.endsWith('.parquet')
      ? `read_parquet(${sqlText(file)})`
      : `read_csv(${sqlText(file)}, header = true)`;
    const out = join(work, 'copy.parquet');
    await engine.query(
      `COPY (SELECT * FROM ${source}) TO ${sqlText(out)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    const [r] = await engine.query(`SELECT COUNT(*) AS n FROM read_parquet(${sqlText(out)})`);
    return { rows: Number(r.n), detail: '' };
  });
}

/**
 * DuckDB alone: every field read as text and checked per row as ingest checks it (ids present, a timestamp, a
 * positive amount that fits DECIMAL(24,8) — through DECIMAL(18,8) when it fits, as ingest's SQL does —, the type one
 * of the two, tolerant of case and spaces), counting the rows that fail instead of failing the read: what rejecting
 * rows one by one costs before anything is written.
 */
async function checkedRead(
  file: string,
  work: string,
  o: Options,
): Promise<{ rows: number; detail: string }> {
  return duckdbAlone(work, o, async (engine) => {
    const source = file.endsWith('.parquet')
      ? `(SELECT * REPLACE (CAST(transaction_date AS VARCHAR) AS transaction_date, CAST(transaction_amount AS VARCHAR) AS transaction_amount) FROM read_parquet(${sqlText(file)}))`
      : `read_csv(${sqlText(file)}, header = true, all_varchar = true)`;
    const present = ['_id', 'merchant_id', 'subsidiary', 'account_number', 'user_id']
      .map((c) => `coalesce(trim("${c}"), '') <> ''`)
      .join(' AND ');
    const amount = `CASE WHEN length(transaction_amount) <= 19 THEN TRY_CAST(transaction_amount AS DECIMAL(18,8)) ELSE TRY_CAST(transaction_amount AS DECIMAL(24,8)) END`;
    const [r] = await engine.query(
      `SELECT COUNT(*) AS n,
            COUNT(*) FILTER (WHERE NOT coalesce(${present}
              AND TRY_CAST(transaction_date AS TIMESTAMP) IS NOT NULL
              AND ${amount} > 0
              AND upper(trim(transaction_type)) IN ('DEBITO', 'CREDITO'), false)) AS failing
     FROM ${source}`,
    );
    return { rows: Number(r.n), detail: `${String(r.failing)} rows failing a check` };
  });
}

/**
 * DuckDB alone: the file read with the contract's types and written as zstd Parquet partitioned by day, the curated
 * layout — no check, no retry or conflict, no accounting: the least any ingest that lays its data out by day costs.
 */
async function dayCopy(file: string, work: string, o: Options): Promise<{ rows: number; detail: string }> {
  return duckdbAlone(work, o, async (engine) => {
    const source = file.endsWith('.parquet')
      ? `read_parquet(${sqlText(file)})`
      : `read_csv(${sqlText(file)}, header = true, types = {${TYPED_COLUMNS}})`;
    const out = join(work, 'by-day');
    await engine.query(
      `COPY (SELECT *, CAST(CAST(transaction_date AS DATE) AS VARCHAR) AS dt FROM ${source})
     TO ${sqlText(out)} (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt))`,
    );
    const [r] = await engine.query(
      `SELECT COUNT(*) AS n, COUNT(DISTINCT dt) AS days FROM read_parquet(${sqlText(join(out, '*', '*.parquet'))}, hive_partitioning = true)`,
    );
    return { rows: Number(r.n), detail: `${String(r.days)} days` };
  });
}

/** Logs each SQL engine call with its wall and CPU time (`--trace`), to see where ingest spends its time. */
function traced(engine: SqlEngine): SqlEngine {
  const timed =
    <A extends unknown[], R>(name: string, fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t = performance.now();
      const c = process.cpuUsage();
      try {
        return await fn(...args);
      } finally {
        const u = process.cpuUsage(c);
        const what = String(args[0]).replace(/\s+/g, ' ').slice(0, 90);
        log(
          `      ${name} ${secs(performance.now() - t)} wall ${secs((u.user + u.system) / 1000)} CPU  ${what}`,
        );
      }
    };
  return {
    name: engine.name,
    registerTable: timed('registerTable', (def: Parameters<SqlEngine['registerTable']>[0]) =>
      engine.registerTable({ ...def }),
    ),
    query: timed('query', (sql: string) => engine.query(sql)),
    stream: (sql, batchSize) => engine.stream(sql, batchSize),
    unload: timed('unload', (sql: string, prefix: string, opts?: { partitionBy?: string[] }) =>
      engine.unload(sql, prefix, opts),
    ),
    dropTable: timed('dropTable', (name: string) => engine.dropTable(name)),
  };
}

/** The ingest use-case over a fresh data directory holding the file under raw/. */
async function runIngest(file: string, work: string, o: Options): Promise<{ rows: number; detail: string }> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  // Peak RSS so far, sampled, so each progress line shows which phase needs the memory.
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 100);
  const raw = join(work, 'raw', basename(file));
  await mkdir(join(work, 'raw'), { recursive: true });
  // A hard link when possible: the input is not copied, so only ingest's own work is measured.
  await link(file, raw).catch(() => copyFile(file, raw));
  const engine = await openBenchEngine(work, o);
  const pool = o.workers[0] > 1 ? new CsvChunkPool(o.workers[0], o.csvChunkBytes) : null;
  try {
    const result = await ingest(
      {
        objectStore: new LocalObjectStore({ root: work }),
        sqlEngine: o.trace ? traced(engine) : engine,
        tmpDir: work,
        curatedChunkRows: o.chunkRows ?? curatedChunkRowsFor(o.memoryLimit),
        ...(pool ? { csvChunks: pool } : {}),
        onProgress: (m) => {
          const c = process.cpuUsage(cpu);
          peak = Math.max(peak, process.memoryUsage.rss());
          log(
            `    ${secs(performance.now() - started)} wall ${secs((c.user + c.system) / 1000)} CPU ${mb(peak)} peak  ${m}`,
          );
          peak = 0;
        },
      },
      { runId: 'bench', sources: [`raw/${basename(file)}`] },
    );
    const t = result.totals;
    log(`    ${secs(performance.now() - started)} wall, ${mb(peak)} peak since the last step: done`);
    return {
      rows: t.read,
      detail: `accepted ${fmt(t.accepted)}, duplicates ${fmt(t.duplicates)}, rejected ${fmt(t.rejected)}`,
    };
  } finally {
    clearInterval(sampler);
    await pool?.close();
    await engine.close();
  }
}

/** Runs one measurement in a fresh process (same loader and flags) and reads its report line. */
function measure(phase: Phase, file: string, work: string, argv: string[]): Measurement {
  const load = loadavg()[0];
  return { ...measureInChild(phase, [...argv, '--child', phase, '--file', file, '--work', work]), load };
}

async function child(phase: Phase, file: string, work: string, o: Options): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const run = {
      'bare-read': bareRead,
      'full-read': fullRead,
      'checked-read': checkedRead,
      'bare-copy': bareCopy,
      'day-copy': dayCopy,
      ingest: runIngest,
    }[phase];
    await reportFromChild(() => run(file, work, o));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = readOptions(argv);
  if (o.child) {
    if (!o.file || !o.work) throw new Error('--child needs --file and --work');
    await child(o.child, o.file, o.work, o);
    return;
  }
  const passOn = [
    ...(o.threads ? ['--threads', String(o.threads)] : []),
    '--memory-limit',
    o.memoryLimit,
    ...(o.chunkRows ? ['--chunk-rows', String(o.chunkRows)] : []),
    ...(o.csvChunkBytes ? ['--csv-chunk-bytes', String(o.csvChunkBytes)] : []),
    ...(o.trace ? ['--trace'] : []),
  ];
  log(
    `bench:ingest — DuckDB threads ${o.threads ?? 'default (all cores)'}, memory_limit ${o.memoryLimit}, ` +
      `data under ${o.dir}, ${(await readFile('/proc/cpuinfo', 'utf-8').catch(() => '')).match(/^processor/gm)?.length ?? '?'} CPUs`,
  );
  const cases: { label: string; rows?: number; files: Partial<Record<Format, string>> }[] = [];
  if (o.input) cases.push({ label: basename(o.input), files: { csv: o.input } });
  else {
    for (const rows of o.rows) {
      log(`\npreparing ${fmt(rows)} rows`);
      const files = await prepare(join(o.dir, `rows-${rows}`), rows, o);
      cases.push({ label: `${fmt(rows)} rows`, rows, files });
    }
  }
  const table = [
    '| input | format | run | wall | rows/s | CPU | peak RSS | load | × bare read (wall) | × full read (wall) | × bare copy (wall) | × day copy (wall) |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const c of cases) {
    for (const format of o.formats) {
      const file = c.files[format];
      if (!file) continue;
      log(`\n${c.label}, ${format}`);
      const work = join(o.dir, 'work');
      const phases: Phase[] = o.skipCopy
        ? ['bare-read', 'full-read', 'checked-read', 'ingest']
        : ['bare-read', 'full-read', 'checked-read', 'bare-copy', 'day-copy', 'ingest'];
      const results = new Map<string, Measurement>();
      for (const phase of phases) {
        // Ingest once per --workers value (CSV; Parquet is read by the engine, workers or not).
        const runs: { label: string; argv: string[] }[] =
          phase !== 'ingest'
            ? [{ label: phase, argv: passOn }]
            : (format === 'csv' ? o.workers : o.workers.slice(0, 1)).map((w) => ({
                label: format === 'csv' && o.workers.length > 1 ? `ingest ×${w}` : 'ingest',
                argv: [...passOn, '--workers', String(w)],
              }));
        for (const { label, argv } of runs) {
          const m = measure(phase, file, work, argv);
          results.set(label, m);
          log(
            `  ${label.padEnd(9)} ${secs(m.wallMs)} wall, ${secs(m.cpuMs)} CPU, peak RSS ${m.maxRssMb.toFixed(0)} MB, load ${m.load.toFixed(1)}${m.detail ? ` (${m.detail})` : ''}`,
          );
        }
      }
      const read = results.get('bare-read')!;
      const full = results.get('full-read')!;
      const copy = results.get('bare-copy');
      const byDay = results.get('day-copy');
      const rows = read.rows;
      for (const [label, m] of results) {
        if (label.startsWith('ingest') && m.rows !== rows)
          throw new Error(`${label} read ${m.rows} rows, DuckDB counts ${rows}`);
      }
      for (const [phase, m] of results) {
        table.push(
          `| ${c.label} | ${format} | ${phase} | ${secs(m.wallMs)} | ${fmt(Math.round(rows / (m.wallMs / 1000)))} | ${secs(m.cpuMs)} | ` +
            `${m.maxRssMb.toFixed(0)} MB | ${m.load.toFixed(1)} | ${(m.wallMs / read.wallMs).toFixed(1)}× | ${(m.wallMs / full.wallMs).toFixed(1)}× | ${copy ? `${(m.wallMs / copy.wallMs).toFixed(1)}×` : ''} | ${byDay ? `${(m.wallMs / byDay.wallMs).toFixed(1)}×` : ''} |`,
        );
      }
    }
  }
  process.stdout.write('\n' + table.join('\n') + '\n');
}

main().catch((error: unknown) => {
  log(`bench:ingest failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
