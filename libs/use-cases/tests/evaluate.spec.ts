import { DEFAULT_CONFIG, type Alert } from '@splitwatch/core';
import {
  applyDailyBudget,
  ensembleAlerts,
  evaluate,
  evaluateAlerts,
  labelsFromRows,
  matchAlert,
  precisionAtRecall,
  recallAtPrecision,
  SPLIT_CANDIDATE_METHOD,
} from '../src';

const labels = labelsFromRows([
  { _id: 'a1', episode_id: 'E1', scenario: 'equal|fast' },
  { _id: 'a2', episode_id: 'E1', scenario: 'equal|fast' },
  { _id: 'a3', episode_id: 'E1', scenario: 'equal|fast' },
  { _id: 'b1', episode_id: 'E2', scenario: 'random|slow' },
  { _id: 'b2', episode_id: 'E2', scenario: 'random|slow' },
]);
const alert = (id: string, method: string, score: number, ids: string[], account = 'acc'): Alert => ({
  alert_id: id,
  run_id: 'r',
  method,
  entity_type: 'account',
  user_id: 'u',
  account_number: account,
  merchant_id: 'm',
  direction: 'DEBITO',
  window_start: '2021-01-01 00:00:00',
  window_end: '2021-01-01 01:00:00',
  n_tx: ids.length,
  total_amount: '1.00000000',
  score,
  threshold: 1,
  reasons: 'r',
  transaction_ids: ids,
});

describe('evaluation against labels', () => {
  it('counts an alert as true when at least half of its transactions belong to one episode', () => {
    expect(matchAlert(alert('x', 'm', 1, ['a1', 'z1']), labels).episode).toBe('E1');
    expect(matchAlert(alert('x', 'm', 1, ['a1', 'z1', 'z2']), labels).episode).toBeNull();
  });

  it('finds an episode only with at least half of its parts, and at least two', () => {
    const m = evaluateAlerts('m', [alert('x', 'm', 2, ['a1', 'a2', 'z']), alert('y', 'm', 1, ['b1'])], labels, [1, 2]);
    expect(m).toMatchObject({ alerts: 2, truePositives: 2, precision: 1, episodesFound: 1, recall: 0.5 });
    expect(m.atBudget).toEqual([
      { k: 1, precision: 1, recall: 0.5 },
      { k: 2, precision: 1, recall: 0.5 },
    ]);
    expect(m.recallByTag.fast).toEqual({ episodes: 1, found: 1, recall: 1 });
    expect(m.recallByTag.slow).toEqual({ episodes: 1, found: 0, recall: 0 });
    expect(m.curve.map((p) => p.k)).toEqual([1, 2]);
  });

  it('reads the goal axes off the ranked list: best precision once recall is reached, best recall at a precision', () => {
    // Ranked: E1 found (1/1), a false alert (1/2), E2 found (2/3): recall 0.5, 0.5, 1.
    const m = evaluateAlerts(
      'm',
      [alert('x', 'm', 3, ['a1', 'a2']), alert('f', 'm', 2, ['z1', 'z2']), alert('y', 'm', 1, ['b1', 'b2'])],
      labels,
    );
    expect(m.curve.map((p) => [p.precision, p.recall])).toEqual([
      [1, 0.5],
      [0.5, 0.5],
      [2 / 3, 1],
    ]);
    expect(precisionAtRecall(m.curve, 0.95)).toBeCloseTo(2 / 3, 12);
    expect(precisionAtRecall(m.curve, 0.5)).toBe(1);
    expect(recallAtPrecision(m.curve, 0.9)).toBe(0.5);
    expect(recallAtPrecision(m.curve, 0.6)).toBe(1);
    expect(m.precisionAtGoalRecall).toBeCloseTo(2 / 3, 12);
    expect(m.recallAtGoalPrecision).toBe(0.5);
    const weak = evaluateAlerts('w', [alert('x', 'm', 3, ['a1', 'a2'])], labels);
    expect(weak.precisionAtGoalRecall).toBeNull();
    expect(recallAtPrecision(evaluateAlerts('n', [alert('f', 'm', 1, ['z1'])], labels).curve, 0.9)).toBe(0);
  });

  it('merges overlapping alerts of several methods into one ensemble alert with the strongest members', () => {
    const merged = ensembleAlerts([alert('x', 'rule:sum', 4, ['a1', 'a2']), alert('y', 'rule:count', 1.5, ['a2', 'a3'])], 'r2');
    expect(merged).toHaveLength(1);
    expect(merged[0]).toMatchObject({ method: 'ensemble', run_id: 'r2', transaction_ids: ['a1', 'a2'] });
    // rule:sum 4× its threshold = log2(4) + 1 = 3 points, capped at 2, less 8 (no split pattern), plus a quarter
    // point for rule:count.
    expect(merged[0].score).toBe(-5.75);
    // However far past its threshold, a generic anomaly ranks below a split episode at its threshold (score 0).
    const [huge] = ensembleAlerts([alert('z', 'rule:zscore', 5000, ['b1', 'b2'])], 'r2');
    expect(huge.score).toBe(-6);
    // ... and at or below every split candidate the ensemble ranks by default.
    expect(huge.score).toBeLessThanOrEqual(-DEFAULT_CONFIG.ensemble.splitDepth);
    expect(merged[0].reasons).toMatch(/^rule:count \+ rule:sum — /);
    // The split rule anchors an episode: its members and score lead, even against a larger sum.
    const withSplit = ensembleAlerts(
      [alert('x', 'rule:sum', 16, ['a1', 'a2', 'a3']), alert('s', 'rule:split', 1.25, ['a2', 'a3'])],
      'r2',
    );
    expect(withSplit[0]).toMatchObject({ transaction_ids: ['a2', 'a3'], score: 1.5 });
    const ev = evaluate([alert('x', 'rule:sum', 2, ['a1', 'a2'])], labels);
    expect(ev.methods.map((m) => m.method)).toEqual(['rule:sum', 'ensemble:all']);
  });

  it('ranks split candidates below the rule threshold by their split score, never as a method of their own', () => {
    const candidate = (id: string, score: number, ids: string[]) => ({ ...alert(id, SPLIT_CANDIDATE_METHOD, score, ids), threshold: 0 });
    const out = ensembleAlerts(
      [
        candidate('c1', -0.5, ['a1', 'a2']),
        alert('z', 'rule:zscore', 5000, ['b1', 'b2']),
        candidate('c2', -1, ['d1', 'd2']),
        alert('i', 'model:iforest', 3, ['d2', 'd3']),
        // A candidate of the same window as a rule:split alert (same score): the stored alert is the one shown.
        candidate('c3', 1.5, ['e1', 'e2']),
        alert('s', 'rule:split', 1.5, ['e1', 'e2']),
      ],
      'r2',
    );
    const by = (id: string) => out.find((a) => a.transaction_ids.includes(id))!;
    // Alone, a candidate keeps its split score: above any generic anomaly (at most 2 - 8), below the rule's alerts.
    expect(by('a1').score).toBe(-0.5);
    expect(by('a1').reasons).toMatch(/^split pattern below the rule:split threshold \(-0\.50 < 0\) — /);
    expect(by('b1').score).toBe(-6);
    // A generic anomaly on the same parts agrees with the candidate: a quarter point, and it is named.
    expect(by('d1')).toMatchObject({ score: -0.75, transaction_ids: ['d1', 'd2'] });
    expect(by('d1').reasons).toMatch(/^model:iforest \+ split pattern below the rule:split threshold/);
    expect(by('e1')).toMatchObject({ score: 1.5, reasons: expect.stringMatching(/^rule:split — /) });
    expect(out).toHaveLength(4);
  });

  it('ranks the split candidates in ensemble:all, never as a method of their own', () => {
    const stored = [alert('x', 'rule:sum', 2, ['a1', 'a2'])];
    const candidates = [{ ...alert('c', SPLIT_CANDIDATE_METHOD, -0.5, ['b1', 'b2'], 'acc2'), threshold: 0 }];
    const without = evaluate(stored, labels).methods.find((m) => m.method === 'ensemble:all')!;
    const withCandidates = evaluate(stored, labels, undefined, candidates);
    const all = withCandidates.methods.find((m) => m.method === 'ensemble:all')!;
    expect(without).toMatchObject({ alerts: 1, episodesFound: 1 });
    // E2 is found only by the candidate.
    expect(all).toMatchObject({ alerts: 2, episodesFound: 2, recall: 1 });
    expect(withCandidates.methods.map((m) => m.method)).toEqual(['rule:sum', 'ensemble:all']);
  });

  it('keeps the best alerts of each day within the budget', () => {
    const day = (d: string, id: string, score: number) => ({ ...alert(id, 'ensemble', score, [id]), window_end: `${d} 10:00:00` });
    const kept = applyDailyBudget([day('2021-01-01', 'a', 1), day('2021-01-01', 'b', 3), day('2021-01-01', 'c', 2), day('2021-01-02', 'd', 0.5)], 2);
    expect(kept.map((a) => a.alert_id)).toEqual(['b', 'c', 'd']);
  });
});
