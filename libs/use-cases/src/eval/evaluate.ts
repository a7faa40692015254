import { Keys, type Alert, type ObjectStore } from '@splitwatch/core';
import { ENSEMBLE_METHOD, ensembleAlerts } from '../detect/ensemble';

/** Ground truth of a labelled world: which transactions belong to which split episode. */
export interface Labels {
  /** `_id` → episode id. */
  episodeOf: Map<string, string>;
  /** episode id → its member `_id`s and scenario tags. */
  episodes: Map<string, { parts: Set<string>; tags: string[] }>;
}

/** Builds Labels from `labels.csv` rows (`_id,episode_id,scenario`, scenario tags `|`-separated). */
export function labelsFromRows(rows: { _id: string; episode_id: string; scenario: string }[]): Labels {
  const episodeOf = new Map<string, string>();
  const episodes = new Map<string, { parts: Set<string>; tags: string[] }>();
  for (const r of rows) {
    episodeOf.set(r._id, r.episode_id);
    let ep = episodes.get(r.episode_id);
    if (!ep) {
      ep = { parts: new Set(), tags: r.scenario ? r.scenario.split('|').filter(Boolean) : [] };
      episodes.set(r.episode_id, ep);
    }
    ep.parts.add(r._id);
  }
  return { episodeOf, episodes };
}

export interface PrPoint {
  k: number;
  precision: number;
  recall: number;
  score: number;
}

export interface MethodMetrics {
  method: string;
  alerts: number;
  truePositives: number;
  precision: number;
  episodesFound: number;
  recall: number;
  f1: number;
  /** Precision and recall of the top-k alerts by score. */
  atBudget: { k: number; precision: number; recall: number }[];
  recallByTag: Record<string, { episodes: number; found: number; recall: number }>;
  /** The quality goal's two axes read off the ranked list (see {@link QUALITY_GOAL}). */
  precisionAtGoalRecall: number | null;
  recallAtGoalPrecision: number;
  curve: PrPoint[];
}

/** The product's detection-quality goal: precision ≥ 0.90 at episode recall ≥ 0.95. */
export const QUALITY_GOAL = { precision: 0.9, recall: 0.95 } as const;

/** Best precision among the ranked list's prefixes whose episode recall reaches `recall` (null: never reached). */
export function precisionAtRecall(curve: readonly PrPoint[], recall: number): number | null {
  let best: number | null = null;
  for (const p of curve) if (p.recall >= recall && (best === null || p.precision > best)) best = p.precision;
  return best;
}

/** Best episode recall among the ranked list's prefixes whose precision is at least `precision` (0 when none). */
export function recallAtPrecision(curve: readonly PrPoint[], precision: number): number {
  let best = 0;
  for (const p of curve) if (p.precision >= precision && p.recall > best) best = p.recall;
  return best;
}

export interface Evaluation {
  episodes: number;
  labelledTransactions: number;
  methods: MethodMetrics[];
}

/**
 * The episode an alert points at: the labelled episode holding the most of its transactions, if that is at
 * least half of them (the alert is then a true positive).
 */
export function matchAlert(alert: Alert, labels: Labels): { episode: string | null; count: number } {
  const counts = new Map<string, number>();
  for (const id of alert.transaction_ids) {
    const ep = labels.episodeOf.get(id);
    if (ep) counts.set(ep, (counts.get(ep) ?? 0) + 1);
  }
  let best: string | null = null;
  let n = 0;
  for (const [ep, c] of counts) if (c > n || (c === n && best !== null && ep < best)) [best, n] = [ep, c];
  return n * 2 >= alert.transaction_ids.length && n > 0 ? { episode: best, count: n } : { episode: null, count: n };
}

/** Episodes found by an alert: it holds at least half of the episode's parts, and at least two. */
export function episodesFoundBy(alert: Alert, labels: Labels): string[] {
  const counts = new Map<string, number>();
  for (const id of alert.transaction_ids) {
    const ep = labels.episodeOf.get(id);
    if (ep) counts.set(ep, (counts.get(ep) ?? 0) + 1);
  }
  const found: string[] = [];
  for (const [ep, c] of counts) {
    const parts = labels.episodes.get(ep)!.parts.size;
    if (c >= 2 && c * 2 >= parts) found.push(ep);
  }
  return found;
}

const f1 = (p: number, r: number) => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

/** Precision, recall, F1, top-k budgets, recall per scenario tag and the PR curve of one ranked alert list. */
export function evaluateAlerts(method: string, alerts: Alert[], labels: Labels, budgets: number[] = [10, 50, 100, 500, 1000]): MethodMetrics {
  const ranked = [...alerts].sort((a, b) => b.score - a.score || (a.alert_id < b.alert_id ? -1 : 1));
  const total = labels.episodes.size;
  const found = new Set<string>();
  let tp = 0;
  const curve: PrPoint[] = [];
  const atBudget: MethodMetrics['atBudget'] = [];
  ranked.forEach((a, i) => {
    if (matchAlert(a, labels).episode !== null) tp++;
    for (const ep of episodesFoundBy(a, labels)) found.add(ep);
    const k = i + 1;
    curve.push({ k, precision: tp / k, recall: total ? found.size / total : 0, score: a.score });
    if (budgets.includes(k)) atBudget.push({ k, precision: tp / k, recall: total ? found.size / total : 0 });
  });
  for (const k of budgets) if (k > ranked.length && !atBudget.some((b) => b.k === k)) {
    atBudget.push({ k, precision: ranked.length ? tp / ranked.length : 0, recall: total ? found.size / total : 0 });
  }
  const recallByTag: MethodMetrics['recallByTag'] = {};
  for (const [id, ep] of labels.episodes) {
    for (const tag of ep.tags) {
      const t = (recallByTag[tag] ??= { episodes: 0, found: 0, recall: 0 });
      t.episodes++;
      if (found.has(id)) t.found++;
    }
  }
  for (const t of Object.values(recallByTag)) t.recall = t.episodes ? t.found / t.episodes : 0;
  const precision = ranked.length ? tp / ranked.length : 0;
  const recall = total ? found.size / total : 0;
  return {
    method,
    alerts: ranked.length,
    truePositives: tp,
    precision,
    episodesFound: found.size,
    recall,
    f1: f1(precision, recall),
    atBudget: atBudget.sort((a, b) => a.k - b.k),
    recallByTag,
    precisionAtGoalRecall: precisionAtRecall(curve, QUALITY_GOAL.recall),
    recallAtGoalPrecision: recallAtPrecision(curve, QUALITY_GOAL.precision),
    curve,
  };
}

/**
 * Evaluates each method's alerts, and the ensemble: the stored one (budgeted, as analysts see it) when the
 * results hold it, plus the unbudgeted ensemble of every method (`ensemble:all`) for the whole PR curve — with the
 * run's split candidates (`splitCandidates`, never stored as alerts) ranked in it as Sink ranks them.
 */
export function evaluate(alerts: Alert[], labels: Labels, budgets?: number[], splitCandidates: Alert[] = []): Evaluation {
  const methods = [...new Set(alerts.map((a) => a.method))].sort();
  const results = methods.map((m) => evaluateAlerts(m, alerts.filter((a) => a.method === m), labels, budgets));
  const base = alerts.filter((a) => a.method !== ENSEMBLE_METHOD);
  results.push(
    evaluateAlerts(`${ENSEMBLE_METHOD}:all`, ensembleAlerts([...base, ...splitCandidates], base[0]?.run_id ?? ''), labels, budgets),
  );
  return { episodes: labels.episodes.size, labelledTransactions: labels.episodeOf.size, methods: results };
}

/** The split candidates Detect wrote for these runs (files under `alerts/run=<id>/split-candidates/`, never stored). */
export async function readSplitCandidates(objectStore: ObjectStore, runIds: Iterable<string>): Promise<Alert[]> {
  const out: Alert[] = [];
  for (const runId of new Set(runIds))
    for (const part of await objectStore.list(Keys.splitCandidates(runId)))
      out.push(...(JSON.parse(await objectStore.getText(part.key)) as Alert[]));
  return out;
}
