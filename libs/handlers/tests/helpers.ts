import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
