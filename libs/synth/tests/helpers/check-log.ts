import type { SynthSummary } from '../../src';
import { AMOUNT, HEX32, TIMESTAMP, readCsv, toE8, toSeconds, type Record } from './read-log';

export interface Log {
  tx: Record[];
  txHeader: string[];
  labels: Record[];
  episodes: Record[];
}

export async function loadLog(summary: SynthSummary): Promise<Log> {
  const [tx, labels, episodes] = await Promise.all([
    readCsv(summary.files.transactions),
    readCsv(summary.files.labels),
    readCsv(summary.files.episodes),
  ]);
  expect(labels.header).toEqual(['_id', 'episode_id', 'scenario']);
  expect(episodes.header).toEqual([
    'episode_id',
    'scenario',
    'user_id',
    'account_number',
    'merchant_id',
    'direction',
    'n_parts',
    'total_amount',
    'original_amount',
    'first_tx',
    'last_tx',
    'pace',
    'split_kind',
  ]);
  return { tx: tx.rows, txHeader: tx.header, labels: labels.rows, episodes: episodes.rows };
}

/** Every row follows the input contract. Collects the first few failures so a report is readable. */
export function contractViolations(rows: Record[]): string[] {
  const bad: string[] = [];
  rows.forEach((r, i) => {
    const problems = [
      ...['_id', 'merchant_id', 'subsidiary', 'account_number', 'user_id'].filter((c) => !HEX32.test(r[c])),
      TIMESTAMP.test(r.transaction_date) &&
      new Date(r.transaction_date.replace(' ', 'T') + 'Z').toISOString().slice(0, 19).replace('T', ' ') ===
        r.transaction_date
        ? []
        : ['transaction_date'],
      AMOUNT.test(r.transaction_amount) && toE8(r.transaction_amount) > 0n ? [] : ['transaction_amount'],
      r.transaction_type === 'DEBITO' || r.transaction_type === 'CREDITO' ? [] : ['transaction_type'],
    ].flat();
    if (problems.length > 0 && bad.length < 5)
      bad.push(`row ${i + 1}: ${problems.join(', ')} in ${JSON.stringify(r)}`);
  });
  return bad;
}

/** Rows sharing an `_id` are retries: identical but for a timestamp at most 1 s later. Returns the extra rows. */
export function checkRetries(rows: Record[]): number {
  const byId = new Map<string, Record[]>();
  for (const r of rows) byId.set(r._id, [...(byId.get(r._id) ?? []), r]);
  let extra = 0;
  for (const group of byId.values()) {
    if (group.length === 1) continue;
    extra += group.length - 1;
    const [first, ...rest] = group;
    for (const r of rest) {
      expect({ ...r, transaction_date: '' }).toEqual({ ...first, transaction_date: '' });
      expect(Math.abs(toSeconds(r.transaction_date) - toSeconds(first.transaction_date))).toBeLessThanOrEqual(
        1,
      );
    }
  }
  return extra;
}

const UNIT_E8 = 594_445_501n;

/** Labels point at real rows; each episode's parts are 2–10 rows on one account and direction within 24 h that add
 *  up exactly to its total. */
export function checkEpisodes(log: Log): void {
  const first = new Map<string, Record>();
  for (const r of log.tx) if (!first.has(r._id)) first.set(r._id, r);
  const parts = new Map<string, Record[]>();
  const labelled = new Set<string>();
  for (const l of log.labels) {
    expect(first.has(l._id)).toBe(true);
    expect(labelled.has(l._id)).toBe(false);
    labelled.add(l._id);
    parts.set(l.episode_id, [...(parts.get(l.episode_id) ?? []), first.get(l._id) as Record]);
  }
  expect(new Set(parts.keys())).toEqual(new Set(log.episodes.map((e) => e.episode_id)));

  for (const e of log.episodes) {
    const rows = (parts.get(e.episode_id) ?? []).sort(
      (a, b) => toSeconds(a.transaction_date) - toSeconds(b.transaction_date),
    );
    const n = Number(e.n_parts);
    expect(rows).toHaveLength(n);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(n).toBeLessThanOrEqual(10);

    const [kind, pace, direction, subs] = e.scenario.split('|');
    expect([kind, pace]).toEqual([e.split_kind, e.pace]);
    expect(direction).toBe(e.direction === 'DEBITO' ? 'debit' : 'credit');
    expect(
      log.labels.filter((l) => l.episode_id === e.episode_id).every((l) => l.scenario === e.scenario),
    ).toBe(true);

    for (const r of rows) {
      expect(r.account_number).toBe(e.account_number);
      expect(r.user_id).toBe(e.user_id);
      expect(r.merchant_id).toBe(e.merchant_id);
      expect(r.transaction_type).toBe(e.direction);
    }
    expect(new Set(rows.map((r) => r.subsidiary)).size === 1).toBe(subs === 'same-sub');

    const amounts = rows.map((r) => toE8(r.transaction_amount));
    const total = amounts.reduce((a, b) => a + b, 0n);
    expect(total).toBe(toE8(e.total_amount));
    const shortfall = toE8(e.original_amount) - total;
    expect(shortfall >= 0n && shortfall < BigInt(n) * UNIT_E8).toBe(true);
    if (kind === 'equal') expect(new Set(amounts).size).toBe(1);
    if (kind === 'cap-first') expect(amounts.every((a) => a <= amounts[0])).toBe(true);

    expect(rows[0].transaction_date).toBe(e.first_tx);
    expect(rows[n - 1].transaction_date).toBe(e.last_tx);
    expect(toSeconds(e.last_tx) - toSeconds(e.first_tx)).toBeLessThan(24 * 3600);
  }
}

/** The summary counts what the files hold. */
export function checkSummary(log: Log, summary: SynthSummary): void {
  expect(summary.rows).toBe(log.tx.length);
  expect(summary.users).toBe(new Set(log.tx.map((r) => r.user_id)).size);
  expect(summary.accounts).toBe(new Set(log.tx.map((r) => r.account_number)).size);
  expect(summary.episodes).toBe(log.episodes.length);
  expect(summary.labelledTransactions).toBe(log.labels.length);
  expect(summary.duplicates).toBe(checkRetries(log.tx));
}
