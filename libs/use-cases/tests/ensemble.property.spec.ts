import fc from 'fast-check';
import type { Alert } from '@splitwatch/core';
import {
  AGREEMENT_POINTS,
  alertIdOf,
  applyDailyBudget,
  budgetedEnsemble,
  BudgetedEnsemble,
  ENSEMBLE_METHOD,
  ensembleAlerts,
  NON_SPLIT_CAP,
  NON_SPLIT_PENALTY,
  normalisedScore,
  SPLIT_CANDIDATE_METHOD,
} from '../src';

/**
 * The grouping as first written (a scan of the key's groups per alert), kept as the reference the faster one
 * (a lookup per member) must equal.
 */
function referenceEnsemble(alerts: Alert[], runId: string): Alert[] {
  const isSplit = (a: Alert) => a.method === 'rule:split' || a.method === SPLIT_CANDIDATE_METHOD;
  const rankScore = (a: Alert) => (isSplit(a) ? a.score : Math.min(normalisedScore(a), NON_SPLIT_CAP) - NON_SPLIT_PENALTY);
  const groups: { best: Alert; ids: Set<string>; methods: Set<string>; score: number }[] = [];
  const byKey = new Map<string, typeof groups>();
  const sorted = [...alerts].sort((a, b) =>
    a.window_start < b.window_start ? -1 : a.window_start > b.window_start ? 1 : a.alert_id < b.alert_id ? -1 : 1,
  );
  for (const a of sorted) {
    const key = `${a.account_number ?? a.user_id}|${a.direction}`;
    const list = byKey.get(key) ?? [];
    byKey.set(key, list);
    const score = rankScore(a);
    const group = list.find((g) => a.transaction_ids.some((id) => g.ids.has(id)));
    const named = a.method === SPLIT_CANDIDATE_METHOD ? [] : [a.method];
    if (group) {
      for (const id of a.transaction_ids) group.ids.add(id);
      for (const m of named) group.methods.add(m);
      const better = score > group.score || (score === group.score && group.best.method === SPLIT_CANDIDATE_METHOD && named.length > 0);
      if (better) Object.assign(group, { best: a, score });
    } else {
      const g = { best: a, ids: new Set(a.transaction_ids), methods: new Set(named), score };
      list.push(g);
      groups.push(g);
    }
  }
  return groups.map((g) => {
    const candidate = g.best.method === SPLIT_CANDIDATE_METHOD;
    const agreeing = g.methods.size - (candidate ? 0 : 1);
    const names = [...g.methods].sort();
    if (candidate) names.push(`split pattern below the rule:split threshold (${g.best.score.toFixed(2)} < ${g.best.threshold})`);
    return {
      ...g.best,
      alert_id: alertIdOf(ENSEMBLE_METHOD, g.best.account_number ?? g.best.user_id, g.best.direction, g.best.transaction_ids[0]),
      run_id: runId,
      method: ENSEMBLE_METHOD,
      score: Math.round((g.score + AGREEMENT_POINTS * agreeing) * 1e6) / 1e6,
      threshold: 0,
      reasons: `${names.join(' + ')} — ${g.best.reasons}`,
    };
  });
}

const alertsOf = (rows: { method: string; members: string[] }[]): Alert[] =>
  rows.map((r, i) => ({
    alert_id: `x${String(i).padStart(3, '0')}`,
    run_id: 'r',
    method: r.method,
    entity_type: 'account',
    user_id: 'u',
    account_number: 'a1',
    merchant_id: 'm',
    direction: 'DEBITO',
    window_start: '2021-01-01 00:00:00',
    window_end: '2021-01-01 01:00:00',
    n_tx: r.members.length,
    total_amount: '1.00000000',
    score: 1,
    threshold: 0,
    reasons: `reason ${i}`,
    transaction_ids: r.members,
  }));

/** Alerts of a few keys over a few days whose members overlap in every way (chains that merge late included). */
const alertsArb = fc
  .array(
    fc.record({
      method: fc.constantFrom('rule:split', SPLIT_CANDIDATE_METHOD, 'rule:sum', 'rule:count', 'rule:zscore', 'model:lof'),
      account: fc.constantFrom('a1', 'a2'),
      direction: fc.constantFrom('DEBITO', 'CREDITO'),
      day: fc.integer({ min: 1, max: 3 }),
      hour: fc.integer({ min: 0, max: 3 }),
      score: fc.oneof(fc.constantFrom(0.5, 1, 2), fc.double({ min: -8, max: 8, noNaN: true })),
      members: fc.uniqueArray(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 4 }),
    }),
    { maxLength: 40 },
  )
  .map((rows) =>
    rows.map(
      (r, i): Alert => ({
        alert_id: `x${String(i).padStart(3, '0')}`,
        run_id: 'r',
        method: r.method,
        entity_type: 'account',
        user_id: 'u',
        account_number: r.account,
        merchant_id: 'm',
        direction: r.direction as Alert['direction'],
        window_start: `2021-01-0${r.day} 0${r.hour}:00:00`,
        window_end: `2021-01-0${r.day} 0${r.hour + 1}:00:00`,
        n_tx: r.members.length,
        total_amount: '1.00000000',
        score: r.score,
        threshold: r.method === 'rule:zscore' ? 4 : 0,
        reasons: `reason ${i}`,
        transaction_ids: r.members.map((m) => `t${m}`),
      }),
    ),
  );

describe('ensemble', () => {
  it('groups episodes exactly as a scan of every group of the key does', () => {
    fc.assert(
      fc.property(alertsArb, (alerts) => {
        expect(ensembleAlerts(alerts, 'run')).toEqual(referenceEnsemble(alerts, 'run'));
      }),
      { numRuns: 300 },
    );
  });

  it('joins an alert to the first episode that holds any of its members, after a bridge merged members in', () => {
    const at = (hour: number, id: string, members: string[]): Alert => ({
      ...alertsOf([{ method: 'rule:sum', members }])[0],
      alert_id: id,
      window_start: `2021-01-01 0${hour}:00:00`,
    });
    // a and b open two episodes; c shares t1 with a and t2 with b, so it joins a's (the first) and t2 is now in both;
    // d, with t2 alone, joins a's episode too.
    const alerts = [at(1, 'a', ['t1']), at(2, 'b', ['t2']), at(3, 'c', ['t2', 't1']), at(4, 'd', ['t2'])];
    const out = ensembleAlerts(alerts, 'run');
    expect(out).toEqual(referenceEnsemble(alerts, 'run'));
    expect(out).toHaveLength(2);
  });

  it('budgets without writing out the episodes it drops, with the same result', () => {
    fc.assert(
      fc.property(alertsArb, fc.integer({ min: 1, max: 4 }), (alerts, perDay) => {
        expect(budgetedEnsemble(alerts, 'run', perDay)).toEqual(applyDailyBudget(referenceEnsemble(alerts, 'run'), perDay));
      }),
      { numRuns: 300 },
    );
  });

  it('ranks slices holding whole accounts one at a time as it ranks them all at once, keeping a day\'s best between them', () => {
    fc.assert(
      fc.property(alertsArb, fc.integer({ min: 1, max: 4 }), fc.boolean(), (alerts, perDay, a1First) => {
        // Accounts a1 and a2 in slices of their own (a key's alerts never span two), in either order.
        const slices = ['a1', 'a2'].map((account) => alerts.filter((a) => a.account_number === account));
        if (!a1First) slices.reverse();
        const ranking = new BudgetedEnsemble('run', perDay);
        for (const slice of slices) ranking.add(slice);
        expect(ranking.result()).toEqual(applyDailyBudget(referenceEnsemble(alerts, 'run'), perDay));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a day\'s best episodes when many more than the budget come in', () => {
    // 30 one-alert episodes on one day, scores rising then falling: a budget of 3 keeps the three highest, in order.
    const scores = Array.from({ length: 30 }, (_, i) => (i < 15 ? i : 30 - i) / 4);
    const alerts = alertsOf(scores.map((_, i) => ({ method: 'rule:split', members: [`t${i}`] }))).map((a, i) => ({ ...a, score: scores[i] }));
    const ranking = new BudgetedEnsemble('run', 3);
    ranking.add(alerts.slice(0, 20));
    ranking.add([]);
    ranking.add(alerts.slice(20));
    expect(ranking.result().map((a) => [a.score, a.transaction_ids[0]])).toEqual([
      [3.75, 't15'],
      [3.5, 't14'],
      [3.5, 't16'],
    ]);
  });
});
