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
  /** One ranked list across methods, with at most `budgetPerDay` alerts a day (stored as method `ensemble`). */
  ensemble: { enabled: boolean; budgetPerDay: number };
  /** Trailing window length in hours. */
  windowHours: number;
  rules: {
    /**
     * Split pattern: 2..maxParts parts on one key inside the window whose total is `minRatio` times the key's
     * typical active-day total (median over the past `historyDays`, before the window), or the segment's
     * typical day when the key has fewer than `minHistoryDays` active days, and at least `minSum` in absolute terms.
     * Its score adds evidence points to log2(ratio / minRatio): parts minutes apart (median gap ≤ `fastGapSeconds`)
     * +2, three or more parts +1, similar sizes (cv ≤ 0.2) +1, a part equal to the key's past maximum (a cap) +0.5,
     * one part holding ≥ 60% of the total −1. It fires at `minScore`.
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
}

export const DEFAULT_CONFIG: DetectionConfig = {
  version: '2026-11-29.4',
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
  ensemble: { enabled: true, budgetPerDay: 25 },
  windowHours: 24,
  rules: {
    split: { enabled: true, minParts: 2, maxParts: 12, minRatio: 3, minSum: 60, historyDays: 30, minHistoryDays: 3, fastGapSeconds: 900, minScore: 2.5 },
    count: { enabled: true, minCount: 6 },
    sum: { enabled: true, minSum: 3000, minCount: 2 },
    zscore: { enabled: true, minZ: 4, minCount: 2, minSum: 600, minHistoryDays: 7 },
  },
};

type Json = Record<string, unknown>;

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
      if (typeof v === 'number' && (!Number.isFinite(v) || v < 0)) {
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
  const merged = mergeDeep(DEFAULT_CONFIG as unknown as Json, override, '') as unknown as DetectionConfig;
  if (merged.windowHours <= 0 || merged.windowHours > 24 * 31) {
    throw new ConfigError(`windowHours must be in (0, 744], got ${merged.windowHours}`);
  }
  return merged;
}

/** Reads a required environment variable, failing fast with the variable's name. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (v === undefined || v.trim() === '') throw new ConfigError(`Environment variable ${name} is required`);
  return v.trim();
}
