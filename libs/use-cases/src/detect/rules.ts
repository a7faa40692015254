import { rulesFor, type DetectionConfig, type Direction } from '@splitwatch/core';

/** One transaction with its trailing-window features, as the detectors read it. */
export interface WindowRow {
  tx_id: string;
  user_id: string;
  account_number: string;
  merchant_id: string;
  subsidiary: string;
  direction: Direction;
  transaction_date: string;
  /** Seconds since the epoch of the local wall-clock time (no zone). */
  ts: number;
  amount: string;
  n_tx: number;
  sum_amount: string;
  z_sum: number | null;
  hist_days: number;
  base_mean_daily_sum: number | null;
}

/** A rule firing on one window. `score` ≥ 1 means at or past the threshold for ratio rules. */
export interface RuleHit {
  method: string;
  score: number;
  threshold: number;
  reason: string;
  /** The full explanation of a model or split-rule hit, computed only for the window an alert finally shows. */
  explain?: () => string;
}

const money = (v: number) => v.toFixed(2);

/**
 * Evaluates the rule detectors on one window (pure; no I/O), with the thresholds of the anchor transaction's
 * segment (merchant, direction: see `segments` in the config).
 * - `rule:count`: at least `minCount` transactions in the window;
 * - `rule:sum`: at least `minCount` parts adding up to `minSum` or more;
 * - `rule:zscore`: the window's sum is `minZ` deviations above the key's own daily sums of the past
 *   30 days, with at least `minCount` parts, `minSum` in total and `minHistoryDays` of history.
 */
export function evaluateRules(row: WindowRow, config: DetectionConfig): RuleHit[] {
  const hits: RuleHit[] = [];
  const { count, sum, zscore } = rulesFor(config, row.merchant_id, row.direction);
  const total = Number(row.sum_amount);
  const w = `${config.windowHours} h`;
  if (count.enabled && row.n_tx >= count.minCount) {
    hits.push({
      method: 'rule:count',
      score: row.n_tx / count.minCount,
      threshold: count.minCount,
      reason: `${row.n_tx} transactions in ${w} (threshold ${count.minCount})`,
    });
  }
  if (sum.enabled && row.n_tx >= sum.minCount && total >= sum.minSum) {
    hits.push({
      method: 'rule:sum',
      score: total / sum.minSum,
      threshold: sum.minSum,
      reason: `${row.n_tx} parts totalling ${money(total)} in ${w} (threshold ${money(sum.minSum)})`,
    });
  }
  if (
    zscore.enabled &&
    row.z_sum !== null &&
    row.n_tx >= zscore.minCount &&
    total >= zscore.minSum &&
    row.hist_days >= zscore.minHistoryDays &&
    row.z_sum >= zscore.minZ
  ) {
    hits.push({
      method: 'rule:zscore',
      score: row.z_sum,
      threshold: zscore.minZ,
      reason:
        `${w} sum ${money(total)} is ${row.z_sum.toFixed(1)} std above the key's daily mean ` +
        `${money(row.base_mean_daily_sum ?? 0)} over ${row.hist_days} days (threshold ${zscore.minZ})`,
    });
  }
  return hits;
}
