import { DEFAULT_CONFIG } from '@splitwatch/core';
import {
  ALL_KEYS_SQL,
  CANDIDATE_BUCKETS_SQL,
  CANDIDATES_SQL,
  CHANGED_USERS_SQL,
  featuresSql,
  findEngineOnlySql,
  LOG_START_SQL,
  MEMBER_TRANSACTIONS_SQL,
  OWNER_CANDIDATES_SQL,
  renderSql,
  RESCORED_KEYS_SQL,
  SEGMENT_TYPICAL_DAY_SQL,
} from '../src';
import { CLASSIFY_STAGED_SQL } from '../src/ingest/dedupe.sql';

describe('shared SQL dialect', () => {
  it.each([
    ['features', featuresSql(DEFAULT_CONFIG)],
    ['ingest classification', CLASSIFY_STAGED_SQL],
    ['detector candidates', CANDIDATES_SQL],
    ['detector candidates with their owners', OWNER_CANDIDATES_SQL],
    ['detector keys', ALL_KEYS_SQL],
    ['model sample buckets', CANDIDATE_BUCKETS_SQL],
    ['incremental Detect keys', RESCORED_KEYS_SQL],
    ['incremental Detect users', CHANGED_USERS_SQL],
    ['segment typical day', SEGMENT_TYPICAL_DAY_SQL],
    ['log start', LOG_START_SQL],
    ['report members', MEMBER_TRANSACTIONS_SQL],
  ])('keeps the %s SQL in the subset Athena and DuckDB share', (_name, sql) => {
    expect(findEngineOnlySql(sql)).toEqual([]);
  });

  it('catches engine-only constructs', () => {
    expect(findEngineOnlySql("SELECT epoch(ts), x::int FROM read_parquet('a') QUALIFY 1")).toHaveLength(4);
    expect(findEngineOnlySql("SELECT date_add('day', 1, d), approx_percentile(x, 0.5)")).toHaveLength(2);
    expect(findEngineOnlySql('SELECT hash(a), xxhash64(b), md5(c)')).toHaveLength(2);
    expect(findEngineOnlySql('SELECT xxhash64(to_utf8(tx_id)) AS h')).toEqual([]);
  });

  it('fills every placeholder and refuses unknown ones', () => {
    expect(featuresSql({ ...DEFAULT_CONFIG, windowHours: 6 })).toContain(
      'RANGE BETWEEN 21600 PRECEDING AND CURRENT ROW',
    );
    expect(featuresSql(DEFAULT_CONFIG)).not.toMatch(/\{\{/);
    expect(() => renderSql('SELECT {{x}}', {})).toThrow('placeholder {{x}} has no value');
  });
});
