import { createHash } from 'node:crypto';
import { sumDecimals, type Alert, type DetectionConfig } from '@splitwatch/core';
import { evaluateRules, type RuleHit, type WindowRow } from './rules';
import { median, windowVector } from './window-vector';

/** Deterministic alert id: the same episode found again by a re-run gets the same id. */
export function alertIdOf(method: string, account: string, direction: string, firstTxId: string): string {
  return createHash('sha256').update(`${method}|account|${account}|${direction}|${firstTxId}`).digest('hex').slice(0, 32);
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
}

const money = (v: number) => v.toFixed(2);
const DAY = 86_400;

/** The segment's typical active-day total, for keys without enough history of their own. */
export type SegmentTypicalDay = (row: WindowRow) => number;

/**
 * The split-pattern rule on one window (rows[lo..hi] of a key, in time order): 2..maxParts parts whose
 * total is material against the key's typical active-day total in the past (before the window). The score
 * is log2(ratio / minRatio) plus evidence points that single out splitting among ordinary busy days: parts
 * minutes apart, three or more parts, similar part sizes, a part equal to the key's past maximum (a cap);
 * a window dominated by one part loses a point (one big purchase is not a split).
 */
export function splitHit(
  rows: WindowRow[],
  lo: number,
  hi: number,
  pastDays: number[],
  pastMax: number | null,
  segmentDay: number,
  config: DetectionConfig,
): RuleHit | null {
  const r = config.rules.split;
  const n = hi - lo + 1;
  if (!r.enabled || n < r.minParts || n > r.maxParts) return null;
  let sum = 0;
  let sumSq = 0;
  let max = 0;
  let capParts = 0;
  const gaps: number[] = [];
  for (let j = lo; j <= hi; j++) {
    const a = Number(rows[j].amount);
    sum += a;
    sumSq += a * a;
    if (a > max) max = a;
    if (pastMax !== null && a === pastMax) capParts++;
    if (j > lo) gaps.push(rows[j].ts - rows[j - 1].ts);
  }
  if (sum < r.minSum) return null;
  const own = pastDays.length >= r.minHistoryDays;
  const typical = Math.max(own ? median(pastDays) : segmentDay, 1e-9);
  const ratio = sum / typical;
  if (ratio < r.minRatio) return null;
  const mean = sum / n;
  const cv = Math.sqrt(Math.max(0, sumSq / n - mean * mean)) / mean;
  const medianGap = median(gaps);
  const evidence: [number, string][] = [];
  if (medianGap <= r.fastGapSeconds) evidence.push([2, `parts ${Math.round(medianGap / 60)} min apart (median)`]);
  if (n >= 3) evidence.push([1, `${n} parts`]);
  if (cv <= 0.2) evidence.push([1, `parts of similar size (cv ${cv.toFixed(2)})`]);
  if (capParts > 0) evidence.push([0.5, `${capParts} part(s) equal to the key's past maximum ${money(pastMax!)}`]);
  if (max / sum >= 0.6) evidence.push([-1, `one part is ${Math.round((100 * max) / sum)}% of the total`]);
  const score = Math.log2(ratio / r.minRatio) + evidence.reduce((a, [p]) => a + p, 0);
  if (score < r.minScore) return null;
  return {
    method: 'rule:split',
    score,
    threshold: r.minScore,
    reason:
      `${n} parts totalling ${money(sum)} in ${config.windowHours} h = ${ratio.toFixed(1)}× the ` +
      (own
        ? `key's typical day ${money(typical)} (median of ${pastDays.length} past active days)`
        : `segment's typical day ${money(typical)} (key has ${pastDays.length} past active days)`) +
      (evidence.length ? `; ${evidence.map(([p, t]) => `${t} (${p > 0 ? '+' : ''}${p})`).join('; ')}` : '') +
      `; score ${score.toFixed(2)} (threshold ${r.minScore})`,
  };
}

interface Chain {
  best: RuleHit;
  lo: number;
  hi: number;
  lastAnchorTs: number;
}

/** One window of a key: the anchor transaction rows[i] and its window rows[lo..hi] (same-second peers included). */
export interface KeyWindow {
  i: number;
  lo: number;
  hi: number;
  /** The key's typical active-day total before the window, or the segment's when the key has too little history. */
  typicalDay: number;
  ownHistoryDays: number;
  pastDays: number[];
  pastMax: number | null;
}

/**
 * Walks the windows of one key in time order, with what each needs from the key's past (strictly before the
 * window: active-day totals of the last `historyDays`, the largest amount). No window sees the future.
 */
export function scanKeyWindows(
  rows: WindowRow[],
  config: DetectionConfig,
  segmentTypicalDay: SegmentTypicalDay,
  visit: (w: KeyWindow) => void,
): void {
  const W = Math.round(config.windowHours * 3600);
  const { historyDays, minHistoryDays } = config.rules.split;
  const daySums = new Map<number, number>(); // day → sum of transactions that left the window (the past)
  let pastMax: number | null = null;
  let lo = 0;
  let hi = -1;
  for (let i = 0; i < rows.length; i++) {
    const t = rows[i].ts;
    while (rows[lo].ts < t - W) {
      const a = Number(rows[lo].amount);
      const d = Math.floor(rows[lo].ts / DAY);
      daySums.set(d, (daySums.get(d) ?? 0) + a);
      if (pastMax === null || a > pastMax) pastMax = a;
      lo++;
    }
    if (hi < i) hi = i;
    while (hi + 1 < rows.length && rows[hi + 1].ts === t) hi++;
    const windowStartDay = Math.floor((t - W) / DAY);
    const pastDays: number[] = [];
    for (const [d, s] of daySums) if (d >= windowStartDay - historyDays && d <= windowStartDay) pastDays.push(s);
    const own = pastDays.length >= minHistoryDays;
    visit({
      i,
      lo,
      hi,
      typicalDay: own ? median(pastDays) : segmentTypicalDay(rows[i]),
      ownHistoryDays: pastDays.length,
      pastDays,
      pastMax,
    });
  }
}

/** Scores a key's candidate windows with the fitted models (one batch per key). */
export interface WindowModelScorer {
  score(vectors: number[][]): RuleHit[][];
}

/**
 * Scans the windows of one key (one account and direction, sorted by time) and turns firing windows into
 * alert episodes, per method: the rules, and the unsupervised models on candidate windows (2..maxParts
 * parts, at least split.minSum). Firing windows that overlap in time form one chain; the chain's alert holds
 * the members of its highest-scoring window (ties in the same second are in each other's window).
 */
export function buildEpisodes(
  rows: WindowRow[],
  config: DetectionConfig,
  runId: string,
  segmentTypicalDay: SegmentTypicalDay = () => Number.POSITIVE_INFINITY,
  models?: WindowModelScorer,
): Alert[] {
  const W = Math.round(config.windowHours * 3600);
  const split = config.rules.split;
  const windows: { w: KeyWindow; hits: RuleHit[] }[] = [];
  const candidates: number[] = [];
  const vectors: number[][] = [];
  scanKeyWindows(rows, config, segmentTypicalDay, (w) => {
    const hits = evaluateRules(rows[w.i], config);
    const n = w.hi - w.lo + 1;
    if (n >= split.minParts && n <= split.maxParts) {
      const h = splitHit(rows, w.lo, w.hi, w.pastDays, w.pastMax, w.typicalDay, config);
      if (h) hits.push(h);
      if (models) {
        let total = 0;
        for (let j = w.lo; j <= w.hi; j++) total += Number(rows[j].amount);
        if (total >= split.minSum) {
          candidates.push(windows.length);
          vectors.push(windowVector(rows, w.lo, w.hi, w.typicalDay));
        }
      }
    }
    windows.push({ w, hits });
  });
  if (models && vectors.length > 0) {
    const scored = models.score(vectors);
    candidates.forEach((k, j) => windows[k].hits.push(...scored[j]));
  }

  const chains = new Map<string, Chain>();
  const closed: Chain[] = [];
  for (const { w, hits } of windows) {
    const t = rows[w.i].ts;
    for (const hit of hits) {
      const c = chains.get(hit.method);
      if (c && t - W <= c.lastAnchorTs) {
        c.lastAnchorTs = t;
        if (hit.score > c.best.score) Object.assign(c, { best: hit, lo: w.lo, hi: w.hi });
      } else {
        if (c) closed.push(c);
        chains.set(hit.method, { best: hit, lo: w.lo, hi: w.hi, lastAnchorTs: t });
      }
    }
  }
  closed.push(...chains.values());
  return closed.map((c) => {
    const members = rows.slice(c.lo, c.hi + 1);
    const first = members[0];
    return {
      alert_id: alertIdOf(c.best.method, first.account_number, first.direction, first.tx_id),
      run_id: runId,
      method: c.best.method,
      entity_type: 'account',
      user_id: first.user_id,
      account_number: first.account_number,
      merchant_id: mostCommon(members.map((m) => m.merchant_id)),
      direction: first.direction,
      window_start: first.transaction_date,
      window_end: members[members.length - 1].transaction_date,
      n_tx: members.length,
      total_amount: sumDecimals(members.map((m) => m.amount)),
      score: Math.round(c.best.score * 1e6) / 1e6,
      threshold: c.best.threshold,
      reasons: c.best.explain ? c.best.explain() : c.best.reason,
      transaction_ids: members.map((m) => m.tx_id),
    } satisfies Alert;
  });
}
