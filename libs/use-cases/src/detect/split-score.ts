import type { RuleSettings } from '@splitwatch/core';
import type { WindowRow } from './rules';
import { median } from './window-vector';

/**
 * The evidence terms of the split score, each a number that is 0 at a reference window: two parts at `minRatio`×
 * the key's typical day, a quarter of an hour apart, of similar size (cv 0.2), the largest half the total, at one
 * merchant and one branch, no part at the key's past maximum or repeating another's amount, the smallest part at
 * the key's typical amount, a key with its own history of active days, and a total of 600.
 */
export const SPLIT_EVIDENCE = [
  /** log2(total / (minRatio × the key's typical day)). */
  'material',
  /** log2((1 + fastGap) / (1 + median gap)), minutes, floored at −3 (about 2 h). */
  'pace',
  /** What the pace loses past −3: slow parts, hours apart. */
  'slowPace',
  /** log2(n / 2). */
  'parts',
  /** 1 when there are more than two parts. */
  'moreThanTwo',
  /** 0.2 − coefficient of variation of the part sizes. */
  'sizes',
  /** 0.5 − the largest part's share of the total. */
  'dominance',
  /** −(merchants − 1). */
  'merchants',
  /** −(branches − 1) / (n − 1): 0 when every part is at one subsidiary, −1 when each is at its own. */
  'branches',
  /** 1 when a part equals the key's past maximum (a cap). */
  'cap',
  /** Share of the parts whose amount another part repeats exactly (0 when none does). */
  'equalParts',
  /** log2(smallest part / the key's typical amount). */
  'smallestPart',
  /** 1 when the key has no earlier transaction (its segment's typical day is the baseline). */
  'noHistory',
  /** 1 when the key has earlier transactions but too few active days (its typical amount is the baseline). */
  'shortHistory',
  /** log2(total / 600): the absolute size. */
  'total',
] as const;

export type SplitEvidenceName = (typeof SPLIT_EVIDENCE)[number];

/** The weights (log2 points per unit of each term) and the base of the split score; see split-weights.ts. */
export interface SplitScoreModel {
  fittedOn: string;
  base: number;
  weights: Record<SplitEvidenceName, number>;
}

/** What the evidence needs of the window's key and past (all strictly before the window). */
export interface SplitBaseline {
  /**
   * What the window's total is compared with: the median of the key's active-day totals over `historyDays` when it
   * has at least `minHistoryDays` of them (`key-days`); else the median of its last 200 earlier amounts, of any age
   * (`key-amounts`); else, for a key seen for the first time, its segment's typical day.
   */
  typicalDay: number;
  typicalSource: 'key-days' | 'key-amounts' | 'segment';
  /** The median of the key's last 200 earlier amounts (its segment's typical day when it has none), on demand. */
  typicalAmount: () => number;
  /** The key's largest earlier amount (null: no earlier transaction). */
  pastMax: number | null;
}

/** The evidence of one window, with what the reasons print. */
export interface SplitEvidence {
  x: number[];
  n: number;
  sum: number;
  ratio: number;
  gapMinutes: number;
  cv: number;
  share: number;
  merchants: number;
  branches: number;
  capParts: number;
  repeated: number;
  smallest: number;
  typicalAmount: number;
}

const TOTAL_REFERENCE = 600;
const PACE_FLOOR = -3;

/**
 * The evidence terms of rows[lo..hi] (see {@link SPLIT_EVIDENCE}), or null when the window is not one the split
 * rule looks at: fewer than `minParts` or more than `maxParts` parts, less than `minSum` in total, or no finite
 * baseline to compare it with.
 */
export function splitEvidence(
  rows: WindowRow[],
  lo: number,
  hi: number,
  b: SplitBaseline,
  r: RuleSettings['split'],
): SplitEvidence | null {
  const n = hi - lo + 1;
  if (n < r.minParts || n > r.maxParts) return null;
  let sum = 0;
  let sumSq = 0;
  let max = 0;
  let min = Number.POSITIVE_INFINITY;
  let capParts = 0;
  const gaps: number[] = [];
  const merchants = new Set<string>();
  const branches = new Set<string>();
  const amounts = new Map<string, number>();
  for (let j = lo; j <= hi; j++) {
    const a = Number(rows[j].amount);
    sum += a;
    sumSq += a * a;
    if (a > max) max = a;
    if (a < min) min = a;
    if (b.pastMax !== null && a === b.pastMax) capParts++;
    if (j > lo) gaps.push(rows[j].ts - rows[j - 1].ts);
    merchants.add(rows[j].merchant_id);
    branches.add(`${rows[j].merchant_id}|${rows[j].subsidiary}`);
    amounts.set(rows[j].amount, (amounts.get(rows[j].amount) ?? 0) + 1);
  }
  if (sum < r.minSum) return null;
  const typicalAmount = b.typicalAmount();
  // No baseline (a segment never seen): nothing to call material.
  if (!Number.isFinite(b.typicalDay) || !Number.isFinite(typicalAmount)) return null;
  let repeated = 0;
  for (const c of amounts.values()) if (c > 1) repeated += c;
  const ratio = sum / Math.max(b.typicalDay, 1e-9);
  const mean = sum / n;
  const cv = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) / mean;
  const gapMinutes = median(gaps) / 60;
  const pace = Math.log2((1 + r.fastGapSeconds / 60) / (1 + gapMinutes));
  const x = [
    Math.log2(ratio / r.minRatio),
    Math.max(pace, PACE_FLOOR),
    Math.min(0, pace - PACE_FLOOR),
    Math.log2(n / 2),
    n > 2 ? 1 : 0,
    0.2 - cv,
    0.5 - max / sum,
    -(merchants.size - 1),
    -(branches.size - 1) / (n - 1),
    capParts > 0 ? 1 : 0,
    repeated / n,
    Math.log2(min / Math.max(typicalAmount, 1e-9)),
    b.typicalSource === 'segment' ? 1 : 0,
    b.typicalSource === 'key-amounts' ? 1 : 0,
    Math.log2(sum / TOTAL_REFERENCE),
  ];
  return {
    x,
    n,
    sum,
    ratio,
    gapMinutes,
    cv,
    share: max / sum,
    merchants: merchants.size,
    branches: branches.size,
    capParts,
    repeated,
    smallest: min,
    typicalAmount,
  };
}

/** The score's terms: each evidence term times its weight, in log2 points. */
export function splitTerms(e: SplitEvidence, model: SplitScoreModel): Record<SplitEvidenceName, number> {
  const out = {} as Record<SplitEvidenceName, number>;
  SPLIT_EVIDENCE.forEach((name, j) => (out[name] = model.weights[name] * e.x[j]));
  return out;
}
