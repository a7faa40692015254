import { InputFormatError, type InputColumn } from '@splitwatch/core';
import { isRejection, mapHeader, validateRow } from '../src';

const good: Record<InputColumn, string> = {
  _id: 'a'.repeat(32),
  merchant_id: 'b'.repeat(32),
  subsidiary: 'c'.repeat(32),
  transaction_date: '2021-03-01 23:59:59',
  account_number: 'd'.repeat(32),
  user_id: 'e'.repeat(32),
  transaction_amount: '71.33346014',
  transaction_type: 'DEBITO',
};
const check = (over: Partial<Record<InputColumn, string>>) => validateRow((c) => ({ ...good, ...over })[c]);

describe('validateRow', () => {
  it('accepts a contract row and keeps the amount exact', () => {
    const r = check({});
    expect(isRejection(r)).toBe(false);
    expect(r).toMatchObject({ tx_id: good._id, transaction_amount: '71.33346014', transaction_date: '2021-03-01 23:59:59' });
  });

  it('normalises type case and spaces, amount scale and ISO timestamps', () => {
    expect(check({ transaction_type: ' credito ' })).toMatchObject({ transaction_type: 'CREDITO' });
    expect(check({ transaction_amount: '5' })).toMatchObject({ transaction_amount: '5.00000000' });
    expect(check({ transaction_date: '2021-03-01T08:00:00.250' })).toMatchObject({ transaction_date: '2021-03-01 08:00:00' });
  });

  it.each([
    [{ _id: '' }, '_id', 'empty value'],
    [{ user_id: '  ' }, 'user_id', 'empty value'],
    [{ transaction_date: '2021-02-30 10:00:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_date: '2021-13-01 10:00:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_date: '01/03/2021 10:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_amount: 'NaN' }, 'transaction_amount', 'not a decimal'],
    [{ transaction_amount: '-5' }, 'transaction_amount', 'not a decimal'],
    [{ transaction_amount: '0' }, 'transaction_amount', 'not positive'],
    [{ transaction_amount: '' }, 'transaction_amount', 'empty value'],
    [{ transaction_amount: '1.123456789' }, 'transaction_amount', 'more than 8 decimals'],
    [{ transaction_amount: '12345678901234567' }, 'transaction_amount', 'does not fit DECIMAL(24,8)'],
    [{ transaction_type: 'TRANSFER' }, 'transaction_type', 'expected DEBITO or CREDITO'],
  ] as [Partial<Record<InputColumn, string>>, string, string][])('rejects %j in column %s', (over, column, reason) => {
    const r = check(over);
    expect(isRejection(r)).toBe(true);
    expect(r).toMatchObject({ column });
    expect((r as { reason: string }).reason).toContain(reason);
  });
});

describe('mapHeader', () => {
  it('finds the contract columns in any order and reports extra ones', () => {
    const { positions, extra } = mapHeader(['transaction_type', 'note', ...Object.keys(good).slice(0, 7).reverse()], 'f.csv');
    expect(positions.transaction_type).toBe(0);
    expect(positions._id).toBe(8);
    expect(extra).toEqual(['note']);
  });

  it('names the missing columns, what was expected and what was found', () => {
    expect(() => mapHeader(['_id', 'amount'], 'raw/x.csv')).toThrow(InputFormatError);
    expect(() => mapHeader(['_id', 'amount'], 'raw/x.csv')).toThrow(
      /raw\/x\.csv: missing column\(s\) merchant_id, .*transaction_type; expected _id,.*; found _id,amount/,
    );
  });
});
