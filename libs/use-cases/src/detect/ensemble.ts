import { DEFAULT_CONFIG, type Alert } from '@splitwatch/core';
import { alertIdOf, SPLIT_CANDIDATE_METHOD } from './episodes';

export const ENSEMBLE_METHOD = 'ensemble';

/**
 * Most points a method other than the split rule brings before the penalty: a z-score can be in the thousands for a
 * quiet key, and must not push a generic anomaly above the split episodes (on a Nequi-sparsity world of 2.1M rows,
 * uncapped z-scores filled the daily budget and cut the ensemble's precision at the budget from 64% to 28%).
 */
export const NON_SPLIT_CAP = 2;

/**
 * How far a method that does not look for the split pattern ranks below it. Count, sum, z-score and the
 * unsupervised models flag unusual windows of any kind; on the labelled worlds, their alerts that the split rule
 * did not also raise were 1–7% true (against 32–100% for the split rule's), so with the cap ({@link NON_SPLIT_CAP})
 * they score at most 2 − 8 = −6: at or below every split candidate at the default `ensemble.splitDepth` (6 points
 * under the rule's threshold), which are more often true. It is the cap plus that depth (it was 4 until config
 * 2026-11-30.6, which let them in among the candidates 2–5 points down; 7, −5 at a depth of 5, until .8). With 7: once the
 * ensemble's whole list holds 95% of the episodes it was 19.6–23.8% precise on the default worlds (10.2–13.7% with
 * 4), 32.6% on small seed 11 (18.4%) and 42.0% on a tenth of Nequi (38.1%); 8.3% on small seed 1 (9.7%); penalties
 * 5, 6 and 8 measured within a point or two of it. With 8 and a depth of 6 (300 × 4 split trees): 23.9 / 21.2 /
 * 26.5% on the default worlds (23.7 / 20.7 / 26.5% with 7 and 5), and every one of the six quality worlds reaches
 * 95% recall.
 */
export const NON_SPLIT_PENALTY = NON_SPLIT_CAP + DEFAULT_CONFIG.ensemble.splitDepth;

/**
 * Points an episode gains for each other method that flagged it (every agreeing method is named in the reasons
 * either way). Since config 2026-11-30.6 (it was 0.5): the fitted split score already weighs what makes a window
 * split-like, and half a point per agreeing generic detector pushed busy ordinary days above real splits — the
 * recall at precision ≥ 0.9 of the budgeted ensemble was 61.7–76.0% on the quality worlds with 0.5 and 67.3–77.1%
 * with 0.25 (0 measured the same as 0.25 overall: 68.2–75.0%), at the same budgeted precision and recall.
 */
export const AGREEMENT_POINTS = 0.25;

/**
 * A method's score on one comparable scale, in the "evidence points" rule:split reports: the split score as
 * is; for ratio and z-score rules, log2 of how far past the threshold they fired, plus one.
 */
export function normalisedScore(a: Alert): number {
  if (a.method === 'rule:split') return a.score;
  const ratio = a.method === 'rule:zscore' ? a.score / Math.max(a.threshold, 1e-9) : a.score;
  return Math.log2(Math.max(ratio, 1e-9)) + 1;
}

const isSplit = (a: Alert) => a.method === 'rule:split' || a.method === SPLIT_CANDIDATE_METHOD;

/**
 * A group's ranking score from one of its alerts: the split score (of a rule:split alert or of a split candidate
 * below the rule's threshold), or another method's (capped) less the penalty.
 */
function rankScore(a: Alert): number {
  return isSplit(a) ? a.score : Math.min(normalisedScore(a), NON_SPLIT_CAP) - NON_SPLIT_PENALTY;
}

/**
 * Ranks every method's alerts as one list: alerts on the same account and direction that share transactions
 * are one episode, shown with the members of its strongest alert and scored by it — the split score when the rule
 * fired or a split candidate (below the rule's threshold, see SPLIT_CANDIDATE_METHOD) is there, the higher one
 * winning, else the best other method's normalised score, capped at {@link NON_SPLIT_CAP}, less
 * {@link NON_SPLIT_PENALTY} — plus {@link AGREEMENT_POINTS} per other method that agrees, with every agreeing method named
 * in the reasons. A candidate is never a method of its own: it neither counts as agreement nor is named as one.
 */
export function ensembleAlerts(alerts: Alert[], runId: string): Alert[] {
  return episodeGroups(alerts).map((g) => ensembleAlertOf(g, runId));
}

interface EpisodeGroup {
  best: Alert;
  methods: Set<string>;
  score: number;
}

/**
 * The episodes of {@link ensembleAlerts}: alerts in window order, each joining the first group (in creation order)
 * of its account and direction that shares a transaction with it. Each key keeps, per transaction id, the first group
 * holding it, so finding that group costs a lookup per member rather than a scan of the key's groups.
 */
function episodeGroups(alerts: Alert[]): EpisodeGroup[] {
  const groups: EpisodeGroup[] = [];
  const byKey = new Map<string, Map<string, number>>(); // key → transaction id → index of the first group holding it
  const sorted = [...alerts].sort((a, b) =>
    a.window_start < b.window_start
      ? -1
      : a.window_start > b.window_start
        ? 1
        : a.alert_id < b.alert_id
          ? -1
          : 1,
  );
  for (const a of sorted) {
    const key = `${a.account_number ?? a.user_id}|${a.direction}`;
    let firstHolder = byKey.get(key);
    if (!firstHolder) byKey.set(key, (firstHolder = new Map()));
    const score = rankScore(a);
    let at = -1;
    for (const id of a.transaction_ids) {
      const g = firstHolder.get(id);
      if (g !== undefined && (at < 0 || g < at)) at = g;
    }
    const named = a.method === SPLIT_CANDIDATE_METHOD ? [] : [a.method];
    if (at >= 0) {
      const group = groups[at];
      for (const id of a.transaction_ids) {
        const g = firstHolder.get(id);
        if (g === undefined || g > at) firstHolder.set(id, at);
      }
      for (const m of named) group.methods.add(m);
      // On a tie the stored alert is shown rather than the candidate of the same window.
      const better =
        score > group.score ||
        (score === group.score && group.best.method === SPLIT_CANDIDATE_METHOD && named.length > 0);
      if (better) Object.assign(group, { best: a, score });
    } else {
      for (const id of a.transaction_ids) if (!firstHolder.has(id)) firstHolder.set(id, groups.length);
      groups.push({ best: a, methods: new Set(named), score });
    }
  }
  return groups;
}

/** A group's score in the ensemble: its best alert's, plus the agreement points. */
function groupScore(g: EpisodeGroup): number {
  const agreeing = g.methods.size - (g.best.method === SPLIT_CANDIDATE_METHOD ? 0 : 1);
  return Math.round((g.score + AGREEMENT_POINTS * agreeing) * 1e6) / 1e6;
}

const groupIdOf = (g: EpisodeGroup) =>
  alertIdOf(ENSEMBLE_METHOD, g.best.account_number ?? g.best.user_id, g.best.direction, g.best.transaction_ids[0]);

function ensembleAlertOf(g: EpisodeGroup, runId: string, alertId = groupIdOf(g)): Alert {
  const candidate = g.best.method === SPLIT_CANDIDATE_METHOD;
  // Methods that agree with the one shown: every named method when a candidate is shown.
  const names = [...g.methods].sort();
  if (candidate)
    names.push(`split pattern below the rule:split threshold (${g.best.score.toFixed(2)} < ${g.best.threshold})`);
  return {
    ...g.best,
    alert_id: alertId,
    run_id: runId,
    method: ENSEMBLE_METHOD,
    score: groupScore(g),
    threshold: 0,
    reasons: `${names.join(' + ')} — ${g.best.reasons}`,
  };
}

/**
 * `applyDailyBudget(ensembleAlerts(alerts, runId), perDay)`, writing out only the alerts the budget keeps (the
 * sink's case: a year of a real log's alerts and candidates make ~500k episodes, of which ~8k are kept).
 */
export function budgetedEnsemble(alerts: Alert[], runId: string, perDay: number): Alert[] {
  const ensemble = new BudgetedEnsemble(runId, perDay);
  ensemble.add(alerts);
  return ensemble.result();
}

interface RankedGroup {
  g: EpisodeGroup;
  alert_id: string;
  score: number;
  window_end: string;
}

/**
 * {@link budgetedEnsemble} over slices of the alerts added one at a time, holding only each day's best episodes
 * between them (at most twice the budget a day), never the slices themselves: the sink ranks a run's alerts one
 * Detect partition at a time. Each account and direction's alerts must all be in one slice (a partition holds whole
 * accounts), since an episode is grouped within its slice; then the result equals the ranking of every slice at once.
 */
export class BudgetedEnsemble {
  private readonly byDay = new Map<string, RankedGroup[]>();

  constructor(
    private readonly runId: string,
    private readonly perDay: number,
  ) {}

  /** Ranks one slice's alerts and split candidates, keeping each day's best episodes so far. */
  add(alerts: Alert[]): void {
    for (const g of episodeGroups(alerts)) {
      const ranked: RankedGroup = { g, alert_id: groupIdOf(g), score: groupScore(g), window_end: g.best.window_end };
      const day = ranked.window_end.slice(0, 10);
      const list = this.byDay.get(day) ?? [];
      this.byDay.set(day, list);
      list.push(ranked);
      // Trimmed to the budget once twice its size: a day's best stay, in amortised constant time per episode.
      if (list.length >= 2 * this.perDay && list.length > this.perDay) this.byDay.set(day, applyDailyBudget(list, this.perDay));
    }
  }

  /** The ensemble alerts of every slice added, in applyDailyBudget's order. */
  result(): Alert[] {
    const kept = applyDailyBudget([...this.byDay.values()].flat(), this.perDay);
    return kept.map((r) => ensembleAlertOf(r.g, this.runId, r.alert_id));
  }
}

/** Keeps the `perDay` best alerts of each day (by the day the episode ends), in score order: the analysts' budget. */
export function applyDailyBudget<T extends Pick<Alert, 'alert_id' | 'score' | 'window_end'>>(alerts: T[], perDay: number): T[] {
  const byDay = new Map<string, T[]>();
  for (const a of alerts) {
    const day = a.window_end.slice(0, 10);
    const list = byDay.get(day) ?? [];
    byDay.set(day, list);
    list.push(a);
  }
  const kept: T[] = [];
  for (const list of byDay.values()) {
    list.sort((a, b) => b.score - a.score || (a.alert_id < b.alert_id ? -1 : 1));
    kept.push(...list.slice(0, perDay));
  }
  return kept.sort((a, b) => b.score - a.score || (a.alert_id < b.alert_id ? -1 : 1));
}
