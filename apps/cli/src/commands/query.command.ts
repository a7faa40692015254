import { listSources, registerFeatures, registerTransactions, type SourceListing } from '@splitwatch/use-cases';
import { withAdapters, type StoreOptions } from './context';

/** `splitwatch query`: ad-hoc SQL over the local lake (tables `transactions` and `features`), as analysts do in Athena. */
export async function queryCommand(
  sql: string,
  opts: StoreOptions & { format?: 'table' | 'csv' | 'json'; limit?: number },
  log: (s: string) => void = console.log,
): Promise<Record<string, unknown>[]> {
  return withAdapters(opts, async (a) => {
    const engine = await a.sqlEngine();
    await registerTransactions(engine);
    await registerFeatures(engine);
    const rows = await engine.query(sql);
    printRows(rows, opts.format ?? 'table', opts.limit ?? 1000, log);
    return rows;
  });
}

/** Rows as an aligned table (cells cut at 40 characters), CSV or JSON, at most `limit` of them. */
export function printRows(
  rows: Record<string, unknown>[],
  format: 'table' | 'csv' | 'json',
  limit: number,
  log: (s: string) => void,
): void {
  const shown = rows.slice(0, limit);
  if (format === 'json') log(JSON.stringify(shown, null, 2));
  else if (shown.length === 0) log('(no rows)');
  else {
    const cols = Object.keys(shown[0]);
    const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
    if (format === 'csv') {
      log(cols.join(','));
      for (const r of shown) log(cols.map((c) => cell(r[c])).join(','));
    } else {
      const widths = cols.map((c) => Math.min(40, Math.max(c.length, ...shown.map((r) => cell(r[c]).length))));
      const line = (vals: string[]) => vals.map((v, i) => v.slice(0, 40).padEnd(widths[i])).join('  ');
      log(line(cols));
      log(widths.map((w) => '-'.repeat(w)).join('  '));
      for (const r of shown) log(line(cols.map((c) => cell(r[c]))));
    }
    if (rows.length > shown.length) log(`… ${rows.length - shown.length} more row(s)`);
  }
}

/** `splitwatch sources`: every file ingested into the data directory, curated or withdrawn, with its accounting. */
export async function sourcesCommand(
  opts: StoreOptions & { format?: 'table' | 'csv' | 'json' },
  log: (s: string) => void = console.log,
): Promise<SourceListing[]> {
  return withAdapters(opts, async (a) => {
    const sources = await listSources(a.objectStore);
    printRows(sources as unknown as Record<string, unknown>[], opts.format ?? 'table', Number.POSITIVE_INFINITY, log);
    return sources;
  });
}
