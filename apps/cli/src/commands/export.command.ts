import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ALERT_COLUMNS, type Alert } from '@splitwatch/core';
import { withAdapters, type StoreOptions } from './context';

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One alert as a CSV line of the alert contract, `transaction_ids` `;`-separated. */
function csvLine(a: Alert): string {
  return ALERT_COLUMNS.map((c) => csvCell(c === 'transaction_ids' ? a.transaction_ids.join(';') : a[c])).join(',');
}

/** The alert contract as CSV: one row per alert, `transaction_ids` `;`-separated. */
export function alertsToCsv(alerts: Alert[]): string {
  return [ALERT_COLUMNS.join(','), ...alerts.map(csvLine)].join('\n') + '\n';
}

/** Alerts read from the store per page: the export's memory stays bounded whatever the store holds. */
export const EXPORT_PAGE_ALERTS = 10_000;

/**
 * `splitwatch alerts export`: every alert in the results store (or one run's) to a CSV file, in the listing's order
 * (score descending, then alert_id), read a page at a time (ResultsStore.forEachAlertPage) and written as it comes. The file appears complete or
 * not at all (written beside it, then renamed).
 */
export async function exportAlertsCommand(
  opts: StoreOptions & { out: string; runId?: string; pageSize?: number },
  log: (s: string) => void = console.log,
): Promise<number> {
  return withAdapters(opts, async (a) => {
    const store = await a.resultsStore();
    await store.ensureSchema();
    const out = resolve(opts.out);
    await mkdir(dirname(out), { recursive: true });
    const partial = `${out}.partial`;
    let count = 0;
    try {
      const file = await open(partial, 'w');
      try {
        await file.write(ALERT_COLUMNS.join(',') + '\n');
        count = await store.forEachAlertPage({ runId: opts.runId }, opts.pageSize ?? EXPORT_PAGE_ALERTS, async (page) => {
          await file.write(page.map((alert) => csvLine(alert) + '\n').join(''));
        });
      } finally {
        await file.close();
      }
      await rename(partial, out);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    log(`${count} alert(s) written to ${out}`);
    return count;
  });
}
