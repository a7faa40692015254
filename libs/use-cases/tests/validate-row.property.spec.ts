import fc from 'fast-check';
import { INPUT_COLUMNS, formatDecimalUnits, parseDecimalUnits, type InputColumn } from '@splitwatch/core';
import { isRejection, normaliseAmount, normaliseTimestamp, validateValues, type ValidRow } from '../src';

/** Independent oracles: the BigInt decimal of core and the JavaScript calendar. */
function oracleAmount(text: string): string | 'reject' {
  const t = text.replace(/^\+/, '');
  if (!/^-?\d*(\.\d*)?$/.test(t)) return 'reject';
  const units = parseDecimalUnits(t);
  if (units === null || units <= 0n) return 'reject';
  const formatted = formatDecimalUnits(units);
  return formatted.indexOf('.') > 16 ? 'reject' : formatted;
}

function oracleTimestamp(text: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  date.setUTCFullYear(y); // Date.UTC maps years 0-99 to 1900-1999
  const ok =
    y >= 1900 &&
    y <= 2999 &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    date.getUTCHours() === h &&
    date.getUTCMinutes() === mi &&
    date.getUTCSeconds() === s;
  return ok ? `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}` : null;
}

const digits = (min: number, max: number) => fc.stringMatching(new RegExp(`^[0-9]{${min},${max}}$`));
/** Decimal-looking text, near and beyond the edges: signs, leading zeros, long parts, bare dots. */
const amountText = fc.oneof(
  fc
    .tuple(fc.constantFrom('', '+', '-'), digits(0, 18), fc.option(digits(0, 10)))
    .map(([s, i, f]) => `${s}${i}${f === null ? '' : `.${f}`}`),
  fc.constantFrom('NaN', 'Infinity', '1e5', '0x10', '1,5', ' ', '.', '+', '-', '٣'),
  fc.string({ maxLength: 12 }),
);
const pad = (n: number, w: number) => String(n).padStart(w, '0');
/** Timestamp-looking text: real, impossible (Feb 30, hour 24), other separators, fractions. */
const timestampText = fc.oneof(
  fc
    .tuple(
      fc.integer({ min: 1850, max: 3050 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 25 }),
      fc.integer({ min: 0, max: 61 }),
      fc.integer({ min: 0, max: 61 }),
      fc.constantFrom(' ', 'T', '/'),
      fc.option(digits(0, 10)),
    )
    .map(
      ([y, mo, d, h, mi, s, sep, frac]) =>
        `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}${sep}${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${frac === null ? '' : `.${frac}`}`,
    ),
  fc.string({ maxLength: 30 }),
);
const idText = fc.oneof(
  fc.stringMatching(/^[0-9a-f]{32}$/),
  fc.string({ maxLength: 3 }),
  fc.string({ minLength: 120, maxLength: 140 }),
);
const typeText = fc.oneof(
  fc.constantFrom('DEBITO', 'CREDITO', ' debito ', 'Credito', 'DEB ITO', 'DEBITOS', ''),
  fc.string({ maxLength: 8 }),
);

describe('validation properties', () => {
  it('normalises amounts exactly as the BigInt decimal does, and rejects what it rejects', () => {
    fc.assert(
      fc.property(amountText, (text) => {
        const got = normaliseAmount(text);
        const want = oracleAmount(text);
        if (want === 'reject') expect(typeof got).toBe('object');
        else expect(got).toBe(want);
      }),
      { numRuns: 1500 },
    );
  });

  it('accepts exactly the timestamps the calendar accepts, never shifting them', () => {
    fc.assert(
      fc.property(timestampText, (text) => {
        expect(normaliseTimestamp(text)).toBe(oracleTimestamp(text));
      }),
      { numRuns: 1500 },
    );
  });

  it('never throws, and either returns a canonical row or names a contract column and a reason', () => {
    const row = fc.record({
      _id: idText,
      merchant_id: idText,
      subsidiary: idText,
      transaction_date: timestampText,
      account_number: idText,
      user_id: idText,
      transaction_amount: amountText,
      transaction_type: typeText,
    });
    fc.assert(
      fc.property(row, (r) => {
        const v = validateValues(
          r._id,
          r.merchant_id,
          r.subsidiary,
          r.transaction_date,
          r.account_number,
          r.user_id,
          r.transaction_amount,
          r.transaction_type,
        );
        if (isRejection(v)) {
          expect(INPUT_COLUMNS as readonly string[]).toContain(v.column);
          expect(v.reason.length).toBeGreaterThan(0);
          // The column at fault really is at fault on its own.
          const only = { ...validRow(), [v.column]: r[v.column as InputColumn] };
          expect(
            isRejection(
              validateValues(
                only._id,
                only.merchant_id,
                only.subsidiary,
                only.transaction_date,
                only.account_number,
                only.user_id,
                only.transaction_amount,
                only.transaction_type,
              ),
            ),
          ).toBe(true);
        } else {
          const ok = v as ValidRow;
          expect(ok.transaction_amount).toMatch(/^\d{1,16}\.\d{8}$/);
          expect(ok.transaction_date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
          expect(['DEBITO', 'CREDITO']).toContain(ok.transaction_type);
          expect(ok.tx_id).toBe(r._id.trim());
        }
      }),
      { numRuns: 1000 },
    );
  });
});

function validRow(): Record<InputColumn, string> {
  return {
    _id: 'a'.repeat(32),
    merchant_id: 'b'.repeat(32),
    subsidiary: 'c'.repeat(32),
    transaction_date: '2021-03-01 23:59:59',
    account_number: 'd'.repeat(32),
    user_id: 'e'.repeat(32),
    transaction_amount: '71.33346014',
    transaction_type: 'DEBITO',
  };
}
