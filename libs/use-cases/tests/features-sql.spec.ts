import { ConfigError, DEFAULT_CONFIG, resolveConfig } from '@splitwatch/core';
import {
  CANDIDATES_SQL,
  OWNER_CANDIDATES_SQL,
  FEATURE_COLUMNS,
  FEATURE_KEYS,
  FEATURES_SQL,
  featuresSql,
  findEngineOnlySql,
  KEY_FEATURE_COLUMNS,
} from '../src';

const WINDOWS = [
  [1, 3600],
  [6, 21_600],
  [24, 86_400],
  [168, 604_800],
] as const;

describe('features SQL text', () => {
  it.each(WINDOWS)(
    'stays in the Athena ∩ DuckDB subset with a %s h window, every placeholder filled',
    (hours) => {
      const sql = featuresSql(resolveConfig({ windowHours: hours }));

      expect(findEngineOnlySql(sql)).toEqual([]);
      expect(sql).not.toMatch(/\{\{/);
    },
  );

  it.each(WINDOWS)(
    'frames a %s h window as %s seconds, with the cap and the baseline just before it',
    (hours, seconds) => {
      const sql = featuresSql(resolveConfig({ windowHours: hours }));

      expect(sql).toContain(`RANGE BETWEEN ${seconds} PRECEDING AND CURRENT ROW`);
      expect(sql).toContain(`RANGE BETWEEN UNBOUNDED PRECEDING AND ${seconds + 1} PRECEDING`);
      expect(sql).toContain(`RANGE BETWEEN ${seconds + 30 * 86_400} PRECEDING AND ${seconds + 1} PRECEDING`);
      expect(sql).toContain(`(CAST(${seconds} AS DOUBLE) / 86400)`);
    },
  );

  it('differs between engines only in table registration: it reads the `transactions` table, no path', () => {
    const sql = featuresSql(DEFAULT_CONFIG);

    expect(sql).toMatch(/\bFROM transactions\b/);
    expect(sql).not.toMatch(/s3:|parquet|\/tmp|curated\//i);
    expect(featuresSql(DEFAULT_CONFIG, 'staged_tx')).toMatch(/\bFROM staged_tx\b/);
  });

  it('looks ahead only in the two helper columns whose use is proven past-only', () => {
    const lookAhead = FEATURES_SQL.split('\n').filter((line) => /\bFOLLOWING\b|\bLEAD\s*\(/.test(line));

    expect(lookAhead).toHaveLength(2 * FEATURE_KEYS.length);
    for (const line of lookAhead)
      expect(line).toMatch(
        /FIRST_VALUE\(ts_s\) .*1 FOLLOWING AND UNBOUNDED FOLLOWING|LEAD\(ts_s\) OVER \(PARTITION BY .*, subsidiary /,
      );
  });

  it('refuses a window shorter than one second', () => {
    expect(() => featuresSql({ ...DEFAULT_CONFIG, windowHours: 0.0001 })).toThrow(ConfigError);
  });
});

describe('feature columns', () => {
  it('keep the first version’s account columns first, in their order', () => {
    expect(FEATURE_COLUMNS.slice(0, 21).map((c) => `${c.name} ${c.type}`)).toEqual([
      'tx_id VARCHAR',
      'user_id VARCHAR',
      'account_number VARCHAR',
      'merchant_id VARCHAR',
      'subsidiary VARCHAR',
      'direction VARCHAR',
      'transaction_date TIMESTAMP',
      'amount DECIMAL(24,8)',
      'n_tx BIGINT',
      'sum_amount DECIMAL(38,8)',
      'mean_amount DOUBLE',
      'std_amount DOUBLE',
      'min_amount DECIMAL(24,8)',
      'max_amount DECIMAL(24,8)',
      'span_seconds BIGINT',
      'secs_since_prev BIGINT',
      'hist_days BIGINT',
      'base_mean_daily_sum DOUBLE',
      'base_std_daily_sum DOUBLE',
      'base_mean_daily_count DOUBLE',
      'z_sum DOUBLE',
    ]);
  });

  it('give each key the same column group, and every name once', () => {
    const names = FEATURE_COLUMNS.map((c) => c.name);

    expect(new Set(names).size).toBe(names.length);
    for (const { prefix } of FEATURE_KEYS) {
      for (const c of KEY_FEATURE_COLUMNS) {
        expect(FEATURE_COLUMNS).toContainEqual({ name: `${prefix}_${c.name}`, type: c.type });
      }
    }
    expect(names).toContain('window_seconds');
  });

  it('include every column the detectors read', () => {
    const read = [...`${CANDIDATES_SQL}${OWNER_CANDIDATES_SQL}`.matchAll(/\bf\.(\w+)/g)].map((m) => m[1]);

    expect(read.length).toBeGreaterThan(5);
    for (const name of read) expect(FEATURE_COLUMNS.map((c) => c.name)).toContain(name);
  });
});

describe('dialect guard', () => {
  it.each([
    ['SELECT a // b', 'integer division'],
    ['SELECT ifnull(a, 0)', 'IFNULL'],
    ['SELECT median(x), quantile_cont(x, 0.5)', 'median'],
    ['SELECT arg_max(a, b)', 'arg_max'],
    ["SELECT string_agg(a, ',')", 'string aggregation'],
    ['SELECT hash(a)', 'hash functions'],
    ["SELECT regexp_matches(a, 'x')", 'regexp_matches'],
    [
      'SELECT SUM(x) OVER (ORDER BY t ROWS BETWEEN 1 PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW)',
      'EXCLUDE',
    ],
    ["SELECT COLUMNS('a.*') FROM t", 'COLUMNS'],
    ['SELECT * FROM a ASOF JOIN b ON a.t >= b.t', 'ASOF'],
    ['SELECT SUM(x) OVER (ORDER BY t GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW)', 'GROUPS'],
    ['SELECT COUNT(*) FILTER (WHERE x > 0)', 'FILTER'],
    ['WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a', 'MATERIALIZED'],
    ['SELECT * EXCLUDE (a) FROM t', 'star modifiers'],
  ])('catches %s', (sql, why) => {
    expect(findEngineOnlySql(sql).join(' | ')).toContain(why);
  });

  it('does not mistake an s3:// location for integer division', () => {
    expect(findEngineOnlySql("SELECT 's3://bucket/key' AS location")).toEqual([]);
  });
});
