import { SYNTH_PRESETS, synthesize } from '../src';
import { loadLog, type Log } from './helpers/check-log';
import { tempDir, toE8 } from './helpers/read-log';

const UNIT = 5.94445501;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function countBy<T>(xs: T[], key: (x: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(key(x), (m.get(key(x)) ?? 0) + 1);
  return m;
}

describe('synthesize small: distribution sanity against the real extract', () => {
  let log: Log;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    log = await loadLog(await synthesize(SYNTH_PRESETS.small, t.dir));
  });
  afterAll(() => cleanup());

  it('has about 80% debits', () => {
    const debit = log.tx.filter((r) => r.transaction_type === 'DEBITO').length / log.tx.length;

    expect(debit).toBeGreaterThan(0.75);
    expect(debit).toBeLessThan(0.85);
  });

  it('has a single transaction on most active user-days', () => {
    const perDay = countBy(log.tx, (r) => `${r.user_id} ${r.transaction_date.slice(0, 10)}`);

    const single = [...perDay.values()].filter((n) => n === 1).length / perDay.size;

    expect(single).toBeGreaterThanOrEqual(0.8);
  });

  it('has amount quantiles near the real ones, and smaller credits', () => {
    const amounts = (type?: string) =>
      log.tx
        .filter((r) => !type || r.transaction_type === type)
        .map((r) => Number(r.transaction_amount))
        .sort((a, b) => a - b);
    const all = amounts();

    expect(all[0]).toBe(UNIT);
    expect(quantile(all, 0.25)).toBeGreaterThan(20);
    expect(quantile(all, 0.25)).toBeLessThan(60);
    expect(quantile(all, 0.5)).toBeGreaterThan(70);
    expect(quantile(all, 0.5)).toBeLessThan(160);
    expect(quantile(all, 0.9)).toBeGreaterThan(400);
    expect(quantile(all, 0.9)).toBeLessThan(800);
    expect(quantile(all, 0.99)).toBeCloseTo(200 * UNIT, 0);
    expect(all.at(-1)).toBeLessThanOrEqual(778 * UNIT);
    expect(quantile(amounts('CREDITO'), 0.5)).toBeLessThan(quantile(amounts('DEBITO'), 0.5));
  });

  it('uses 3 merchants with an uneven mix and many subsidiaries with a long tail', () => {
    const merchants = [...countBy(log.tx, (r) => r.merchant_id).values()].sort((a, b) => b - a);
    const subs = [...countBy(log.tx, (r) => r.subsidiary).values()].sort((a, b) => b - a);

    expect(merchants).toHaveLength(3);
    expect(merchants[0] / log.tx.length).toBeCloseTo(0.7, 1);
    expect(subs.length).toBeGreaterThan(500);
    expect(subs[0]).toBeGreaterThan(20 * quantile(subs.slice().reverse(), 0.5));
  });

  it('piles per-account maxima on a few product caps', () => {
    const max = new Map<string, bigint>();
    for (const r of log.tx) {
      const v = toE8(r.transaction_amount);
      if (v > (max.get(r.account_number) ?? 0n)) max.set(r.account_number, v);
    }
    const top = [...countBy([...max.values()], String).entries()].sort((a, b) => b[1] - a[1]).slice(0, 2);

    expect(top.map(([v]) => BigInt(v) / 594_445_501n).sort()).toEqual([100n, 200n]);
  });

  it('contains unlabelled hard negatives: a one-unit credit burst and same-fare commuters', () => {
    const labelled = new Set(log.labels.map((l) => l._id));
    const unlabelled = log.tx.filter((r) => !labelled.has(r._id));
    const burst = countBy(
      unlabelled.filter(
        (r) => r.transaction_type === 'CREDITO' && toE8(r.transaction_amount) === 594_445_501n,
      ),
      (r) => `${r.account_number} ${r.merchant_id} ${r.transaction_date.slice(0, 10)}`,
    );
    const sameFare = countBy(
      unlabelled.filter((r) => r.transaction_type === 'DEBITO'),
      (r) => `${r.account_number} ${r.transaction_amount} ${r.transaction_date.slice(0, 10)}`,
    );
    const commuterDays = countBy(
      [...sameFare.entries()].filter(([, n]) => n >= 3).map(([k]) => k.split(' ')[0]),
      (account) => account,
    );

    expect(Math.max(...burst.values())).toBeGreaterThanOrEqual(200);
    expect([...commuterDays.values()].filter((days) => days >= 5).length).toBeGreaterThan(0);
  });
});
