import { ConfigError } from './errors';

/**
 * Detection settings, versioned and overridable per stage (config/<stage>.json in the pipeline app,
 * `--config FILE` locally). Every threshold is documented in the README.
 */
export interface DetectionConfig {
  version: string;
  /**
   * Unsupervised models over candidate windows (2..split.maxParts parts, at least split.minSum): fit on a seeded
   * sample of `sampleSize` windows, artifacts under models/<detector>/<version>/ reused while the config version
   * stays the same; a window fires when its score is rarer than `contamination` of the training windows.
   */
  models: {
    enabled: boolean;
    sampleSize: number;
    contamination: number;
    seed: number;
    isolationForest: boolean;
    lof: boolean;
    lofNeighbors: number;
    dbscan: boolean;
    dbscanMinSamples: number;
    gmm: boolean;
    gmmComponents: number;
  };
  /**
   * One ranked list across methods, with at most `budgetPerDay` alerts a day (stored as method `ensemble`). Besides
   * every method's alerts it ranks split episodes that scored up to `splitDepth` points below the split rule's
   * `minScore` (never stored as rule:split alerts), so a quiet day's budget goes to the next most split-like
   * episodes before generic anomalies; 0 turns that off.
   */
  ensemble: { enabled: boolean; budgetPerDay: number; splitDepth: number };
  /** Trailing window length in hours. */
  windowHours: number;
  rules: {
    /**
     * Split pattern: 2..maxParts parts on one key inside the window, at least `minSum` in total, scored in log2
     * evidence points by weighted terms that are 0 at a reference point: the total against `minRatio` times the key's
     * typical day (median of its active-day totals over the past `historyDays` when it has `minHistoryDays` of them,
     * else the median of its earlier amounts, else its segment's typical day), the median gap against
     * `fastGapSeconds`, the number of parts, the spread of part sizes, the largest part's share, parts repeating an
     * amount, the smallest part, extra merchants and branches, a part equal to a past cap, how much history the key
     * has and the absolute total (see splitHit and split-weights.ts). It fires at `minScore`: 0 is the operating
     * point the weights were fitted for; a negative value trades precision for recall (the only setting that may be
     * negative).
     */
    split: {
      enabled: boolean;
      minParts: number;
      maxParts: number;
      minRatio: number;
      minSum: number;
      historyDays: number;
      minHistoryDays: number;
      fastGapSeconds: number;
      minScore: number;
    };
    count: { enabled: boolean; minCount: number };
    sum: { enabled: boolean; minSum: number; minCount: number };
    zscore: { enabled: boolean; minZ: number; minCount: number; minSum: number; minHistoryDays: number };
  };
  /**
   * Per-segment rule overrides: a window whose anchor transaction matches `match` (a merchant, a direction, or
   * both) is judged with `rules` merged over the stage's rules. Every matching segment applies, in file order, so
   * a later, narrower entry refines an earlier one. `note` says why (it is shown nowhere else).
   */
  segments: SegmentRule[];
}

export type RuleSettings = DetectionConfig['rules'];
type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** One per-segment override (see {@link DetectionConfig.segments}). */
export interface SegmentRule {
  match: { merchant_id?: string; direction?: 'DEBITO' | 'CREDITO' };
  rules: DeepPartial<RuleSettings>;
  note?: string;
}

export const DEFAULT_CONFIG: DetectionConfig = {
  version: '2026-12-02.1',
  models: {
    enabled: true,
    sampleSize: 20_000,
    contamination: 0.01,
    seed: 42,
    isolationForest: true,
    lof: true,
    lofNeighbors: 20,
    dbscan: true,
    dbscanMinSamples: 10,
    gmm: true,
    gmmComponents: 4,
  },
  ensemble: { enabled: true, budgetPerDay: 25, splitDepth: 6 },
  windowHours: 24,
  rules: {
    split: { enabled: true, minParts: 2, maxParts: 12, minRatio: 3, minSum: 60, historyDays: 30, minHistoryDays: 3, fastGapSeconds: 900, minScore: 0 },
    count: { enabled: true, minCount: 6 },
    sum: { enabled: true, minSum: 3000, minCount: 2 },
    zscore: { enabled: true, minZ: 4, minCount: 2, minSum: 600, minHistoryDays: 7 },
  },
  segments: [],
};

type Json = Record<string, unknown>;

/** Settings that may be negative (a score threshold below the operating point); every other number is ≥ 0. */
const SIGNED_KEYS = new Set(['minScore']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function mergeDeep(base: Json, over: Json, path: string): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const here = path ? `${path}.${k}` : k;
    if (!(k in base)) throw new ConfigError(`Unknown configuration key "${here}"`);
    const b = base[k];
    if (isObject(b)) {
      if (!isObject(v)) throw new ConfigError(`Configuration key "${here}" must be an object`);
      out[k] = mergeDeep(b, v, here);
    } else {
      if (typeof v !== typeof b) {
        throw new ConfigError(`Configuration key "${here}" must be a ${typeof b}, got ${JSON.stringify(v)}`);
      }
      if (typeof v === 'number' && (!Number.isFinite(v) || (v < 0 && !SIGNED_KEYS.has(k)))) {
        throw new ConfigError(`Configuration key "${here}" must be a finite non-negative number, got ${v}`);
      }
      out[k] = v;
    }
  }
  return out;
}

/**
 * Merges a partial override (parsed JSON) over the defaults, rejecting unknown keys and wrong types.
 * @example resolveConfig({ rules: { sum: { minSum: 5000 } } }).rules.sum.minSum === 5000
 */
export function resolveConfig(override?: unknown): DetectionConfig {
  if (override === undefined || override === null) return DEFAULT_CONFIG;
  if (!isObject(override)) throw new ConfigError('Configuration must be a JSON object');
  const { segments, ...rest } = override;
  const merged = mergeDeep(DEFAULT_CONFIG as unknown as Json, rest, '') as unknown as DetectionConfig;
  if (merged.windowHours <= 0 || merged.windowHours > 24 * 31) {
    throw new ConfigError(`windowHours must be in (0, 744], got ${merged.windowHours}`);
  }
  merged.segments = segments === undefined ? [] : resolveSegments(segments, merged.rules);
  return merged;
}

const SEGMENT_KEYS = new Set(['match', 'rules', 'note']);

function resolveSegments(segments: unknown, rules: RuleSettings): SegmentRule[] {
  if (!Array.isArray(segments)) throw new ConfigError('Configuration key "segments" must be an array');
  return segments.map((seg: unknown, i) => {
    const here = `segments[${i}]`;
    if (!isObject(seg)) throw new ConfigError(`Configuration key "${here}" must be an object`);
    for (const k of Object.keys(seg)) {
      if (!SEGMENT_KEYS.has(k)) throw new ConfigError(`Unknown configuration key "${here}.${k}"`);
    }
    const { match, rules: over, note } = seg;
    if (!isObject(match)) throw new ConfigError(`Configuration key "${here}.match" must be an object`);
    const out: SegmentRule['match'] = {};
    for (const [k, v] of Object.entries(match)) {
      if (k === 'merchant_id') {
        if (typeof v !== 'string' || v.trim() === '') {
          throw new ConfigError(`Configuration key "${here}.match.merchant_id" must be a non-empty string`);
        }
        out.merchant_id = v.trim();
      } else if (k === 'direction') {
        if (v !== 'DEBITO' && v !== 'CREDITO') {
          throw new ConfigError(`Configuration key "${here}.match.direction" must be "DEBITO" or "CREDITO", got ${JSON.stringify(v)}`);
        }
        out.direction = v;
      } else {
        throw new ConfigError(`Unknown configuration key "${here}.match.${k}" (a segment matches merchant_id and/or direction)`);
      }
    }
    if (Object.keys(out).length === 0) throw new ConfigError(`"${here}.match" must name a merchant_id, a direction or both`);
    if (!isObject(over)) throw new ConfigError(`Configuration key "${here}.rules" must be an object`);
    mergeDeep(rules as unknown as Json, over, `${here}.rules`); // validates keys and types
    if (note !== undefined && typeof note !== 'string') throw new ConfigError(`Configuration key "${here}.note" must be a string`);
    return { match: out, rules: over as SegmentRule['rules'], ...(note !== undefined ? { note } : {}) };
  });
}

const segmentCache = new WeakMap<DetectionConfig, Map<string, RuleSettings>>();

/**
 * The rules for a window of one segment: the stage's rules with every matching segment override merged over them
 * in order. Resolved once per (config, merchant, direction) and cached.
 * @example rulesFor(cfg, 'm1', 'CREDITO').count.minCount
 */
export function rulesFor(config: DetectionConfig, merchantId: string, direction: string): RuleSettings {
  if (config.segments.length === 0) return config.rules;
  let cache = segmentCache.get(config);
  if (!cache) segmentCache.set(config, (cache = new Map()));
  const key = `${merchantId}|${direction}`;
  let rules = cache.get(key);
  if (!rules) {
    rules = config.rules;
    for (const seg of config.segments) {
      const { merchant_id, direction: dir } = seg.match;
      if ((merchant_id === undefined || merchant_id === merchantId) && (dir === undefined || dir === direction)) {
        rules = mergeDeep(rules as unknown as Json, seg.rules as Json, 'rules') as unknown as RuleSettings;
      }
    }
    cache.set(key, rules);
  }
  return rules;
}

/** Reads a required environment variable, failing fast with the variable's name. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`Environment variable ${name} is required`);
  return v.trim();
}
