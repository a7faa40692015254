import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Alert } from '@splitwatch/core';
import { PostgresResultsStore } from '@splitwatch/adapters-local';
import { alertsToCsv, exportAlertsCommand } from '../src/commands/export.command';

const alert = (i: number, over: Partial<Alert> = {}): Alert => ({
  alert_id: `a${String(i).padStart(3, '0')}`,
  run_id: i % 2 === 0 ? 'run-1' : 'run-2',
  method: 'rule:split',
  entity_type: 'account',
  user_id: `u${i}`,
  account_number: `acc${i}`,
  merchant_id: i % 3 === 0 ? null : 'm1',
  direction: 'DEBITO',
  window_start: '2021-01-01 09:00:00',
  window_end: '2021-01-01 10:30:00',
  n_tx: 2,
  total_amount: '120.50000000',
  // Ties on the score: the listing's order breaks them by alert_id, pages must not lose or repeat any.
  score: Math.floor(i / 3),
  threshold: 0,
  reasons: i === 4 ? 'a "quoted", multi\nline reason' : `reason ${i}`,
  transaction_ids: [`t${i}a`, `t${i}b`],
  ...over,
});

describe('splitwatch alerts export', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'splitwatch-export-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('writes every alert in the listing’s order, a page at a time, as one CSV of the alert contract', async () => {
    const store = await PostgresResultsStore.openPglite(join(dataDir, 'pglite'));
    await store.ensureSchema();
    await store.upsertAlerts(Array.from({ length: 11 }, (_, i) => alert(i)));
    const listed = await store.listAlerts();
    const ofRun1 = await store.listAlerts({ runId: 'run-1' });
    await store.close();
    const out = join(dataDir, 'out', 'alerts.csv');

    const count = await exportAlertsCommand({ dataDir, out, pageSize: 2 }, () => undefined);

    expect(count).toBe(11);
    expect(await readFile(out, 'utf8')).toBe(alertsToCsv(listed));
    await expect(stat(`${out}.partial`)).rejects.toThrow();
    // One run's alerts only, pages larger than the whole.
    expect(await exportAlertsCommand({ dataDir, out, runId: 'run-1', pageSize: 100 }, () => undefined)).toBe(6);
    expect(await readFile(out, 'utf8')).toBe(alertsToCsv(ofRun1));
  });
});
