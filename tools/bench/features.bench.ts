/**
 * Feature-builder benchmark: `npm run bench:features [-- --rows 1000000,5000000] [--threads N]
 * [--memory-limit 12GB] [--window-hours 24] [--dir DIR] [--fresh]`.
 *
 * For each size: a synthetic log with the real extract's sparsity (libs/synth, ~7.2 rows per user over 334 days)
 * is written straight to curated Parquet with DuckDB (ingest's validation is not what is measured), then two
 * measurements run, each in a child process of its own so that peak RSS is per measurement:
 * - `reference`: one hand-written DuckDB query, COUNT/SUM/STDDEV over RANGE 24 h on (account, direction),
 *   curated Parquet in, Parquet out;
 * - `features`: buildFeatures (the shared Athena/DuckDB SQL: three keys, every feature), Parquet in and out.
 * Data is kept under --dir (default $TMPDIR/splitwatch-bench) and reused by later runs unless --fresh.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDbSqlEngine, LocalObjectStore } from '@splitwatch/adapters-local';
import { resolveConfig } from '@splitwatch/core';
import { synthesize } from '@splitwatch/synth';
import { buildFeatures } from '@splitwatch/use-cases';

/** Rows per user in the real extract (21,516,918 rows over ~2.99M users and 334 days). */
const ROWS_PER_USER = 21_516_918 / 2_990_000;
const REFERENCE_PREFIX = 'bench/reference/';

interface Options {
  rows: number[];
  dir: string;
  threads?: number;
  memoryLimit?: string;
  windowHours: number;
  fresh: boolean;
}

interface Measurement {
  wallMs: number;
  /** User + system CPU of the whole process (DuckDB's threads included): steadier than wall time on a busy machine. */
  cpuMs: number;
  maxRssMb: number;
  rows: number;
}

function readOptions(argv: string[]): Options & { child?: string; root?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000,5000000' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench') },
      threads: { type: 'string' },
      'memory-limit': { type: 'string' },
      'window-hours': { type: 'string', default: '24' },
      fresh: { type: 'boolean', default: false },
      child: { type: 'string' },
      root: { type: 'string' },
    },
  });
  const rows = values.rows.split(',').map((r) => Number(r.replace(/_/g, '')));
  if (rows.some((r) => !Number.isInteger(r) || r < 1000))
    throw new Error(`--rows must be integers ≥ 1000, got ${values.rows}`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads > 0))
    throw new Error(`--threads must be a positive integer`);
  const windowHours = Number(values['window-hours']);
  if (!(windowHours > 0)) throw new Error(`--window-hours must be positive, got ${values['window-hours']}`);
  return {
    rows,
    dir: values.dir,
    threads,
    memoryLimit: values['memory-limit'],
    windowHours,
    fresh: values.fresh,
    child: values.child,
    root: values.root,
  };
}

function openEngine(root: string, o: Pick<Options, 'threads' | 'memoryLimit'>): Promise<DuckDbSqlEngine> {
  return DuckDbSqlEngine.open({
    root,
    threads: o.threads,
    memoryLimit: o.memoryLimit,
    tempDirectory: join(root, '.duckdb-spill'),
  });
}

/** Synthesises about `rows` transactions and writes them as curated Parquet under `<sizeDir>/data/`. */
async function prepare(sizeDir: string, rows: number, o: Options): Promise<number> {
  const ready = join(sizeDir, 'READY.json');
  if (!o.fresh && existsSync(ready))
    return (JSON.parse(await readFile(ready, 'utf-8')) as { rows: number }).rows;
  await rm(sizeDir, { recursive: true, force: true });
  const synthDir = join(sizeDir, 'synth');
  const root = join(sizeDir, 'data');
  await mkdir(root, { recursive: true });
  let t = Date.now();
  const summary = await synthesize(
    { users: Math.max(1, Math.round(rows / ROWS_PER_USER)), days: 334, seed: 2021 },
    synthDir,
  );
  log(`  synthesised ${fmt(summary.rows)} rows in ${secs(Date.now() - t)}`);
  t = Date.now();
  const engine = await openEngine(root, o);
  try {
    const csv = summary.files.transactions.replace(/'/g, "''");
    // Bench-only DuckDB SQL: the curated layout ingest writes, retries (same _id) reduced to their first row.
    await engine.unload(
      `SELECT tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount,
              transaction_type, 'raw/bench.csv' AS source_key, source_line, CAST(CAST(transaction_date AS DATE) AS VARCHAR) AS dt
       FROM (
         SELECT "_id" AS tx_id, merchant_id, subsidiary, CAST(transaction_date AS TIMESTAMP) AS transaction_date,
                account_number, user_id, CAST(transaction_amount AS DECIMAL(24,8)) AS transaction_amount,
                transaction_type, row_number() OVER () + 1 AS source_line
         FROM read_csv('${csv}', header = true, all_varchar = true)
       )
       QUALIFY row_number() OVER (PARTITION BY tx_id ORDER BY transaction_date, source_line) = 1`,
      'curated/transactions/',
      { partitionBy: ['dt'] },
    );
    const [{ n }] = (await engine.query(
      `SELECT COUNT(*) AS n FROM read_parquet('${root}/curated/transactions/**/*.parquet')`,
    )) as {
      n: number;
    }[];
    log(`  curated ${fmt(n)} rows (Parquet by day) in ${secs(Date.now() - t)}`);
    await rm(synthDir, { recursive: true, force: true });
    await writeFile(ready, JSON.stringify({ rows: n }));
    return n;
  } finally {
    await engine.close();
  }
}

/** The hand-written comparison query: one window on the account key, Parquet in and out. */
async function runReference(root: string, o: Options): Promise<number> {
  await rm(join(root, REFERENCE_PREFIX), { recursive: true, force: true });
  const engine = await openEngine(root, o);
  try {
    await engine.unload(
      `SELECT tx_id, account_number, transaction_type, transaction_date, transaction_amount,
              COUNT(*) OVER w AS n_tx, SUM(transaction_amount) OVER w AS sum_amount,
              STDDEV_SAMP(CAST(transaction_amount AS DOUBLE)) OVER w AS std_amount
       FROM read_parquet('${root}/curated/transactions/**/*.parquet')
       WINDOW w AS (PARTITION BY account_number, transaction_type ORDER BY transaction_date
                    RANGE BETWEEN INTERVAL ${o.windowHours} HOURS PRECEDING AND CURRENT ROW)`,
      REFERENCE_PREFIX,
    );
    const [{ n }] = (await engine.query(
      `SELECT COUNT(*) AS n FROM read_parquet('${root}/${REFERENCE_PREFIX}*.parquet')`,
    )) as {
      n: number;
    }[];
    return Number(n);
  } finally {
    await engine.close();
  }
}

async function runFeatures(root: string, o: Options): Promise<number> {
  const engine = await openEngine(root, o);
  try {
    const result = await buildFeatures(
      { objectStore: new LocalObjectStore({ root }), sqlEngine: engine },
      { runId: 'bench', config: resolveConfig({ windowHours: o.windowHours }) },
    );
    return result.rows;
  } finally {
    await engine.close();
  }
}

/** Runs one measurement in a fresh process (same loader and flags) and reads its report line. */
function measure(phase: 'reference' | 'features', root: string, argv: string[]): Measurement {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, process.argv[1], ...argv, '--child', phase, '--root', root],
    { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
  );
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{')) {
    throw new Error(`${phase} measurement failed (exit ${child.status}): ${child.stdout}`);
  }
  return JSON.parse(line) as Measurement;
}

async function child(phase: string, root: string, o: Options): Promise<void> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const rows = phase === 'reference' ? await runReference(root, o) : await runFeatures(root, o);
  const wallMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    JSON.stringify({ wallMs, cpuMs: (user + system) / 1000, maxRssMb, rows } satisfies Measurement) + '\n',
  );
}

const log = (s: string) => process.stderr.write(s + '\n');
const fmt = (n: number) => n.toLocaleString('en-US');
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const o = readOptions(argv);
  if (o.child) {
    if (!o.root) throw new Error('--child needs --root');
    await child(o.child, o.root, o);
    return;
  }
  const passOn = [
    ...(o.threads ? ['--threads', String(o.threads)] : []),
    ...(o.memoryLimit ? ['--memory-limit', o.memoryLimit] : []),
    '--window-hours',
    String(o.windowHours),
  ];
  log(
    `bench:features — window ${o.windowHours} h, DuckDB threads ${o.threads ?? 'default'}, ` +
      `memory_limit ${o.memoryLimit ?? 'default (80% of RAM)'}, data under ${o.dir}`,
  );
  const table: string[] = [
    '| rows | query | wall | rows/s | CPU | peak RSS |',
    '|---:|---|---:|---:|---:|---:|',
  ];
  for (const target of o.rows) {
    log(`\n${fmt(target)} rows`);
    const sizeDir = join(o.dir, `rows-${target}`);
    const rows = await prepare(sizeDir, target, o);
    const root = join(sizeDir, 'data');
    const ref = measure('reference', root, passOn);
    log(
      `  reference query: ${secs(ref.wallMs)} wall, ${secs(ref.cpuMs)} CPU, peak RSS ${ref.maxRssMb.toFixed(0)} MB`,
    );
    const feat = measure('features', root, passOn);
    log(
      `  buildFeatures:   ${secs(feat.wallMs)} wall, ${secs(feat.cpuMs)} CPU, peak RSS ${feat.maxRssMb.toFixed(0)} MB ` +
        `(${(feat.wallMs / ref.wallMs).toFixed(2)}× the reference's wall time, ${(feat.cpuMs / ref.cpuMs).toFixed(2)}× its CPU)`,
    );
    if (feat.rows !== rows || ref.rows !== rows)
      throw new Error(`row counts differ: curated ${rows}, reference ${ref.rows}, features ${feat.rows}`);
    for (const [name, m] of [
      ['reference (1 key, 3 aggregates)', ref],
      ['buildFeatures (3 keys, all features)', feat],
    ] as const) {
      table.push(
        `| ${fmt(rows)} | ${name} | ${secs(m.wallMs)} | ${fmt(Math.round(rows / (m.wallMs / 1000)))} | ${secs(m.cpuMs)} | ${m.maxRssMb.toFixed(0)} MB |`,
      );
    }
    table.push(
      `| ${fmt(rows)} | ratio features / reference | ${(feat.wallMs / ref.wallMs).toFixed(2)}× | | ${(feat.cpuMs / ref.cpuMs).toFixed(2)}× | |`,
    );
  }
  process.stdout.write('\n' + table.join('\n') + '\n');
}

main().catch((error: unknown) => {
  log(`bench:features failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
