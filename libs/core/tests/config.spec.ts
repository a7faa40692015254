import { ConfigError, DEFAULT_CONFIG, resolveConfig } from '../src';

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
  });
});
