import { ConfigError } from './errors';

/**
 * Detection settings, versioned and overridable per stage (config/<stage>.json in the pipeline app,
 * `--config FILE` locally). Every threshold is documented in the README.
 */
export interface DetectionConfig {
  version: string;
  /** Trailing window length in hours. */
  windowHours: number;
  rules: {
    count: { enabled: boolean; minCount: number };
    sum: { enabled: boolean; minSum: number; minCount: number };
    zscore: { enabled: boolean; minZ: number; minCount: number; minSum: number; minHistoryDays: number };
  };
}

export const DEFAULT_CONFIG: DetectionConfig = {
  version: '2026-11-29.1',
  windowHours: 24,
  rules: {
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
