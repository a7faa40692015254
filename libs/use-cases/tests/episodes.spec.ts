import { DEFAULT_CONFIG, resolveConfig } from '@splitwatch/core';
import {
  buildEpisodes,
  evaluateRules,
  scanEpisodes,
  scanKeyWindows,
  SPLIT_EVIDENCE,
  SPLIT_SCORE_MODEL,
  splitEvidence,
  splitScore,
  splitTerms,
  type LinearSplitScoreModel,
  type SplitBaseline,
  type TreesSplitScoreModel,
  type WindowRow,
} from '../src';

/** The split reason's base and terms (each printed to 2 decimals) add up to the score it prints. */
function expectReasonAddsUp(a: { reasons: string; score: number }): void {
  const base = Number(/^base ([+-]\d+\.\d\d);/.exec(a.reasons)![1]);
  const terms = [...a.reasons.matchAll(/\(([+-]\d+\.\d\d)\)(?=;)/g)].map((m) => Number(m[1]));
  expect(terms.length).toBeGreaterThan(0);
  expect(Math.abs(base + terms.reduce((s, v) => s + v, 0) - a.score)).toBeLessThanOrEqual(0.005 * (SPLIT_EVIDENCE.length + 1));
}

const base = Date.UTC(2021, 0, 10, 8, 0, 0) / 1000;
function row(i: number, minutes: number, over: Partial<WindowRow> = {}): WindowRow {
  const ts = base + minutes * 60;
  const d = new Date(ts * 1000).toISOString();
  return {
    tx_id: `tx${String(i).padStart(3, '0')}`,
    user_id: 'u1',
    account_number: 'acc1',
    merchant_id: 'm1',
    subsidiary: 's1',
    direction: 'DEBITO',
    transaction_date: `${d.slice(0, 10)} ${d.slice(11, 19)}`,
    ts,
    amount: '1000.00000000',
    n_tx: 1,
    sum_amount: '1000.00000000',
    z_sum: null,
    hist_days: 0,
    base_mean_daily_sum: null,
    ...over,
  };
}

describe('evaluateRules', () => {
  it('fires the sum rule only at or above its threshold and with enough parts', () => {
    expect(evaluateRules(row(1, 0, { n_tx: 3, sum_amount: '3000' }), DEFAULT_CONFIG).map((h) => h.method)).toEqual(['rule:sum']);
    expect(evaluateRules(row(1, 0, { n_tx: 3, sum_amount: '2999.99' }), DEFAULT_CONFIG)).toEqual([]);
    expect(evaluateRules(row(1, 0, { n_tx: 1, sum_amount: '9000' }), DEFAULT_CONFIG)).toEqual([]);
  });

  it('needs history for the z-score rule and explains the baseline', () => {
    const r = row(1, 0, { n_tx: 2, sum_amount: '800', z_sum: 6.5, hist_days: 10, base_mean_daily_sum: 40 });
    const [hit] = evaluateRules(r, DEFAULT_CONFIG);
    expect(hit).toMatchObject({ method: 'rule:zscore', score: 6.5, threshold: 4 });
    expect(hit.reason).toContain('6.5 std above');
    expect(evaluateRules({ ...r, hist_days: 3 }, DEFAULT_CONFIG)).toEqual([]);
  });

  it('judges a window with the thresholds of its segment (merchant, direction)', () => {
    const cfg = resolveConfig({
      segments: [
        { match: { direction: 'CREDITO' }, rules: { count: { minCount: 50 } } },
        { match: { merchant_id: 'm-big' }, rules: { sum: { minSum: 20000 } } },
      ],
    });
    const busy = row(1, 0, { n_tx: 8, sum_amount: '80' });
    expect(evaluateRules(busy, cfg).map((h) => h.method)).toEqual(['rule:count']);
    expect(evaluateRules({ ...busy, direction: 'CREDITO' }, cfg)).toEqual([]);
    const [hit] = evaluateRules({ ...busy, direction: 'CREDITO', n_tx: 60 }, cfg);
    expect(hit).toMatchObject({ method: 'rule:count', threshold: 50 });
    const large = row(2, 0, { n_tx: 2, sum_amount: '5000' });
    expect(evaluateRules(large, cfg).map((h) => h.method)).toEqual(['rule:sum']);
    expect(evaluateRules({ ...large, merchant_id: 'm-big' }, cfg)).toEqual([]);
  });

  it('respects disabled rules', () => {
    const cfg = resolveConfig({ rules: { sum: { enabled: false } } });
    expect(evaluateRules(row(1, 0, { n_tx: 3, sum_amount: '5000' }), cfg)).toEqual([]);
  });
});

describe('buildEpisodes', () => {
  it('merges overlapping firing windows into one episode with every member and an exact total', () => {
    const rows = [
      row(1, 0, { amount: '1500.10000001', n_tx: 1, sum_amount: '1500.10000001' }),
      row(2, 10, { amount: '1500.10000001', n_tx: 2, sum_amount: '3000.20000002' }),
      row(3, 20, { amount: '1500.10000001', n_tx: 3, sum_amount: '4500.30000003' }),
    ];
    const alerts = buildEpisodes(rows, DEFAULT_CONFIG, 'run1');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      method: 'rule:sum',
      n_tx: 3,
      total_amount: '4500.30000003',
      transaction_ids: ['tx001', 'tx002', 'tx003'],
      window_start: '2021-01-10 08:00:00',
      window_end: '2021-01-10 08:20:00',
    });
    expect(alerts[0].score).toBeCloseTo(4500.30000003 / 3000, 6);
    expect(alerts[0].reasons).toMatch(/; likely original amount 4500\.30 in 3 parts$/);
  });

  it('opens a new episode when the next firing window no longer overlaps', () => {
    const day = 24 * 60;
    const rows = [
      row(1, 0, { n_tx: 1, sum_amount: '2000' }),
      row(2, 5, { n_tx: 2, sum_amount: '4000' }),
      row(3, 2 * day, { n_tx: 1, sum_amount: '2000' }),
      row(4, 2 * day + 5, { n_tx: 2, sum_amount: '4000' }),
    ];
    const alerts = buildEpisodes(rows, resolveConfig({ rules: { split: { enabled: false } } }), 'run1');
    expect(alerts.map((a) => a.transaction_ids)).toEqual([
      ['tx001', 'tx002'],
      ['tx003', 'tx004'],
    ]);
    expect(new Set(alerts.map((a) => a.alert_id)).size).toBe(2);
  });

  it('gives the same alert id to the same episode in another run', () => {
    const rows = [row(1, 0), row(2, 1, { n_tx: 2, sum_amount: '4000' })];
    const [a] = buildEpisodes(rows, DEFAULT_CONFIG, 'run1');
    const [b] = buildEpisodes(rows, DEFAULT_CONFIG, 'run2');
    expect(a.alert_id).toBe(b.alert_id);
    expect(b.run_id).toBe('run2');
  });
});

describe('rule:split', () => {
  const day = 24 * 60;
  /** Ten quiet days of one ~50 purchase a day, then the rows given. */
  const history = () => Array.from({ length: 10 }, (_, d) => row(100 + d, d * day, { amount: '50.00000000' }));
  const splitCfg = resolveConfig({ rules: { count: { enabled: false }, sum: { enabled: false }, zscore: { enabled: false } } });
  /** A key with a typical day of 100, a typical amount of 80 and three quiet active days of history. */
  const baseline: SplitBaseline = {
    typicalDay: 100,
    typicalSource: 'key-days',
    typicalAmount: () => 80,
    pastMax: 400,
    pastTx: 3,
    pastDays: [100, 90, 120],
    pastDayCounts: [1, 1, 1],
    hadAmount: () => false,
    logDays: 0,
    ownerAmount: () => Number.NaN,
    ownerPastTx: 0,
  };

  it('fires on quick, similar parts that are material against the key typical day, with readable evidence', () => {
    const parts = [0, 3, 7].map((m, i) => row(200 + i, 11 * day + m, { amount: '200.00000000' }));
    const alerts = buildEpisodes([...history(), ...parts], splitCfg, 'r');
    expect(alerts).toHaveLength(1);
    const [a] = alerts;
    expect(a.method).toBe('rule:split');
    expect(a.transaction_ids).toEqual(['tx200', 'tx201', 'tx202']);
    expect(a.total_amount).toBe('600.00000000');
    expect(a.reasons).toContain('12.0× the key\'s typical day 50.00');
    expect(a.reasons).toMatch(/parts \d+ min apart/);
    expect(a.reasons).toContain('parts of similar size');
    expect(a.score).toBeGreaterThanOrEqual(splitCfg.rules.split.minScore);
  });

  it('stays quiet on an ordinary day with one big purchase and a small one, hours apart', () => {
    const day11 = [row(300, 11 * day, { amount: '400.00000000' }), row(301, 11 * day + 300, { amount: '20.00000000' })];
    expect(buildEpisodes([...history(), ...day11], splitCfg, 'r')).toEqual([]);
  });

  it("scores lower when the parts repeat the key's habitual amount", () => {
    // Two keys with one purchase a day for ten days, 120.00 on one and 121.00 on the other, then three parts of
    // 120.00 twenty minutes apart: the same window, but on the first key its parts are the amount it always pays.
    const pastOf = (amount: string) => Array.from({ length: 10 }, (_, d) => row(700 + d, d * day, { amount }));
    const parts = [0, 20, 40].map((m, i) => row(800 + i, 11 * day + m, { amount: '120.00000000' }));
    const score = (rows: WindowRow[]) => {
      const { windows } = scanEpisodes(rows, splitCfg, () => 40, false);
      const { w } = windows[windows.length - 1];
      const e = splitEvidence(rows, w.lo, w.hi, w, splitCfg.rules.split)!;
      expect(e.n).toBe(3);
      const out = { e, score: splitScore(e, SPLIT_SCORE_MODEL), terms: splitTerms(e, SPLIT_SCORE_MODEL).terms };
      return out;
    };
    const usual = score([...pastOf('120.00000000'), ...parts]);
    const fresh = score([...pastOf('121.00000000'), ...parts]);
    expect([usual.e.familiar, fresh.e.familiar]).toEqual([3, 0]);
    expect(usual.terms.familiar).toBeLessThan(0);
    expect(fresh.terms.familiar).toBeGreaterThan(0);
    expect(usual.score).toBeLessThan(fresh.score - 1);
  });

  it('does not fire beyond maxParts (bursts of hundreds are not classic splitting)', () => {
    const burst = Array.from({ length: 40 }, (_, i) => row(400 + i, 11 * day + i, { amount: '100.00000000' }));
    const alerts = buildEpisodes([...history(), ...burst], splitCfg, 'r');
    for (const a of alerts) expect(a.n_tx).toBeLessThanOrEqual(splitCfg.rules.split.maxParts);
  });

  it('uses the segment typical day when the key has no history', () => {
    const parts = [0, 2].map((m, i) => row(500 + i, m, { amount: '300.00000000' }));
    const alerts = buildEpisodes(parts, splitCfg, 'r', () => 40);
    expect(alerts).toHaveLength(1);
    expect(alerts[0].reasons).toContain("15.0× the segment's typical day 40.00 (key has 0 earlier transactions) (+");
    expect(alerts[0].reasons).toContain('no earlier transactions of the key (');
    expect(alerts[0].reasons).toContain("smallest part 300.00 = 7.5× the segment's typical day 40.00");
    expectReasonAddsUp(alerts[0]);
  });

  it('compares a key with little history with its earlier amounts, and prints the terms that make the score', () => {
    const past = [row(600, 0, { amount: '40.00000000' }), row(601, 3 * day, { amount: '60.00000000' })];
    const parts = [0, 4].map((m, i) => row(610 + i, 10 * day + m, { amount: '150.00000000' }));
    const [a] = buildEpisodes([...past, ...parts], splitCfg, 'r', () => 1e9);
    expect(a.reasons).toContain("6.0× the key's typical amount 50.00 (median of its 2 earlier transactions; 2 active days");
    expect(a.reasons).toMatch(/parts 4 min apart \(median\) \([+-]\d+\.\d\d\)/);
    expect(a.reasons).toMatch(/2 of 2 parts repeat an amount exactly \([+-]\d+\.\d\d\)/);
    expect(a.reasons).toContain(`score ${a.score.toFixed(2)} (threshold 0)`);
    expectReasonAddsUp(a);
  });

  it('marks down windows spread over several merchants', () => {
    const parts = [
      row(700, 11 * day, { amount: '300.00000000' }),
      row(701, 11 * day + 3, { amount: '250.00000000', merchant_id: 'm2' }),
    ];
    const open = resolveConfig({ rules: { ...splitCfg.rules, split: { minScore: -20 } } });
    // At this threshold the quiet history fires too: take the alert on the two parts.
    const onParts = (rows: WindowRow[]) => buildEpisodes(rows, open, 'r').find((a) => a.transaction_ids.includes('tx701'))!;
    const two = onParts([...history(), ...parts]);
    const one = onParts([...history(), parts[0], { ...parts[1], merchant_id: 'm1' }]);
    expect(one.transaction_ids).toEqual(['tx700', 'tx701']);
    expect(one.reasons).toContain('largest part 55% of the total');
    expect(two.reasons).toMatch(/2 merchants \(-\d+\.\d\d\)/);
    expect(one.score).toBeGreaterThan(two.score + 1);
    // At the default threshold the one-merchant window fires and the two-merchant one does not.
    expect(one.score).toBeGreaterThanOrEqual(0);
    expect(two.score).toBeLessThan(0);
    expect(buildEpisodes([...history(), ...parts], splitCfg, 'r')).toEqual([]);
    const strict = resolveConfig({ rules: { ...splitCfg.rules, split: { minScore: one.score + 0.01 } } });
    expect(buildEpisodes([...history(), parts[0], { ...parts[1], merchant_id: 'm1' }], strict, 'r')).toEqual([]);
  });

  it('scores a window as its base plus one term per piece of evidence, under a linear model and under trees', () => {
    const r = DEFAULT_CONFIG.rules.split;
    const parts = [row(1, 0, { amount: '300.00000000' }), row(2, 4, { amount: '300.00000000' })];
    const e = splitEvidence(parts, 0, 1, baseline, r)!;
    const weights = Object.fromEntries(SPLIT_EVIDENCE.map((n, j) => [n, j + 1])) as LinearSplitScoreModel['weights'];
    const linear: LinearSplitScoreModel = { kind: 'linear', fittedOn: 'test', base: -2, weights };
    expect(splitScore(e, linear)).toBeCloseTo(-2 + e.x.reduce((a, v, j) => a + (j + 1) * v, 0), 12);
    const { base, terms } = splitTerms(e, linear);
    expect(base).toBe(-2);
    expect(terms.material).toBeCloseTo(1 * Math.log2(6 / 3), 12);
    // Two trees: the first splits on material (index 0), the second on pace (index 1).
    const trees: TreesSplitScoreModel = {
      kind: 'trees',
      fittedOn: 'test',
      trees: {
        kind: 'boosted-trees',
        version: 1,
        base: -1,
        trees: [
          { f: [0, -1, -1], t: [0.5, 0, 0], l: [1, -1, -1], r: [2, -1, -1], v: [0.1, -0.5, 2], c: [100, 60, 40] },
          { f: [1, -1, -1], t: [0, 0, 0], l: [1, -1, -1], r: [2, -1, -1], v: [0, -1, 1.5], c: [100, 50, 50] },
        ],
      },
    };
    // material = log2(600 / 300) = 1 > 0.5; pace = log2(16 / 5) > 0.
    expect(splitScore(e, trees)).toBeCloseTo(-1 + 2 + 1.5, 12);
    const t = splitTerms(e, trees);
    // Base: −1 plus each tree's expected output over its training rows (0.6·−0.5 + 0.4·2 = 0.5; 0.5·−1 + 0.5·1.5 =
    // 0.25); each term: what fixing that piece of evidence moves it by.
    expect(t.base).toBeCloseTo(-1 + 0.5 + 0.25, 12);
    expect(t.terms.material).toBeCloseTo(2 - 0.5, 12);
    expect(t.terms.pace).toBeCloseTo(1.5 - 0.25, 12);
    expect(t.terms.sizes).toBe(0);
    expect(t.base + SPLIT_EVIDENCE.reduce((a, n) => a + t.terms[n], 0)).toBeCloseTo(splitScore(e, trees), 12);
  });

  it('ships a well-formed split model: every tree reaches its leaves on known evidence terms', () => {
    expect(SPLIT_SCORE_MODEL.kind).toBe('trees');
    if (SPLIT_SCORE_MODEL.kind !== 'trees') return;
    const { trees, base } = SPLIT_SCORE_MODEL.trees;
    expect(Number.isFinite(base)).toBe(true);
    expect(trees.length).toBeGreaterThan(0);
    for (const t of trees) {
      const n = t.f.length;
      expect([t.t.length, t.l.length, t.r.length, t.v.length]).toEqual([n, n, n, n]);
      t.f.forEach((f, k) => {
        expect(Number.isFinite(t.v[k])).toBe(true);
        if (f < 0) return;
        expect(f).toBeLessThan(SPLIT_EVIDENCE.length);
        expect(Number.isFinite(t.t[k])).toBe(true);
        // Children come after their parent, so every walk ends at a leaf.
        expect(t.l[k]).toBeGreaterThan(k);
        expect(t.r[k]).toBeGreaterThan(k);
        expect(Math.max(t.l[k], t.r[k])).toBeLessThan(n);
      });
    }
  });

  it('prints terms that add up to the score with the committed model', () => {
    const parts = [0, 3, 7].map((m, i) => row(800 + i, 11 * day + m, { amount: '200.00000000' }));
    const [a] = buildEpisodes([...history(), ...parts], splitCfg, 'r');
    expectReasonAddsUp(a);
    // The key's habits, in words: its history has ten one-transaction days of 50.00.
    expect(a.reasons).toContain('no part repeats an amount the key had before');
    expect(a.reasons).toContain("one transaction on each of the key's 10 active days in the history window");
    expect(a.reasons).toContain('no active day of the key in the history window reached 600.00');
    expect(SPLIT_SCORE_MODEL.fittedOn).toMatch(/seeds 101, 102/);
  });

  it("counts the log's age before each window, up to the history window, and says it in the reason", () => {
    const parts = [0, 3, 7].map((m, i) => row(900 + i, 11 * day + m, { amount: '200.00000000' }));
    const rows = [...history(), ...parts];
    const logDaysOf = (logStart?: number) => {
      const seen: number[] = [];
      scanKeyWindows(rows, splitCfg, () => 40, (w) => seen.push(w.logDays), logStart);
      return seen;
    };
    // The key's first transaction is at `row`'s epoch; a log that starts 2.5 days earlier.
    const start = rows[0].ts - 2.5 * 86400;
    const ages = logDaysOf(start);
    expect(ages[0]).toBeCloseTo(2.5, 9);
    expect(ages[10]).toBeCloseTo(2.5 + 11, 6);
    expect(logDaysOf(rows[0].ts - 40 * 86400).every((d) => d === splitCfg.rules.split.historyDays)).toBe(true);
    // Left out, the log is taken to reach back past the history window.
    expect(logDaysOf().every((d) => d === splitCfg.rules.split.historyDays)).toBe(true);
    // The same three parts in a log 13 days old and in one that covers the history window: the term is in the
    // reason, and the reasons still add up to the scores.
    const young = buildEpisodes(rows, splitCfg, 'r', () => 40, undefined, start).find((a) => a.transaction_ids.includes('tx900'))!;
    const old = buildEpisodes(rows, splitCfg, 'r', () => 40).find((a) => a.transaction_ids.includes('tx900'))!;
    for (const a of [young, old]) expectReasonAddsUp(a);
    expect(young.reasons).toMatch(/the log starts 13 days before the window \([+-]\d+\.\d\d\)/);
    expect(old.reasons).toMatch(/the log covers the whole 30-day history window \([+-]\d+\.\d\d\)/);
    expect(young.score).not.toBe(old.score);
  });

  it('computes every evidence term from the window and its baseline, each 0 at the reference window', () => {
    const r = DEFAULT_CONFIG.rules.split;
    // Reference: two equal parts at 3× the typical day, 15 min apart, one branch… (its cv is 0, not the 0.2 reference).
    const ref = [row(1, 0, { amount: '150.00000000' }), row(2, 15, { amount: '150.00000000' })];
    const x0 = splitEvidence(ref, 0, 1, baseline, r)!.x;
    const at = (x: number[], name: (typeof SPLIT_EVIDENCE)[number]) => x[SPLIT_EVIDENCE.indexOf(name)];
    expect(at(x0, 'material')).toBeCloseTo(0, 12);
    expect(at(x0, 'pace')).toBeCloseTo(0, 12);
    expect(at(x0, 'sizes')).toBeCloseTo(0.2, 12);
    for (const name of ['parts', 'moreThanTwo', 'dominance', 'merchants', 'branches', 'cap', 'noHistory', 'shortHistory', 'familiar', 'busyDays', 'bigDays', 'logDays', 'ownerMaterial', 'ownerSmallest', 'ownerPastTx', 'credit'] as const)
      expect(at(x0, name)).toBeCloseTo(0, 12);
    // The owner pays 50 on its other keys (12 earlier transactions there): the window against that, and a credit key.
    const owner = { ...baseline, ownerAmount: () => 50, ownerPastTx: 12 };
    const credit = ref.map((t) => ({ ...t, direction: 'CREDITO' as const }));
    const xo = splitEvidence(credit, 0, 1, owner, r)!.x;
    expect(at(xo, 'ownerMaterial')).toBeCloseTo(Math.log2(300 / 50), 12);
    expect(at(xo, 'ownerSmallest')).toBeCloseTo(Math.log2(150 / 50), 12);
    expect(at(xo, 'ownerPastTx')).toBeCloseTo(Math.log2(13), 12);
    expect(at(xo, 'credit')).toBe(1);
    // Not read at all when the owner has no earlier transaction on its other keys.
    const unread = { ...baseline, ownerAmount: () => { throw new Error('read'); }, ownerPastTx: 0 };
    expect(at(splitEvidence(ref, 0, 1, unread, r)!.x, 'ownerMaterial')).toBe(0);
    expect(at(x0, 'pastTx')).toBe(2);
    // The key's habits: one part's amount seen before; two of four active days busy, one as big as the window.
    const habits = { ...baseline, pastDays: [100, 320, 90, 50], pastDayCounts: [2, 3, 1, 1], hadAmount: (a: string) => a === '150.00000000' };
    const mixed = [row(1, 0, { amount: '150.00000000' }), row(2, 15, { amount: '170.00000000' })];
    const xh = splitEvidence(mixed, 0, 1, habits, r)!.x;
    expect(at(xh, 'familiar')).toBe(0.5);
    expect(at(xh, 'busyDays')).toBe(0.5);
    expect(at(xh, 'bigDays')).toBe(0.25);
    expect(at(splitEvidence(ref, 0, 1, { ...baseline, pastDays: [], pastDayCounts: [] }, r)!.x, 'busyDays')).toBe(-1);
    // Three parts 3 h apart at two branches, one at the key's past maximum, none repeating another's amount.
    const slow = [
      row(1, 0, { amount: '400.00000000' }),
      row(2, 180, { amount: '100.00000000', subsidiary: 's2' }),
      row(3, 360, { amount: '300.00000000' }),
    ];
    const x = splitEvidence(slow, 0, 2, { ...baseline, typicalSource: 'segment' }, r)!.x;
    expect(at(x, 'pace')).toBe(-3);
    expect(at(x, 'slowPace')).toBeCloseTo(Math.log2(16 / 181) + 3, 12);
    expect(at(x, 'moreThanTwo')).toBe(1);
    expect(at(x, 'branches')).toBeCloseTo(-0.5, 12);
    expect(at(x, 'cap')).toBe(1);
    expect(at(x, 'equalParts')).toBe(0);
    expect(at(x, 'smallestPart')).toBeCloseTo(Math.log2(100 / 80), 12);
    expect(at(x, 'noHistory')).toBe(1);
    expect(at(x, 'total')).toBeCloseTo(Math.log2(800 / 600), 12);
    // Not a window the rule looks at: too small, or no baseline at all.
    expect(splitEvidence([row(1, 0, { amount: '20.00000000' }), row(2, 1, { amount: '20.00000000' })], 0, 1, baseline, r)).toBeNull();
    expect(splitEvidence(ref, 0, 1, { ...baseline, typicalDay: Number.POSITIVE_INFINITY }, r)).toBeNull();
  });
});
