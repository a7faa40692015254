import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export type Record = { [column: string]: string };

/** Parses a CSV without quoting (none of the synthesised fields needs any) into header-keyed records. */
export function parseCsv(text: string): { header: string[]; rows: Record[] } {
  const lines = text.split('\n');
  expect(lines.pop()).toBe('');
  const header = lines[0].split(',');
  const rows = lines.slice(1).map((line) => {
    const cells = line.split(',');
    expect(cells).toHaveLength(header.length);
    return Object.fromEntries(header.map((h, i) => [h, cells[i]]));
  });
  return { header, rows };
}

export async function readCsv(path: string): Promise<{ header: string[]; rows: Record[] }> {
  const raw = await readFile(path);
  return parseCsv((path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('latin1'));
}

/** Exact 1e-8 count of an 8-decimal amount, independent of the library's own formatting. */
export function toE8(text: string): bigint {
  const m = /^(\d+)\.(\d{8})$/.exec(text);
  if (!m) throw new Error(`not an 8-decimal amount: ${text}`);
  return BigInt(m[1]) * 100_000_000n + BigInt(m[2]);
}

/** Seconds since the epoch of a zone-less `YYYY-MM-DD HH:MM:SS`, read as UTC so no zone can shift it. */
export function toSeconds(ts: string): number {
  return Date.parse(ts.replace(' ', 'T') + 'Z') / 1000;
}

/** A fresh temporary directory, removed by the returned cleanup. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'synth-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export const HEX32 = /^[0-9a-f]{32}$/;
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
export const AMOUNT = /^\d+\.\d{8}$/;
