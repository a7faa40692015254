import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerTransactions } from '@splitwatch/use-cases';

export const HEADER = '_id,merchant_id,subsidiary,transaction_date,account_number,user_id,transaction_amount,transaction_type';

export interface Tx {
  id: string;
  account: string;
  date: string;
  amount: string;
  type?: string;
  merchant?: string;
  user?: string;
  subsidiary?: string;
}

export function csvOf(rows: Tx[], header = HEADER): string {
  return (
    header +
    '\n' +
    rows
      .map((r) =>
        [r.id, r.merchant ?? 'm1', r.subsidiary ?? 's1', r.date, r.account, r.user ?? `u-${r.account}`, r.amount, r.type ?? 'DEBITO'].join(','),
      )
      .join('\n') +
    '\n'
  );
}

/** A fresh data directory with the embedded object store and DuckDB engine over it. */
export async function localWorld() {
  // Loaded the way the handlers load it (lazily), as the module-boundary rule requires.
  const { DuckDbSqlEngine, LocalObjectStore } = await import('@splitwatch/adapters-local');
  const root = await mkdtemp(join(tmpdir(), 'splitwatch-test-'));
  const objectStore = new LocalObjectStore({ root });
  const sqlEngine = await DuckDbSqlEngine.open({ root, threads: 2 });
  return {
    root,
    objectStore,
    sqlEngine,
    tmpDir: tmpdir(),
    async dispose() {
      await sqlEngine.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` in a fresh world of its own and disposes of it afterwards. */
export async function inFreshWorld<T>(fn: (w: Awaited<ReturnType<typeof localWorld>>) => Promise<T>): Promise<T> {
  const w = await localWorld();
  try {
    return await fn(w);
  } finally {
    await w.dispose();
  }
}

/** `n` transactions of March `d`, 2021, one an hour from 08:00, on three accounts: ids `<prefix>-<i>`. */
export const marchDay = (d: number, n: number, prefix = `d${d}`): Tx[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    account: `acc${d}-${i % 3}`,
    date: `2021-03-${String(d).padStart(2, '0')} ${String(8 + i).padStart(2, '0')}:00:00`,
    amount: String(10 + i),
  }));

/** The `_id`s of the curated transactions, sorted. */
export async function curatedIds(w: Awaited<ReturnType<typeof localWorld>>): Promise<string[]> {
  await registerTransactions(w.sqlEngine);
  const rows = await w.sqlEngine.query('SELECT tx_id FROM transactions ORDER BY tx_id');
  return rows.map((r) => String(r.tx_id));
}
