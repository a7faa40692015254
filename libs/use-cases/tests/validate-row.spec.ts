import { ConfigError, InputFormatError, type InputColumn } from '@splitwatch/core';
import {
  isRejection,
  mapHeader,
  normaliseAmount,
  normaliseTimestamp,
  resolveColumnMap,
  validateRow,
} from '../src';

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
    expect(r).toMatchObject({
      tx_id: good._id,
      transaction_amount: '71.33346014',
      transaction_date: '2021-03-01 23:59:59',
    });
  });

  it('normalises type case and spaces, amount scale and ISO timestamps', () => {
    expect(check({ transaction_type: ' credito ' })).toMatchObject({ transaction_type: 'CREDITO' });
    expect(check({ transaction_amount: '5' })).toMatchObject({ transaction_amount: '5.00000000' });
    expect(check({ transaction_date: '2021-03-01T08:00:00.250' })).toMatchObject({
      transaction_date: '2021-03-01 08:00:00',
    });
  });

  it('normalises amounts to 8 decimals without a float: signs, leading zeros, bare fractions', () => {
    expect(normaliseAmount('+007.5')).toBe('7.50000000');
    expect(normaliseAmount('.5')).toBe('0.50000000');
    expect(normaliseAmount('5.')).toBe('5.00000000');
    expect(normaliseAmount('9999999999999999.99999999')).toBe('9999999999999999.99999999');
    expect(normaliseAmount('0.00000001')).toBe('0.00000001');
  });

  it('accepts only real wall-clock times, leap days included', () => {
    expect(normaliseTimestamp('2024-02-29 23:59:59')).toBe('2024-02-29 23:59:59');
    expect(normaliseTimestamp('2000-02-29T00:00:00.123456789')).toBe('2000-02-29 00:00:00');
    for (const bad of [
      '2023-02-29 10:00:00',
      '1900-02-29 10:00:00',
      '2021-04-31 10:00:00',
      '2021-01-01 24:00:00',
      '2021-01-01 10:60:00',
      '2021-01-01 10:00:60',
      '1899-12-31 23:59:59',
      '2021-01-01 10:00:00.',
      '2021-01-01 10:00:00Z',
      '2021-1-01 10:00:00',
    ]) {
      expect(normaliseTimestamp(bad)).toBeNull();
    }
  });

  it.each([
    [{ _id: '' }, '_id', 'empty value'],
    [{ user_id: '  ' }, 'user_id', 'empty value'],
    [{ transaction_date: '2021-02-30 10:00:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_date: '2021-13-01 10:00:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_date: '01/03/2021 10:00' }, 'transaction_date', 'not a valid'],
    [{ transaction_amount: 'NaN' }, 'transaction_amount', 'not a decimal'],
    [{ transaction_amount: '-5' }, 'transaction_amount', 'not positive'],
    [{ transaction_amount: '0' }, 'transaction_amount', 'not positive'],
    [{ transaction_amount: '' }, 'transaction_amount', 'empty value'],
    [{ transaction_amount: '1.123456789' }, 'transaction_amount', 'more than 8 decimals'],
    [{ transaction_amount: '12345678901234567' }, 'transaction_amount', 'does not fit DECIMAL(24,8)'],
    [{ transaction_type: 'TRANSFER' }, 'transaction_type', 'expected DEBITO or CREDITO, got "TRANSFER"'],
    [{ transaction_type: ' ' }, 'transaction_type', 'empty value'],
    [{ transaction_amount: '-0.5' }, 'transaction_amount', 'not positive: "-0.5"'],
    [{ transaction_amount: '0.000' }, 'transaction_amount', 'not positive'],
    [{ transaction_amount: '1e5' }, 'transaction_amount', 'not a decimal number: "1e5"'],
    [{ transaction_amount: 'Infinity' }, 'transaction_amount', 'not a decimal number'],
    [{ transaction_amount: '1,5' }, 'transaction_amount', 'not a decimal number'],
    [{ transaction_amount: '.' }, 'transaction_amount', 'not a decimal number'],
    [{ merchant_id: 'm'.repeat(129) }, 'merchant_id', 'longer than 128 characters'],
    [{ transaction_date: '2021-03-01 10:00:00+02:00' }, 'transaction_date', 'not a valid'],
  ] as [Partial<Record<InputColumn, string>>, string, string][])(
    'rejects %j in column %s',
    (over, column, reason) => {
      const r = check(over);
      expect(isRejection(r)).toBe(true);
      expect(r).toMatchObject({ column });
      expect((r as { reason: string }).reason).toContain(reason);
    },
  );
});

describe('mapHeader', () => {
  it('finds the contract columns in any order and reports extra ones', () => {
    const { positions, extra } = mapHeader(
      ['transaction_type', 'note', ...Object.keys(good).slice(0, 7).reverse()],
      'f.csv',
    );
    expect(positions.transaction_type).toBe(0);
    expect(positions._id).toBe(8);
    expect(extra).toEqual(['note']);
  });

  it("follows a column map, naming the file's columns in what it expected", () => {
    const header = [
      'id',
      'merchant',
      'subsidiary',
      'ts',
      'account_number',
      'user_id',
      'amount',
      'transaction_type',
      'note',
    ];
    const map = resolveColumnMap({
      tx_id: 'id',
      merchant_id: 'Merchant',
      transaction_date: 'ts',
      transaction_amount: 'amount',
    });
    const { positions, extra } = mapHeader(header, 'f.csv', map);
    expect(positions).toMatchObject({ _id: 0, merchant_id: 1, transaction_date: 3, transaction_amount: 6 });
    expect(extra).toEqual(['note']);
    expect(() => mapHeader(['_id', ...header.slice(1)], 'f.csv', map)).toThrow(
      /missing column\(s\) id \(for _id\); expected id \(as _id\),merchant \(as merchant_id\)/i,
    );
  });

  it('refuses a header naming a contract column twice', () => {
    expect(() => mapHeader([...Object.keys(good), 'USER_ID'], 'f.csv')).toThrow(
      /f\.csv: column user_id appears more than once/,
    );
  });

  it('names the missing columns, what was expected and what was found', () => {
    expect(() => mapHeader(['_id', 'amount'], 'raw/x.csv')).toThrow(InputFormatError);
    expect(() => mapHeader(['_id', 'amount'], 'raw/x.csv')).toThrow(
      /raw\/x\.csv: missing column\(s\) merchant_id, .*transaction_type; expected _id,.*; found _id,amount/,
    );
  });
});

describe('resolveColumnMap', () => {
  it('accepts contract names and tx_id for _id, trimming the file names', () => {
    expect(resolveColumnMap({ tx_id: ' id ', transaction_amount: 'amount' })).toEqual({
      _id: 'id',
      transaction_amount: 'amount',
    });
    expect(resolveColumnMap(undefined)).toEqual({});
  });

  it.each([
    [['_id'], /must be a JSON object/],
    [{ amount: 'x' }, /unknown column "amount" \(expected one of _id, merchant_id/],
    [{ _id: '' }, /_id must map to a non-empty column name/],
    [{ _id: 7 }, /_id must map to a non-empty column name, got 7/],
    [{ _id: 'x', tx_id: 'y' }, /_id is mapped twice/],
    [{ _id: 'code', user_id: 'CODE' }, /"CODE" is used for both _id and user_id/],
    [{ _id: 'user_id' }, /"user_id" is mapped to _id but user_id itself is not mapped/],
  ])('rejects %j with a ConfigError saying why', (value, message) => {
    expect(() => resolveColumnMap(value, 'column map')).toThrow(ConfigError);
    expect(() => resolveColumnMap(value, 'column map')).toThrow(message);
  });
});
