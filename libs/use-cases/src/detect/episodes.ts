import { createHash } from 'node:crypto';
import { rulesFor, sumDecimals, type Alert, type DetectionConfig, type RuleSettings } from '@splitwatch/core';
import { evaluateRules, type RuleHit, type WindowRow } from './rules';
import { SPLIT_SCORE_MODEL } from './split-weights';
import {
  splitEvidence,
  splitScore,
  splitTerms,
  type SplitBaseline,
  type SplitEvidence,
  type SplitEvidenceName,
  type SplitScoreModel,
} from './split-score';
import { median, windowVector } from './window-vector';
import { OWNER_PAST_AMOUNTS, type OtherKeysHistory } from './owner-history';

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

/**
 * The segment's typical active-day total, for keys without enough history of their own, as of `beforeDay` (days
 * since 1970-01-01): it may only use days before it, so a window never sees the future through it either.
 */
export type SegmentTypicalDay = (row: WindowRow, beforeDay: number) => number;

/**
 * The split-pattern rule on one window (rows[lo..hi] of a key, in time order): 2..maxParts parts, at least
 * `minSum` in total, scored by how much the window looks like one amount cut into pieces rather than an ordinary
 * busy day. The score is in log2 points over the terms of SPLIT_EVIDENCE (each 0 at a reference window):
 * gradient-boosted trees fitted by `npm run fit:split` on labelled synthetic worlds whose seeds the evaluation does
 * not use (split-weights.ts; a linear model of one weight per term is also accepted), so the score reads as the
 * log2 odds that the window is a split, shifted so that 0 is the operating point with the best mean F2 (recall
 * weighted twice) on those worlds. The reason splits the score into a base and one contribution per term.
 * It fires at `minScore` (or at `floor` when given: the ensemble's split candidates, reported against the same
 * threshold); every term that moves the score is shown in the reason, written only when an alert shows the window.
 */
export function splitHit(
  rows: WindowRow[],
  lo: number,
  hi: number,
  w: SplitBaseline,
  config: DetectionConfig,
  model: SplitScoreModel = SPLIT_SCORE_MODEL,
  floor?: number,
): RuleHit | null {
  const r = rulesFor(config, rows[hi].merchant_id, rows[hi].direction).split;
  if (!r.enabled) return null;
  const e = splitEvidence(rows, lo, hi, w, r);
  if (!e) return null;
  const score = splitScore(e, model);
  if (!(score >= (floor ?? r.minScore))) return null;
  const hit: RuleHit = { method: 'rule:split', score, threshold: r.minScore, reason: `split score ${score.toFixed(2)}` };
  // The whole reason is written only for the window an alert finally shows, and once: a split candidate is a copy of
  // this hit, and its chain often shows the same window as the rule's.
  let reason: string | undefined;
  hit.explain = () => (reason ??= splitReason(e, splitTerms(e, model), w, config, score, r));
  return hit;
}

function splitReason(
  e: SplitEvidence,
  { base, terms: t }: { base: number; terms: Record<SplitEvidenceName, number> },
  w: SplitBaseline,
  config: DetectionConfig,
  score: number,
  r: RuleSettings['split'],
): string {
  const typical = Math.max(w.typicalDay, 1e-9);
  const terms: [number, string][] = [
    [t.material, `${e.n} parts totalling ${money(e.sum)} in ${config.windowHours} h = ${e.ratio.toFixed(1)}× the ${typicalText(w, typical)}`],
    [t.pace + t.slowPace, `parts ${formatGap(e.gapMinutes)} apart (median)`],
    [t.parts + t.moreThanTwo, `${e.n} parts`],
    [t.sizes, e.cv <= 0.2 ? `parts of similar size (cv ${e.cv.toFixed(2)})` : `part sizes vary (cv ${e.cv.toFixed(2)})`],
    [t.dominance, `largest part ${Math.round(100 * e.share)}% of the total`],
    [t.equalParts, e.repeated > 0 ? `${e.repeated} of ${e.n} parts repeat an amount exactly` : "no part repeats another's amount"],
    [t.smallestPart, `smallest part ${money(e.smallest)} = ${(e.smallest / Math.max(e.typicalAmount, 1e-9)).toFixed(1)}× the ${w.pastTx > 0 ? "key's typical amount" : "segment's typical day"} ${money(e.typicalAmount)}`],
    [t.merchants, e.merchants === 1 ? 'one merchant' : `${e.merchants} merchants`],
    [t.branches, e.branches === 1 ? 'one branch' : `${e.branches} branches`],
    [t.cap, capText(e, w)],
    [t.familiar, e.familiar > 0 ? `${e.familiar} of ${e.n} parts repeat amounts the key had before` : 'no part repeats an amount the key had before'],
    [t.noHistory + t.pastTx, w.pastTx === 0 ? 'no earlier transactions of the key' : `${w.pastTx} earlier transactions of the key`],
    [t.shortHistory, historyText(w)],
    ...(e.activeDays === 0
      ? ([[t.busyDays + t.bigDays, 'no active day of the key in the history window']] as [number, string][])
      : ([
          [t.busyDays, busyDaysText(e)],
          [t.bigDays, `${e.bigDays === 0 ? 'no' : e.bigDays} active day${e.bigDays > 1 ? 's' : ''} of the key in the history window reached ${money(e.sum)}`],
        ] as [number, string][])),
    [t.total, `total ${money(e.sum)} in absolute terms`],
    [t.logDays, logDaysText(w.logDays, r.historyDays)],
    [t.ownerMaterial + t.ownerSmallest + t.ownerPastTx, ownerText(e, w)],
    [t.credit, e.credit ? 'a credit key (the account is the destination)' : 'a debit key (the account is the origin)'],
  ];
  const signed = (p: number) => `${p >= 0 ? '+' : ''}${p.toFixed(2)}`;
  const shown = terms.filter(([p], k) => k === 0 || Math.abs(p) >= 0.005);
  return `base ${signed(base)}; ${shown.map(([p, text]) => `${text} (${signed(p)})`).join('; ')}; score ${score.toFixed(2)} (threshold ${r.minScore})`;
}

function ownerText(e: SplitEvidence, w: SplitBaseline): string {
  if (!(e.ownerAmount > 0)) return "no earlier transactions of the owner on its other accounts or direction";
  const times = (v: number) => `${(v / e.ownerAmount).toFixed(1)}×`;
  return (
    `total ${times(e.sum)} and smallest part ${times(e.smallest)} the owner's typical amount ${money(e.ownerAmount)} on its ` +
    `other accounts or direction (median of its last ${w.ownerPastTx} earlier transactions there)`
  );
}

function logDaysText(days: number, historyDays: number): string {
  if (days >= historyDays) return `the log covers the whole ${historyDays}-day history window`;
  if (days < 1) return 'the log starts less than a day before the window';
  return `the log starts ${Math.floor(days)} day${Math.floor(days) > 1 ? 's' : ''} before the window`;
}

function busyDaysText(e: SplitEvidence): string {
  const days = `the key's ${e.activeDays} active days in the history window`;
  return e.busyDays === 0 ? `one transaction on each of ${days}` : `two or more transactions on ${e.busyDays} of ${days}`;
}

function capText(e: SplitEvidence, w: SplitBaseline): string {
  if (w.pastMax === null) return 'no past maximum of the key';
  return e.capParts > 0
    ? `${e.capParts} part(s) equal to the key's past maximum ${money(w.pastMax)}`
    : `no part at the key's past maximum ${money(w.pastMax)}`;
}

function historyText(w: SplitBaseline): string {
  if (w.typicalSource === 'key-amounts') return 'too few active days of the key for a typical day';
  if (w.typicalSource === 'segment') return 'no active days of the key';
  return `${w.pastDays.length} active days of the key in the history window`;
}

function typicalText(w: SplitBaseline, typical: number): string {
  if (w.typicalSource === 'key-days') return `key's typical day ${money(typical)} (median of ${w.pastDays.length} past active days)`;
  if (w.typicalSource === 'key-amounts') {
    return `key's typical amount ${money(typical)} (median of its ${w.pastTx} earlier transactions; ${w.pastDays.length} active days in the history window)`;
  }
  return `segment's typical day ${money(typical)} (key has ${w.pastTx} earlier transactions)`;
}

function formatGap(minutes: number): string {
  if (minutes < 1) return `${Math.round(minutes * 60)} s`;
  if (minutes < 90) return `${Math.round(minutes)} min`;
  return `${(minutes / 60).toFixed(1)} h`;
}

interface Chain {
  best: RuleHit;
  lo: number;
  hi: number;
  lastAnchorTs: number;
}

/** One window of a key: the anchor transaction rows[i] and its window rows[lo..hi] (same-second peers included). */
export interface KeyWindow extends SplitBaseline {
  i: number;
  lo: number;
  hi: number;
}

/** A key whose owner has no other key has no typical amount there. */
const noOwnerAmount = () => Number.NaN;

/** Earlier amounts the key-amounts baseline looks at. */
const PAST_AMOUNTS = 200;

/**
 * Walks the windows of one key in time order, with what each needs from the key's past (strictly before the
 * window: active-day totals of the last `historyDays`, the largest amount). No window sees the future.
 * `logStart` is the log's first transaction (epoch seconds, over every key; see {@link LOG_START_SQL}); left out,
 * the log is taken to reach back past every history window. `others` is the history of the key's owner on its other
 * keys ({@link OtherKeysHistory}); left out, the owner has none.
 */
export function scanKeyWindows(
  rows: WindowRow[],
  config: DetectionConfig,
  segmentTypicalDay: SegmentTypicalDay,
  visit: (w: KeyWindow) => void,
  logStart = Number.NEGATIVE_INFINITY,
  others?: OtherKeysHistory,
): void {
  const W = Math.round(config.windowHours * 3600);
  const pastByDay = new Map<number, { sum: number; count: number }>(); // day → transactions that left the window (the past)
  const firstSeen = new Map<string, number>(); // amount (canonical text) → index of the first row that had it
  let pastMax: number | null = null;
  const pastAmounts: number[] = [];
  let amountMedianAt = -1;
  let amountMedian = Number.NaN;
  let lo = 0;
  let hi = -1;
  for (let i = 0; i < rows.length; i++) {
    const t = rows[i].ts;
    while (rows[lo].ts < t - W) {
      const a = Number(rows[lo].amount);
      const d = Math.floor(rows[lo].ts / DAY);
      const day = pastByDay.get(d);
      if (day) {
        day.sum += a;
        day.count++;
      } else pastByDay.set(d, { sum: a, count: 1 });
      if (!firstSeen.has(rows[lo].amount)) firstSeen.set(rows[lo].amount, lo);
      if (pastMax === null || a > pastMax) pastMax = a;
      pastAmounts.push(a);
      lo++;
    }
    if (hi < i) hi = i;
    while (hi + 1 < rows.length && rows[hi + 1].ts === t) hi++;
    const { historyDays, minHistoryDays } = rulesFor(config, rows[i].merchant_id, rows[i].direction).split;
    const windowStartDay = Math.floor((t - W) / DAY);
    const pastDays: number[] = [];
    const pastDayCounts: number[] = [];
    for (const [d, { sum, count }] of pastByDay) {
      if (d >= windowStartDay - historyDays && d <= windowStartDay) {
        pastDays.push(sum);
        pastDayCounts.push(count);
      }
    }
    const own = pastDays.length >= minHistoryDays;
    const source = own ? 'key-days' : lo > 0 ? 'key-amounts' : 'segment';
    const pastCount = lo;
    const anchor = rows[i];
    // The median of the earlier amounts changes only when a transaction leaves the window: computed on demand,
    // once per window start. Both lookups read only the rows before this window, whenever they are called.
    const typicalAmount = () => {
      if (pastCount === 0) return segmentTypicalDay(anchor, windowStartDay);
      if (amountMedianAt !== pastCount) {
        amountMedian = median(pastAmounts.slice(Math.max(0, pastCount - PAST_AMOUNTS), pastCount));
        amountMedianAt = pastCount;
      }
      return amountMedian;
    };
    const hadAmount = (amount: string) => (firstSeen.get(amount) ?? pastCount) < pastCount;
    const logDays = Math.max(0, Math.min(historyDays, (rows[lo].ts - logStart) / DAY));
    // The owner's other keys before the window's first part: counted once, their median read on demand.
    const ownerEnd = others ? others.countBefore(rows[lo].ts) : 0;
    visit({
      i,
      lo,
      hi,
      typicalDay: own ? median(pastDays) : lo > 0 ? typicalAmount() : segmentTypicalDay(anchor, windowStartDay),
      typicalSource: source,
      typicalAmount,
      pastTx: lo,
      pastDays,
      pastDayCounts,
      hadAmount,
      pastMax,
      logDays,
      ownerAmount: others ? () => others.medianOfFirst(ownerEnd) : noOwnerAmount,
      ownerPastTx: Math.min(OWNER_PAST_AMOUNTS, ownerEnd),
    });
  }
}

/**
 * Split episodes down to `ensemble.splitDepth` points below the split rule's threshold, chained like any method's
 * alerts but handed only to the ensemble (see {@link scanEpisodes}'s `splitCandidates`); never stored as alerts.
 */
export const SPLIT_CANDIDATE_METHOD = 'candidate:split';

/** Scores a key's candidate windows with the fitted models (one batch per key). */
export interface WindowModelScorer {
  score(vectors: number[][]): RuleHit[][];
}

/**
 * Whether rows[lo..hi] is a candidate window for the unsupervised models: `split.minParts..split.maxParts` parts
 * (under its anchor's segment rules) and at least `split.minSum` in total. FitModels samples exactly these windows
 * and Detect scores exactly these.
 */
export function isModelCandidate(rows: WindowRow[], lo: number, hi: number, split: RuleSettings['split']): boolean {
  const n = hi - lo + 1;
  return n >= split.minParts && n <= split.maxParts && reachesMinSum(rows, lo, hi, split);
}

function reachesMinSum(rows: WindowRow[], lo: number, hi: number, split: RuleSettings['split']): boolean {
  let total = 0;
  for (let j = lo; j <= hi; j++) total += Number(rows[j].amount);
  return total >= split.minSum;
}

/** One key's windows with their rule hits, and the candidate windows' vectors still to be scored by the models. */
export interface PendingEpisodes {
  rows: WindowRow[];
  windows: { w: KeyWindow; hits: RuleHit[] }[];
  /** Index into `windows` of each vector in `vectors`. */
  candidates: number[];
  vectors: number[][];
}

/**
 * First half of {@link buildEpisodes}: scans one key's windows (one account and direction, sorted by time),
 * applies the rules, and, when `withVectors`, collects the vectors of the candidate windows (2..maxParts parts, at
 * least split.minSum) for the models. With `splitCandidates`, it also yields the ensemble's split candidates
 * (method {@link SPLIT_CANDIDATE_METHOD}). Detect scores the vectors of many keys in one batch, then calls
 * {@link finishEpisodes} for each key.
 */
export function scanEpisodes(
  rows: WindowRow[],
  config: DetectionConfig,
  segmentTypicalDay: SegmentTypicalDay,
  withVectors: boolean,
  splitCandidates = false,
  logStart?: number,
  others?: OtherKeysHistory,
): PendingEpisodes {
  const windows: PendingEpisodes['windows'] = [];
  const candidates: number[] = [];
  const vectors: number[][] = [];
  const depth = splitCandidates ? config.ensemble.splitDepth : 0;
  scanKeyWindows(rows, config, segmentTypicalDay, (w) => {
    const hits = evaluateRules(rows[w.i], config);
    const split = rulesFor(config, rows[w.i].merchant_id, rows[w.i].direction).split;
    const n = w.hi - w.lo + 1;
    if (n >= split.minParts && n <= split.maxParts) {
      const h = splitHit(rows, w.lo, w.hi, w, config, SPLIT_SCORE_MODEL, split.minScore - depth);
      if (h && h.score >= split.minScore) hits.push(h);
      // Candidates chain on their own (every window down to the depth), so the rule's alerts stay as they are.
      if (h && depth > 0) hits.push({ ...h, method: SPLIT_CANDIDATE_METHOD });
      if (withVectors && reachesMinSum(rows, w.lo, w.hi, split)) {
        candidates.push(windows.length);
        vectors.push(windowVector(rows, w.lo, w.hi, w.typicalDay));
      }
    }
    windows.push({ w, hits });
  }, logStart, others);
  return { rows, windows, candidates, vectors };
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
  logStart?: number,
  others?: OtherKeysHistory,
): Alert[] {
  const pending = scanEpisodes(rows, config, segmentTypicalDay, models !== undefined, false, logStart, others);
  const modelHits = models && pending.vectors.length > 0 ? models.score(pending.vectors) : null;
  return finishEpisodes(pending, modelHits, config, runId);
}

/**
 * Second half of {@link buildEpisodes}: adds the models' hits (one list per vector of `pending.vectors`, or null
 * when no model ran) to their windows and chains the firing windows into alert episodes.
 */
export function finishEpisodes(
  pending: PendingEpisodes,
  modelHits: RuleHit[][] | null,
  config: DetectionConfig,
  runId: string,
): Alert[] {
  const { rows, windows, candidates } = pending;
  const W = Math.round(config.windowHours * 3600);
  if (modelHits) candidates.forEach((k, j) => windows[k].hits.push(...modelHits[j]));

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
    const total = sumDecimals(members.map((m) => m.amount));
    const why = c.best.explain ? c.best.explain() : c.best.reason;
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
      total_amount: total,
      score: Math.round(c.best.score * 1e6) / 1e6,
      threshold: c.best.threshold,
      // The parts' sum is the best estimate of the one amount they were cut from (what an analyst asks first).
      reasons: `${why}; likely original amount ${money(Number(total))} in ${members.length} parts`,
      transaction_ids: members.map((m) => m.tx_id),
    } satisfies Alert;
  });
}
