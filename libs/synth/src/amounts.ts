/**
 * Amounts are integers of 1e-8 (the scale of DECIMAL(24,8)). Every amount written stays below 10^13 and every
 * sum below 10^14, far under 2^53, so plain Number integer arithmetic is exact and BigInt is not needed.
 */

/** The currency unit of the real extract, 5.94445501, in 1e-8. */
export const UNIT_E8 = 594_445_501;

/** Largest amount seen in the real extract, 4624.8 = 778 units: the highest product cap. */
export const MAX_UNITS = 778;

/** Amount of `units` whole units. */
export function unitsE8(units: number): number {
  return units * UNIT_E8;
}

/** Amount of `tenths` tenths of a unit; a tenth needs 9 decimals, so it is rounded half-up to 8 as the extract is. */
export function tenthsE8(tenths: number): number {
  const x = tenths * UNIT_E8 + 5;
  return (x - (x % 10)) / 10;
}

const SCALE = 100_000_000;

/** Exact decimal text with 8 decimals, e.g. 7133346014 → `71.33346014`. */
export function formatE8(v: number): string {
  const whole = Math.floor(v / SCALE);
  const frac = v - whole * SCALE;
  return `${whole}.${String(frac).padStart(8, '0')}`;
}
