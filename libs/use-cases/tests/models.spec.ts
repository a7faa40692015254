import { DEFAULT_CONFIG, resolveConfig } from '@splitwatch/core';
import {
  buildEpisodes,
  finishEpisodes,
  fitArtifacts,
  ModelScorer,
  rarity,
  Reservoir,
  scanEpisodes,
  WINDOW_FEATURES,
  type WindowRow,
} from '../src';

/** Ordinary windows: two parts hours apart, unequal, around the key's typical day; a few split-like outliers. */
function vectors(n: number, seed = 1): number[][] {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Array.from({ length: n }, () => [
    Math.log(1 + rnd() * 2),
    2 + Math.floor(rnd() * 2),
    Math.log1p(60 + rnd() * 600),
    0.3 + rnd() * 0.5,
    0.5 + rnd() * 0.4,
    Math.log(50 + rnd() * 200),
    2 + rnd() * 10,
    rnd() * 2 - 1,
  ]);
}

/** One transaction of key `key` (an account, DEBITO) at 10:`minute` on 2021-01-01, as Detect reads it. */
function windowRow(key: string, i: number, minute: number, amount: string): WindowRow {
  return {
    tx_id: `${key}-t${i}`,
    user_id: `u-${key}`,
    account_number: key,
    merchant_id: 'm',
    subsidiary: 's',
    direction: 'DEBITO',
    transaction_date: `2021-01-01 10:${String(minute).padStart(2, '0')}:00`,
    ts: 1609495200 + minute * 60,
    amount,
    n_tx: i + 1,
    sum_amount: '0',
    z_sum: null,
    hist_days: 0,
    base_mean_daily_sum: null,
  };
}

describe('unsupervised detectors over windows', () => {
  const config = resolveConfig({ models: { sampleSize: 2000 } });
  const artifacts = fitArtifacts(vectors(2000), config, { from: '2021-01-01 00:00:00', to: '2021-01-30 00:00:00' });

  it('fits the four models with their feature list, scaler, training range and versions', () => {
    expect(artifacts.map((a) => a.method)).toEqual(['model:iforest', 'model:lof', 'model:dbscan', 'model:gmm']);
    for (const a of artifacts) {
      expect(a.features).toEqual([...WINDOW_FEATURES]);
      expect(a.version).toBe(`w2-${config.version}`);
      expect(a.trainingRange.from).toBe('2021-01-01 00:00:00');
      expect(a.quantiles).toHaveLength(1001);
      expect(a.threshold).toBeCloseTo(2, 9);
      expect(JSON.parse(JSON.stringify(a)).model).toBeTruthy();
    }
  });

  it('turns scores into rarity against held-out training windows', () => {
    const q = Array.from({ length: 1001 }, (_, i) => i / 1000);
    expect(rarity(q, -1)).toBeCloseTo(0, 9);
    expect(rarity(q, 0.5)).toBeCloseTo(-Math.log10(1 - 501 / 1001), 9);
    expect(rarity(q, 2)).toBeCloseTo(Math.log10(1002), 9);
  });

  it('flags a quick, many-part, material window that ordinary windows never look like, and says why', () => {
    const scorer = new ModelScorer(artifacts);
    const outlier = [Math.log(12), 6, Math.log1p(2), 0.02, 0.17, Math.log(3000), 0.2, 9];
    const [ordinaryHits, outlierHits] = scorer.score([vectors(1, 99)[0], outlier]);
    expect(outlierHits.map((h) => h.method).sort()).toEqual(['model:dbscan', 'model:gmm', 'model:iforest', 'model:lof']);
    expect(ordinaryHits.length).toBeLessThan(4);
    const reason = outlierHits[0].explain!();
    expect(reason).toMatch(/rarer than 99\.\d+% of training windows \(threshold 99%\); driven by /);
  });

  it('scores the same windows identically with the same seed', () => {
    const again = fitArtifacts(vectors(2000), config, { from: null, to: null });
    const v = vectors(50, 7);
    const a = new ModelScorer(artifacts).score(v).map((h) => h.map((x) => x.score));
    const b = new ModelScorer(again).score(v).map((h) => h.map((x) => x.score));
    expect(b).toEqual(a);
  });

  it('counts the windows each model scored and the time it took, for the detect step record', () => {
    const scorer = new ModelScorer(artifacts);
    scorer.score(vectors(30, 3));
    scorer.score(vectors(12, 4));
    scorer.score([]);
    expect([...scorer.timing.keys()].sort()).toEqual(artifacts.map((a) => a.kind).sort());
    for (const t of scorer.timing.values()) {
      expect(t.windows).toBe(42);
      expect(t.ms).toBeGreaterThanOrEqual(0);
    }
  });

  it('keeps a uniform seeded sample of a stream', () => {
    const r = new Reservoir<number>(100, 3);
    for (let i = 0; i < 10_000; i++) r.offer(i);
    expect(r.items).toHaveLength(100);
    expect(r.seen).toBe(10_000);
    const mean = r.items.reduce((a, b) => a + b, 0) / 100;
    expect(mean).toBeGreaterThan(3000);
    expect(mean).toBeLessThan(7000);
  });

  it('builds model alerts with the explanation as reasons when a scorer is given', () => {
    const row = (i: number, minute: number, amount: string) => windowRow('a', i, minute, amount);
    const rows = [row(0, 0, '500'), row(1, 2, '500'), row(2, 4, '500'), row(3, 6, '500')];
    const cfg = resolveConfig({ rules: { split: { enabled: false }, count: { enabled: false }, sum: { enabled: false }, zscore: { enabled: false } } });
    const alerts = buildEpisodes(rows, cfg, 'r', () => 50, new ModelScorer(artifacts));
    expect(alerts.length).toBeGreaterThan(0);
    for (const a of alerts) {
      expect(a.method).toMatch(/^model:/);
      expect(a.reasons).toMatch(/^model:\w+: rarer than/);
    }
    expect(DEFAULT_CONFIG.models.enabled).toBe(true);
  });

  it('gives the same alerts when the models score many keys in one batch as when they score each key alone', () => {
    const row = windowRow;
    const keys = [
      [row('a', 0, 0, '500'), row('a', 1, 2, '500'), row('a', 2, 4, '500'), row('a', 3, 6, '500')],
      [row('b', 0, 1, '40'), row('b', 1, 30, '900')],
      [row('c', 0, 5, '120'), row('c', 1, 7, '130'), row('c', 2, 50, '2000')],
    ];
    const cfg = resolveConfig({});
    const scorer = new ModelScorer(artifacts);
    const alone = keys.flatMap((rows) => buildEpisodes(rows, cfg, 'r', () => 50, scorer));
    const pending = keys.map((rows) => scanEpisodes(rows, cfg, () => 50, true));
    const scored = scorer.score(pending.flatMap((p) => p.vectors));
    let offset = 0;
    const batched = pending.flatMap((p) => {
      const hits = scored.slice(offset, (offset += p.vectors.length));
      return finishEpisodes(p, hits, cfg, 'r');
    });
    const plain = (alerts: typeof alone) => [...alerts].sort((x, y) => (x.alert_id < y.alert_id ? -1 : 1));
    expect(pending.map((p) => p.vectors.length).every((n) => n > 0)).toBe(true);
    expect(batched.some((a) => a.method.startsWith('model:'))).toBe(true);
    expect(plain(batched)).toEqual(plain(alone));
  });
});
