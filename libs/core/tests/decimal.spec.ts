import fc from 'fast-check';
import { formatDecimalUnits, parseDecimalUnits, sumDecimals } from '../src';

describe('exact decimals', () => {
  it('parses and formats without loss', () => {
    expect(parseDecimalUnits('71.33346014')).toBe(7133346014n);
    expect(formatDecimalUnits(7133346014n)).toBe('71.33346014');
    expect(formatDecimalUnits(parseDecimalUnits('-0.5')!)).toBe('-0.50000000');
    expect(parseDecimalUnits('1.123456789')).toBeNull();
    expect(parseDecimalUnits('abc')).toBeNull();
    expect(parseDecimalUnits('.')).toBeNull();
  });

  it('sums exactly where floats drift', () => {
    expect(sumDecimals(['0.1', '0.2'])).toBe('0.30000000');
    expect(sumDecimals(Array(10).fill('5.94445501'))).toBe('59.44455010');
  });

  it('round-trips any 8-decimal amount and sums independently of order', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 20n }), { maxLength: 30 }), (units) => {
        const texts = units.map(formatDecimalUnits);
        texts.forEach((t, i) => expect(parseDecimalUnits(t)).toBe(units[i]));
        expect(sumDecimals([...texts].reverse())).toBe(sumDecimals(texts));
      }),
    );
  });
});
