import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ALERT_COLUMNS, type Alert } from '@splitwatch/core';
import { withAdapters, type StoreOptions } from './context';

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The alert contract as CSV: one row per alert, `transaction_ids` `;`-separated. */
export function alertsToCsv(alerts: Alert[]): string {
  const lines = [ALERT_COLUMNS.join(',')];
  for (const a of alerts) {
    lines.push(
      ALERT_COLUMNS.map((c) => csvCell(c === 'transaction_ids' ? a.transaction_ids.join(';') : a[c])).join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** `splitwatch alerts export`: every alert in the results store (or one run's) to a CSV file. */
export async function exportAlertsCommand(
  opts: StoreOptions & { out: string; runId?: string },
  log: (s: string) => void = console.log,
): Promise<number> {
  return withAdapters(opts, async (a) => {
    const store = await a.resultsStore();
    await store.ensureSchema();
    const alerts = await store.listAlerts(opts.runId ? { runId: opts.runId } : undefined);
    const out = resolve(opts.out);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, alertsToCsv(alerts));
    log(`${alerts.length} alert(s) written to ${out}`);
    return alerts.length;
  });
}
