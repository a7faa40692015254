import { copyFile, mkdir, readFile, readdir, stat, utimes } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { resolveConfig } from '@splitwatch/core';
import { newRunId, type PipelineState } from '@splitwatch/handlers';
import { resolveColumnMap, type ColumnMap } from '@splitwatch/use-cases';
import { defaultDetectWorkers } from '../detect-pool';
import { runPipelineLocally } from '../local-runner';
import { PIPELINE_ASL } from '../paths';
import { withAdapters, type StoreOptions } from './context';

export interface RunOptions extends StoreOptions {
  input?: string;
  /** Keys of ingested files whose curated rows to withdraw (see ingest's `withdraw`). */
  withdraw?: string[];
  config?: string;
  /** JSON file: contract column → the column's name in the input files (logs with another schema). */
  columnMap?: string;
  /** Read every input file again, even those curated before from the same content. */
  reingest?: boolean;
  quiet?: boolean;
  /** Worker threads for Detect's account slices (default: one per core, at most 8; 1 runs them in this thread). */
  workers?: number;
}

const SUPPORTED = /\.(csv|csv\.gz|parquet)$/i;

/**
 * Copies the input file(s) into `<dataDir>/raw/` (the same key layout as the S3 bucket) and returns their keys. A
 * file already there with the same size and modification time is not copied again: the copy keeps the input's
 * modification time, so an unchanged input keeps its object version and ingest skips it without reading it.
 */
export async function stageInput(input: string, dataDir: string): Promise<string[]> {
  const abs = resolve(input);
  const info = await stat(abs).catch(() => {
    throw new Error(`--input ${input}: no such file or directory`);
  });
  const files: string[] = [];
  if (info.isDirectory()) {
    for (const e of await readdir(abs, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && SUPPORTED.test(e.name)) files.push(join(e.parentPath, e.name));
    }
    if (files.length === 0) throw new Error(`--input ${input}: no .csv, .csv.gz or .parquet files in this directory`);
  } else {
    if (!SUPPORTED.test(abs)) throw new Error(`--input ${input}: expected a .csv, .csv.gz or .parquet file`);
    files.push(abs);
  }
  const keys: string[] = [];
  for (const f of files.sort()) {
    const rel = info.isDirectory() ? `${basename(abs)}/${relative(abs, f).split('\\').join('/')}` : basename(f);
    const key = `raw/${rel}`;
    const dest = resolve(dataDir, key);
    const [from, to] = await Promise.all([stat(f), stat(dest).catch(() => null)]);
    // utimes sets whole microseconds at best (and a Date would round to milliseconds): equal within 1 ms.
    if (!to || to.size !== from.size || Math.abs(to.mtimeMs - from.mtimeMs) >= 1) {
      await mkdir(resolve(dest, '..'), { recursive: true });
      await copyFile(f, dest);
      await utimes(dest, from.atimeMs / 1000, from.mtimeMs / 1000);
    }
    keys.push(key);
  }
  return keys;
}

/** Reads and checks `--column-map FILE` before any work, so a typo fails at once with the file named. */
async function readColumnMap(file: string): Promise<ColumnMap | undefined> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`--column-map ${file}: ${(err as Error).message}`);
  }
  const map = resolveColumnMap(json, `--column-map ${file}`);
  return Object.keys(map).length > 0 ? map : undefined;
}

export interface RunSummary {
  runId: string;
  dataDir: string;
  output: PipelineState;
  stepSeconds: Record<string, number>;
  totalSeconds: number;
}

const fmt = (n: number) => n.toLocaleString('en-US');

/** `splitwatch run`: stage the input, execute the pipeline ASL locally, print a summary. */
export async function runCommand(opts: RunOptions, log: (s: string) => void = console.log): Promise<RunSummary> {
  const config = opts.config ? JSON.parse(await readFile(opts.config, 'utf8')) : undefined;
  const columnMap = opts.columnMap ? await readColumnMap(opts.columnMap) : undefined;
  resolveConfig(config); // fail before any work on a bad config file
  if (opts.input === undefined && !opts.withdraw?.length) throw new Error('Give --input <path> (or --withdraw <key...>)');
  return withAdapters(opts, async (adapters, cfg) => {
    const started = Date.now();
    const workers = opts.workers ?? defaultDetectWorkers();
    const sources = opts.input === undefined ? [] : await stageInput(opts.input, cfg.dataDir);
    const runId = newRunId();
    log(
      `splitwatch run ${runId}: ${sources.length} input file(s)` +
        (opts.withdraw?.length ? `, ${opts.withdraw.length} to withdraw` : '') +
        ` → ${cfg.dataDir}`,
    );
    const entered = new Map<string, number>();
    const stepSeconds: Record<string, number> = {};
    const output = await runPipelineLocally({
      aslPath: PIPELINE_ASL,
      input: {
        runId,
        sources,
        ...(config ? { config } : {}),
        ...(columnMap ? { columnMap } : {}),
        ...(opts.reingest ? { reingest: true } : {}),
        ...(opts.withdraw?.length ? { withdraw: opts.withdraw } : {}),
      },
      adapters: async () => adapters,
      detectWorkers: { workers, adapters: cfg },
      ingestWorkers: workers,
      logger: () => undefined,
      onProgress: opts.quiet ? undefined : (m) => log(`    ${m}`),
      onState: (e) => {
        if (e.nested && e.event !== 'failed' && e.event !== 'retried') return;
        if (e.event === 'entered') {
          entered.set(e.state, e.at);
          if (!opts.quiet) log(`  ▶ ${e.state}`);
        } else if (e.event === 'exited') {
          const s = (e.at - (entered.get(e.state) ?? e.at)) / 1000;
          stepSeconds[e.state] = s;
          if (!opts.quiet) log(`  ✓ ${e.state} ${s.toFixed(1)} s`);
        } else if (e.event === 'retried') log(`  ↻ ${e.state} retrying`);
        else log(`  ✗ ${e.state} failed`);
      },
    });
    // A run refused because another holds the data set ends the execution without an error (see the ASL).
    if (output.ingest?.skipped) throw new Error(`Run ${runId} changed nothing: ${output.ingest.skipped}`);
    const totalSeconds = (Date.now() - started) / 1000;
    const t = output.ingest?.totals;
    const skippedWithdrawn = (output.ingest?.sources ?? []).filter((x) => x.status === 'withdrawn').length;
    log('');
    log('Summary');
    if (t) {
      log(
        `  rows read       ${fmt(t.read)} in ${t.files} file(s)` +
          (t.unchanged ? `; ${t.unchanged} file(s) unchanged since they were ingested, not read again` : '') +
          (skippedWithdrawn ? `; ${skippedWithdrawn} withdrawn file(s) skipped` : ''),
      );
      log(`  accepted        ${fmt(t.accepted)}`);
      log(`  duplicates      ${fmt(t.duplicates)} (retries of the same _id)`);
      log(`  rejected        ${fmt(t.rejected)}${t.rejected ? ` → ${cfg.dataDir}/quarantine/run=${runId}/` : ''}`);
    }
    for (const w of output.ingest?.withdrawn ?? []) {
      log(
        `  withdrawn       ${w.source}: ` +
          (w.status === 'withdrawn'
            ? `${w.rows === null ? 'its' : fmt(w.rows)} curated row(s) of run ${w.ingestedBy} removed`
            : `already withdrawn by run ${w.withdrawnBy}`),
      );
    }
    if (output.features) {
      const f = output.features;
      log(`  windows         ${fmt(f.rows)} (${fmt(f.multiTxWindows)} with ≥ 2 transactions)`);
      const how =
        f.mode === 'incremental'
          ? `incremental: ${fmt(f.recomputedRows)} transactions of the changed days' users recomputed (${f.reason})`
          : f.mode === 'unchanged'
            ? `unchanged: ${f.reason}`
            : `full build: ${f.reason}`;
      log(`  features        ${how}`);
    }
    const parts = output.detect ? (Array.isArray(output.detect) ? output.detect : [output.detect]) : [];
    if (output.detect) {
      const byMethod: Record<string, number> = {};
      for (const p of parts) for (const [m, n] of Object.entries(p.byMethod)) byMethod[m] = (byMethod[m] ?? 0) + n;
      const total = parts.reduce((a, p) => a + p.alerts, 0);
      const by = Object.entries(byMethod)
        .map(([m, n]) => `${m} ${n}`)
        .join(', ');
      log(
        `  alerts          ${fmt(total)}${by ? ` (${by})` : ''} from ${parts.length} account slice(s)` +
          (parts.length > 1 ? (workers > 1 ? ` on ${workers} worker threads` : ' in one thread') : ''),
      );
      const incremental = parts.filter((p) => p.mode === 'incremental');
      const rescored = parts.reduce((a, p) => a + (p.rescoredKeys ?? 0), 0);
      const carried = parts.reduce((a, p) => a + (p.carriedAlerts ?? 0), 0);
      const how =
        incremental.length === parts.length
          ? `incremental: ${fmt(rescored)} changed key(s) scored, ${fmt(carried)} alert(s) of the others carried over (${incremental[0]?.reason})`
          : incremental.length > 0
            ? `${incremental.length} of ${parts.length} slice(s) incremental: ${fmt(rescored)} key(s) scored, ${fmt(carried)} alert(s) carried over`
            : `every key scored (${fmt(rescored)}): ${parts[0]?.reason}`;
      log(`  detection       ${how}`);
    }
    if (output.sink) {
      const candidates = parts.reduce((a, p) => a + (p.splitCandidates ?? 0), 0);
      log(
        `  ensemble        ${fmt(output.sink.ensemble)} ranked alert(s) within the daily budget` +
          (candidates ? ` (also ranked: ${fmt(candidates)} split episode(s) just below the rule:split threshold)` : ''),
      );
      log(
        `  results store   ${fmt(output.sink.written)} alert(s) upserted into ${output.sink.store}` +
          (output.sink.carried ? `, ${fmt(output.sink.carried)} carried over` : '') +
          (output.sink.retired ? `, ${fmt(output.sink.retired)} of earlier runs no longer current retired` : ''),
      );
    }
    log(`  time            ${Object.entries(stepSeconds).map(([s, v]) => `${s} ${v.toFixed(1)} s`).join(', ')}; total ${totalSeconds.toFixed(1)} s`);
    if (output.report) log(`  report          ${cfg.dataDir}/${output.report.reportKey}`);
    log(`  audit trail     ${cfg.dataDir}/runs/${runId}/manifest.json`);
    return { runId, dataDir: cfg.dataDir, output, stepSeconds, totalSeconds };
  });
}
