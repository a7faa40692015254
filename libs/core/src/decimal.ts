/**
 * Exact DECIMAL(24,8) arithmetic on text, through BigInt counts of 1e-8 units, so amounts never pass
 * through a lossy float where exactness matters (sums of parts, totals shown to analysts).
 */
export const DECIMAL_SCALE = 8;
const SCALE = 10n ** BigInt(DECIMAL_SCALE);
const DECIMAL_RE = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** Parses decimal text (`71.33346014`, `5`, `.5`) into 1e-8 units; returns null when not a decimal or over 8 decimals. */
export function parseDecimalUnits(text: string): bigint | null {
  const m = DECIMAL_RE.exec(text);
  if (!m) return null;
  const [, sign, int = '', frac = ''] = m;
  if (int === '' && frac === '') return null;
  if (frac.length > DECIMAL_SCALE) return null;
  const units = BigInt(int || '0') * SCALE + BigInt((frac + '0'.repeat(DECIMAL_SCALE)).slice(0, DECIMAL_SCALE));
  return sign === '-' ? -units : units;
}

/** Formats 1e-8 units as decimal text with exactly 8 decimals. @example formatDecimalUnits(7133346014n) === '71.33346014' */
export function formatDecimalUnits(units: bigint): string {
  const neg = units < 0n;
  const abs = neg ? -units : units;
  const int = abs / SCALE;
  const frac = (abs % SCALE).toString().padStart(DECIMAL_SCALE, '0');
  return `${neg ? '-' : ''}${int}.${frac}`;
}

/** Exact sum of decimal texts. @example sumDecimals(['0.1', '0.2']) === '0.30000000' */
export function sumDecimals(values: Iterable<string>): string {
  let total = 0n;
  for (const v of values) {
    const u = parseDecimalUnits(v);
    if (u === null) throw new RangeError(`Not a decimal: ${JSON.stringify(v)}`);
    total += u;
  }
  return formatDecimalUnits(total);
}
