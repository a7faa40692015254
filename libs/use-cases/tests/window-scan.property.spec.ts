import fc from 'fast-check';
import { DEFAULT_CONFIG, formatDecimalUnits } from '@splitwatch/core';
import { buildEpisodes, OtherKeysHistory, scanKeyWindows, windowVector, type KeyWindow, type WindowRow } from '../src';

const T0 = 1609459200; // 2021-01-01 00:00:00
function rowsOf(events: { offset: number; units: bigint }[]): WindowRow[] {
  return [...events]
    .sort((a, b) => a.offset - b.offset)
    .map((e, i) => {
      const d = new Date((T0 + e.offset) * 1000).toISOString();
      return {
        tx_id: `t${String(i).padStart(4, '0')}`,
        user_id: 'u',
        account_number: 'a',
        merchant_id: 'm',
        subsidiary: 's',
        direction: 'DEBITO',
        transaction_date: `${d.slice(0, 10)} ${d.slice(11, 19)}`,
        ts: T0 + e.offset,
        amount: formatDecimalUnits(e.units),
        n_tx: 1,
        sum_amount: formatDecimalUnits(e.units),
        z_sum: null,
        hist_days: 0,
        base_mean_daily_sum: null,
      } satisfies WindowRow;
    });
}

const events = fc.array(
  fc.record({ offset: fc.integer({ min: 0, max: 40 * 86400 }), units: fc.bigInt({ min: 10n ** 8n, max: 3000n * 10n ** 8n }) }),
  { minLength: 1, maxLength: 60 },
);

describe('detector windows (properties)', () => {
  it('never see the future: appending later transactions leaves earlier windows unchanged', () => {
    fc.assert(
      fc.property(events, events, fc.integer({ min: 1, max: 59 }), (evs, otherEvs, cut) => {
        const all = rowsOf(evs);
        // The owner's other key (the other direction of the account), read as its history.
        const other = rowsOf(otherEvs).map((r) => ({ ...r, tx_id: `o${r.tx_id}`, direction: 'CREDITO' as const }));
        const k = Math.min(cut, all.length);
        // Keep the prefix strictly before the cut time so no same-second peer is split off.
        const cutTs = all[k - 1].ts;
        const prefix = all.filter((r) => r.ts < cutTs);
        // The typical amounts and the amounts the key had are read on demand: compare their values, read after the
        // whole scan (a lookup called late must still see only the window's past).
        const seen = (rows: WindowRow[], otherRows: WindowRow[]) => {
          const windows: KeyWindow[] = [];
          const [others] = OtherKeysHistory.ofOwner([rows, otherRows]);
          // A log that starts 5 days before the key's first possible transaction: its age varies across the windows.
          scanKeyWindows(rows, DEFAULT_CONFIG, () => 100, (w) => windows.push(w), T0 - 5 * 86400, others);
          return windows.map(({ typicalAmount, hadAmount, ownerAmount, ...w }) => ({
            ...w,
            typicalAmount: typicalAmount(),
            ownerAmount: ownerAmount(),
            had: rows.slice(0, w.hi + 1).map((r) => hadAmount(r.amount)),
          }));
        };
        const a = seen(prefix, other.filter((r) => r.ts < cutTs));
        const b = seen(all, other).slice(0, prefix.length);
        expect(b).toEqual(a);
      }),
      { numRuns: 200 },
    );
  });

  it('hold the same-second peers in each other\'s window and only transactions within the window length', () => {
    fc.assert(
      fc.property(events, (evs) => {
        const rows = rowsOf(evs);
        const W = DEFAULT_CONFIG.windowHours * 3600;
        scanKeyWindows(rows, DEFAULT_CONFIG, () => 100, (w) => {
          const t = rows[w.i].ts;
          for (let j = 0; j < rows.length; j++) {
            const inside = rows[j].ts >= t - W && rows[j].ts <= t;
            expect(inside).toBe(j >= w.lo && j <= w.hi);
          }
        });
      }),
    );
  });

  it('give finite feature vectors and deterministic alerts', () => {
    fc.assert(
      fc.property(events, (evs) => {
        const rows = rowsOf(evs);
        scanKeyWindows(rows, DEFAULT_CONFIG, () => 100, (w) => {
          for (const v of windowVector(rows, w.lo, w.hi, w.typicalDay)) expect(Number.isFinite(v)).toBe(true);
        });
        expect(buildEpisodes(rows, DEFAULT_CONFIG, 'r', () => 100)).toEqual(buildEpisodes(rows, DEFAULT_CONFIG, 'r', () => 100));
      }),
    );
  });
});
