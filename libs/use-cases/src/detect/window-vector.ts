import type { WindowRow } from './rules';

/**
 * The features the unsupervised models see for one window of a key (the window's parts rows[lo..hi]), all
 * scale-free or logged so that a robust scaler puts them on comparable footing.
 */
export const WINDOW_FEATURES = [
  'log_ratio_to_typical_day',
  'parts',
  'log_median_gap_minutes',
  'part_size_cv',
  'largest_part_share',
  'log_total',
  'span_hours',
  'z_sum',
] as const;

/** Human-readable names for explanations. */
export const WINDOW_FEATURE_LABELS: Record<(typeof WINDOW_FEATURES)[number], string> = {
  log_ratio_to_typical_day: 'total vs the key typical day',
  parts: 'number of parts',
  log_median_gap_minutes: 'time between parts',
  part_size_cv: 'spread of part sizes',
  largest_part_share: 'share of the largest part',
  log_total: 'total amount',
  span_hours: 'span of the window',
  z_sum: 'z-score against the 30-day baseline',
};

/** Median of a small list (copied before sorting). */
export function median(xs: Iterable<number>): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The feature vector of rows[lo..hi], given the typical day it is compared with. Without one (+Infinity: the log's
 * first days, before any account-day of the direction), the ratio is neutral (log 0) rather than infinite.
 */
export function windowVector(rows: WindowRow[], lo: number, hi: number, typicalDay: number): number[] {
  const n = hi - lo + 1;
  let sum = 0;
  let sumSq = 0;
  let max = 0;
  const gaps: number[] = [];
  for (let j = lo; j <= hi; j++) {
    const a = Number(rows[j].amount);
    sum += a;
    sumSq += a * a;
    if (a > max) max = a;
    if (j > lo) gaps.push(rows[j].ts - rows[j - 1].ts);
  }
  const mean = sum / n;
  const cv = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) / mean;
  const z = rows[hi].z_sum;
  return [
    Number.isFinite(typicalDay) ? Math.log(sum / Math.max(typicalDay, 1e-9)) : 0,
    n,
    Math.log1p(gaps.length ? median(gaps) / 60 : 0),
    cv,
    max / sum,
    Math.log(sum),
    (rows[hi].ts - rows[lo].ts) / 3600,
    z === null ? 0 : Math.max(-10, Math.min(50, z)),
  ];
}
