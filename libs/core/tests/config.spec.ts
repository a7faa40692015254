import { ConfigError, DEFAULT_CONFIG, resolveConfig, rulesFor } from '../src';

describe('resolveConfig', () => {
  it('returns the defaults when there is no override', () => {
    expect(resolveConfig(undefined)).toEqual(DEFAULT_CONFIG);
  });

  it('merges a partial override over the defaults', () => {
    const cfg = resolveConfig({ rules: { sum: { minSum: 5000 } } });
    expect(cfg.rules.sum.minSum).toBe(5000);
    expect(cfg.rules.count).toEqual(DEFAULT_CONFIG.rules.count);
  });

  it('rejects unknown keys with their path', () => {
    expect(() => resolveConfig({ rules: { sum: { minSumm: 1 } } })).toThrow(
      new ConfigError('Unknown configuration key "rules.sum.minSumm"'),
    );
  });

  it('rejects wrong types and negative numbers', () => {
    expect(() => resolveConfig({ windowHours: '24' })).toThrow(/windowHours" must be a number/);
    expect(() => resolveConfig({ rules: { count: { minCount: -1 } } })).toThrow(/non-negative/);
    // A score threshold may go below the operating point (more recall); nothing else may be negative.
    expect(resolveConfig({ rules: { split: { minScore: -2 } } }).rules.split.minScore).toBe(-2);
    expect(() => resolveConfig({ rules: { split: { minSum: -2 } } })).toThrow(/non-negative/);
  });
});

describe('per-segment rules', () => {
  const cfg = resolveConfig({
    rules: { count: { minCount: 6 } },
    segments: [
      { match: { direction: 'CREDITO' }, rules: { count: { minCount: 50 } }, note: 'credits arrive in bursts' },
      { match: { merchant_id: 'm-bank', direction: 'CREDITO' }, rules: { count: { enabled: false }, sum: { minSum: 9000 } } },
      { match: { merchant_id: 'm-shop' }, rules: { split: { minRatio: 5 } } },
    ],
  });

  it('merges every matching segment in order over the stage rules', () => {
    expect(rulesFor(cfg, 'm-other', 'DEBITO')).toBe(cfg.rules);
    expect(rulesFor(cfg, 'm-other', 'CREDITO').count).toEqual({ enabled: true, minCount: 50 });
    const bank = rulesFor(cfg, 'm-bank', 'CREDITO');
    expect(bank.count).toEqual({ enabled: false, minCount: 50 });
    expect(bank.sum.minSum).toBe(9000);
    expect(bank.split).toEqual(cfg.rules.split);
    expect(rulesFor(cfg, 'm-bank', 'DEBITO')).toEqual(cfg.rules);
    expect(rulesFor(cfg, 'm-shop', 'DEBITO').split.minRatio).toBe(5);
    expect(rulesFor(cfg, 'm-shop', 'DEBITO').split.minScore).toBe(DEFAULT_CONFIG.rules.split.minScore);
  });

  it('returns the same resolved object for the same segment (cached)', () => {
    expect(rulesFor(cfg, 'm-bank', 'CREDITO')).toBe(rulesFor(cfg, 'm-bank', 'CREDITO'));
  });

  it('rejects malformed segments with the path of the bad key', () => {
    expect(() => resolveConfig({ segments: {} })).toThrow('"segments" must be an array');
    expect(() => resolveConfig({ segments: [{ match: {}, rules: {} }] })).toThrow('"segments[0].match" must name');
    expect(() => resolveConfig({ segments: [{ match: { direction: 'debit' }, rules: {} }] })).toThrow(
      /segments\[0\]\.match\.direction" must be "DEBITO" or "CREDITO", got "debit"/,
    );
    expect(() => resolveConfig({ segments: [{ match: { channel: 'x' }, rules: {} }] })).toThrow(
      'Unknown configuration key "segments[0].match.channel"',
    );
    expect(() =>
      resolveConfig({ segments: [{ match: { direction: 'CREDITO' } }, { match: { direction: 'DEBITO' }, rules: { count: { minCnt: 3 } } }] }),
    ).toThrow('"segments[0].rules" must be an object');
    expect(() => resolveConfig({ segments: [{ match: { direction: 'DEBITO' }, rules: { count: { minCnt: 3 } } }] })).toThrow(
      'Unknown configuration key "segments[0].rules.count.minCnt"',
    );
    expect(() => resolveConfig({ segments: [{ match: { direction: 'DEBITO' }, rules: { sum: { minSum: -1 } } }] })).toThrow(
      /segments\[0\]\.rules\.sum\.minSum" must be a finite non-negative number/,
    );
    expect(() => resolveConfig({ segments: [{ match: { direction: 'DEBITO' }, rules: {}, when: 1 }] })).toThrow(
      'Unknown configuration key "segments[0].when"',
    );
  });
});
