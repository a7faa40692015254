import { MAX_UNITS, UNIT_E8, tenthsE8 } from './amounts';
import type { Rng } from './prng';
import { cumulative } from './prng';

/** Product caps in units (≈ 594, 1189, 2378, 4625): per-account maxima pile up on these. */
export const CAP_UNITS = [100, 200, 400, MAX_UNITS] as const;
export const CAP_CDF = cumulative([0.3, 0.54, 0.12, 0.04]);

/** 96% of real amounts are whole units and 99.6% whole tenths; ordinary rows are drawn a bit under those
 *  shares because episodes, commuters and bursts are all whole units. */
const P_WHOLE = 0.96;
const P_TENTH = 0.036;

/**
 * An amount near `x` units, at most `cap` units: usually whole units, sometimes tenths (rounded to 8 decimals
 * like the extract), rarely an arbitrary 1e-8 value. Never below one unit, the extract's minimum.
 */
export function ordinaryAmountE8(rng: Rng, x: number, cap: number): number {
  const r = rng.next();
  if (r < P_WHOLE) return Math.min(cap, Math.max(1, Math.round(x))) * UNIT_E8;
  if (r < P_WHOLE + P_TENTH) {
    let tenths = Math.min(cap * 10 - 1, Math.max(11, Math.round(x * 10)));
    if (tenths % 10 === 0) tenths += tenths + 1 < cap * 10 ? 1 : -1;
    return tenthsE8(tenths);
  }
  const e8 = Math.floor(x * UNIT_E8) + rng.int(UNIT_E8 / 100);
  return Math.min(cap * UNIT_E8 - 1, Math.max(UNIT_E8 + 1, e8));
}
