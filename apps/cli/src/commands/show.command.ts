import type { Alert } from '@splitwatch/core';
import { memberTransactions, type MemberTransaction } from '@splitwatch/use-cases';
import { withAdapters, type StoreOptions } from './context';
import { printRows } from './query.command';

/** One alert as an analyst reads it: who, when, how much, every reason on a line of its own, and its members. */
export function describeAlert(a: Alert, members: ReadonlyMap<string, MemberTransaction>): string[] {
  const lines = [
    `alert ${a.alert_id} (${a.method}), score ${a.score} (threshold ${a.threshold}), written by run ${a.run_id}`,
    `  account ${a.account_number ?? '—'}, user ${a.user_id}, ${a.direction}, merchant ${a.merchant_id ?? '—'}`,
    `  ${a.n_tx} parts totalling ${a.total_amount}, ${a.window_start} → ${a.window_end}`,
    '  reasons:',
    ...a.reasons.split('; ').map((r) => `    ${r}`),
    '  transactions:',
  ];
  const rows = a.transaction_ids.map((id) => {
    const m = members.get(id);
    return m
      ? { time: m.transaction_date, amount: m.transaction_amount, merchant: m.merchant_id, branch: m.subsidiary, type: m.transaction_type, _id: id }
      : { time: '(not in the lake)', amount: '', merchant: '', branch: '', type: '', _id: id };
  });
  printRows(rows, 'table', Number.POSITIVE_INFINITY, (line) => lines.push(`    ${line}`));
  return lines;
}

/** `splitwatch alerts show <id...>`: the alerts of these ids with their member transactions from the lake. */
export async function showAlertsCommand(
  alertIds: string[],
  opts: StoreOptions & { format?: 'text' | 'json' },
  log: (s: string) => void = console.log,
): Promise<Alert[]> {
  return withAdapters(opts, async (a) => {
    const store = await a.resultsStore();
    await store.ensureSchema();
    const alerts = await store.listAlerts({ alertIds });
    const missing = alertIds.filter((id) => !alerts.some((x) => x.alert_id === id));
    if (missing.length) throw new Error(`No alert ${missing.join(', ')} in the results store (${store.name})`);
    const members = await memberTransactions(await a.sqlEngine(), alerts);
    if (opts.format === 'json') {
      log(JSON.stringify(alerts.map((x) => ({ ...x, members: x.transaction_ids.map((id) => members.get(id) ?? null) })), null, 2));
    } else {
      for (const x of alerts) for (const line of [...describeAlert(x, members), '']) log(line);
    }
    return alerts;
  });
}
