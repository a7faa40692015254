import { registerFeatures, registerTransactions } from '@splitwatch/use-cases';
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
    const shown = rows.slice(0, opts.limit ?? 1000);
    const format = opts.format ?? 'table';
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
    return rows;
  });
}
