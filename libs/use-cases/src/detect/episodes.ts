import { createHash } from 'node:crypto';
import { sumDecimals, type Alert, type DetectionConfig } from '@splitwatch/core';
import { evaluateRules, type RuleHit, type WindowRow } from './rules';

/** Deterministic alert id: the same episode found again by a re-run gets the same id. */
export function alertIdOf(method: string, account: string, direction: string, firstTxId: string): string {
  return createHash('sha256').update(`${method}|account|${account}|${direction}|${firstTxId}`).digest('hex').slice(0, 32);
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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

/**
 * Scans the windows of one key (one account and direction, sorted by time) and turns firing windows into
 * alert episodes, per method. Firing windows that overlap in time form one chain; the chain's alert holds
 * the members of its highest-scoring window (ties in the same second are in each other's window).
 */
export function buildEpisodes(
  rows: WindowRow[],
  config: DetectionConfig,
  runId: string,
  segmentTypicalDay: SegmentTypicalDay = () => Number.POSITIVE_INFINITY,
): Alert[] {
  const W = Math.round(config.windowHours * 3600);
  const histSeconds = config.rules.split.historyDays * DAY;
  const chains = new Map<string, Chain>();
  const closed: Chain[] = [];
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
    const hits = evaluateRules(rows[i], config);
    if (config.rules.split.enabled) {
      const n = hi - lo + 1;
      if (n >= config.rules.split.minParts && n <= config.rules.split.maxParts) {
        const windowStartDay = Math.floor((t - W) / DAY);
        const past: number[] = [];
        for (const [d, s] of daySums) if (d * DAY >= t - W - histSeconds && d <= windowStartDay) past.push(s);
        const h = splitHit(rows, lo, hi, past, pastMax, segmentTypicalDay(rows[i]), config);
        if (h) hits.push(h);
      }
    }
    for (const hit of hits) {
      const c = chains.get(hit.method);
      if (c && t - W <= c.lastAnchorTs) {
        c.lastAnchorTs = t;
        if (hit.score > c.best.score) Object.assign(c, { best: hit, lo, hi });
      } else {
        if (c) closed.push(c);
        chains.set(hit.method, { best: hit, lo, hi, lastAnchorTs: t });
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
      reasons: c.best.reason,
      transaction_ids: members.map((m) => m.tx_id),
    } satisfies Alert;
  });
}
