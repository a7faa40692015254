/**
 * What the benchmark scripts share: the real extract's sparsity, a DuckDB engine that spills rather than dies, and
 * measuring one phase in a child process of its own (so its peak RSS, DuckDB's native memory included, is its own).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DuckDbSqlEngine } from '@splitwatch/adapters-local';

/** Rows per user in the real extract (21,516,918 rows over ~2.99M users and 334 days). */
export const ROWS_PER_USER = 21_516_918 / 2_990_000;

/** One phase's figures, as the child reports them. */
export interface ChildMeasurement {
  wallMs: number;
  /** User + system CPU of the whole process (DuckDB's threads included): steadier than wall time on a busy machine. */
  cpuMs: number;
  maxRssMb: number;
  rows: number;
  detail?: string;
}

/** DuckDB over `root` with the bench's threads and memory limit, spilling to `<root>/.duckdb-spill`. */
export function openBenchEngine(root: string, o: { threads?: number; memoryLimit?: string }): Promise<DuckDbSqlEngine> {
  return DuckDbSqlEngine.open({
    root,
    threads: o.threads,
    memoryLimit: o.memoryLimit,
    tempDirectory: join(root, '.duckdb-spill'),
  });
}

/**
 * Parent side: runs this script again with `argv` (which must select the child role) and returns the measurement
 * the child printed as its last stdout line.
 */
export function measureInChild(label: string, argv: string[]): ChildMeasurement {
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    encoding: 'utf-8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  const line = child.stdout.trim().split('\n').pop() ?? '';
  if (child.status !== 0 || !line.startsWith('{'))
    throw new Error(`${label} measurement failed (exit ${child.status}): ${child.stdout}`);
  return JSON.parse(line) as ChildMeasurement;
}

/** Child side: times `run` (wall, CPU, peak RSS) and prints the measurement for {@link measureInChild}. */
export async function reportFromChild(run: () => Promise<{ rows: number; detail?: string }>): Promise<void> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  const { rows, detail } = await run();
  const wallMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  const m: ChildMeasurement = { wallMs, cpuMs: (user + system) / 1000, maxRssMb, rows, ...(detail ? { detail } : {}) };
  process.stdout.write(JSON.stringify(m) + '\n');
}

export const log = (s: string) => process.stderr.write(s + '\n');
export const fmt = (n: number) => n.toLocaleString('en-US');
/** A share as a percentage with one decimal; — for none (e.g. a recall never reached). */
export const pct = (v: number | null) => (v === null ? '—' : `${(100 * v).toFixed(1)}%`);
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
