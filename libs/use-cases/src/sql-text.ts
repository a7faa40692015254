/**
 * Helpers to build SQL in the subset Athena (Trino) and DuckDB share. Values interpolated into SQL go through
 * these functions only, so nothing user-supplied is spliced in raw.
 */
export function lit(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Identifier safe for both engines (letters, digits, underscore), derived from any text. */
export function safeIdent(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return /^[a-z_]/.test(s) ? s : `t_${s}`;
}

/** Substitutes `{{name}}` placeholders with already-validated fragments; an unknown placeholder is an error. */
export function renderSql(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    if (!(name in params)) throw new Error(`SQL template placeholder {{${name}}} has no value`);
    const v = params[name];
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`SQL parameter ${name} is not finite`);
    return String(v);
  });
}

/**
 * Functions and syntax that exist in only one of the two engines; the shared SQL must use none of them.
 * Two differences no pattern can see, so the shared SQL follows them by hand: `/` on two integers is integer
 * division in Trino and DOUBLE division in DuckDB (cast one side to DOUBLE), and GREATEST/LEAST return NULL on a
 * NULL argument in Trino but skip it in DuckDB (only pass values that cannot be NULL).
 */
export const ENGINE_ONLY_SQL: { pattern: RegExp; why: string }[] = [
  { pattern: /\bepoch\s*\(/i, why: 'DuckDB-only epoch()' },
  { pattern: /\bread_(parquet|csv)\s*\(/i, why: 'DuckDB-only table function' },
  { pattern: /\bdistinct\s+on\b/i, why: 'DuckDB-only DISTINCT ON' },
  { pattern: /\bqualify\b/i, why: 'QUALIFY is not in Athena' },
  { pattern: /::/, why: 'DuckDB/PostgreSQL-only :: cast' },
  { pattern: /\bstrftime\s*\(|\bstrptime\s*\(/i, why: 'DuckDB-only strftime/strptime' },
  { pattern: /\blist_\w+\s*\(|\blist\s*\(/i, why: 'DuckDB-only list functions' },
  { pattern: /\bdate_add\s*\(/i, why: 'Trino-only date_add' },
  { pattern: /\bapprox_percentile\s*\(/i, why: 'Trino-only approx_percentile' },
  { pattern: /\bfrom_iso8601_\w+\s*\(/i, why: 'Trino-only from_iso8601_*' },
  { pattern: /\bto_unixtime\s*\(|\bfrom_unixtime\s*\(/i, why: 'Trino-only unixtime functions' },
  { pattern: /\bilike\b/i, why: 'ILIKE is not in Athena' },
  { pattern: /\bcount\s*\(\s*distinct[^)]*\)\s*over\b/i, why: 'DISTINCT window aggregates are not in Trino' },
  { pattern: /\bwindow\s+\w+\s+as\s*\(/i, why: 'named WINDOW clause: keep window specs inline' },
  { pattern: /(?<!:)\/\//, why: 'DuckDB-only // integer division' },
  { pattern: /\b(ifnull|nvl)\s*\(/i, why: 'IFNULL/NVL are not in Trino: use COALESCE' },
  {
    pattern: /\b(median|quantile\w*|mode)\s*\(/i,
    why: 'DuckDB-only median/quantile/mode (Trino has approx_percentile only)',
  },
  {
    pattern: /\b(arg_max|arg_min|argmax|argmin)\s*\(/i,
    why: 'DuckDB-only arg_max/arg_min (Trino: max_by/min_by)',
  },
  {
    pattern: /\b(string_agg|group_concat|listagg)\s*\(/i,
    why: 'string aggregation differs between the engines',
  },
  { pattern: /\b(hash|md5|sha256|murmur3)\s*\(/i, why: 'hash functions differ between the engines' },
  {
    // The local DuckDB engine defines `xxhash64` and `to_utf8` as macros; their values differ from Athena's.
    pattern: /\bxxhash64\s*\((?!\s*to_utf8\s*\()/i,
    why: 'xxhash64 only as xxhash64(to_utf8(text)), to group or compare by (values differ between the engines)',
  },
  { pattern: /\bregexp_(matches|full_match)\s*\(/i, why: 'DuckDB-only regexp_matches (Trino: regexp_like)' },
  { pattern: /\bexclude\s*\(|\bexclude\s+(current|group|ties|no\s+others)\b/i, why: 'DuckDB-only EXCLUDE' },
  { pattern: /\bcolumns\s*\(/i, why: 'DuckDB-only COLUMNS(...)' },
  { pattern: /\basof\b|\bpositional\s+join\b/i, why: 'DuckDB-only ASOF / POSITIONAL joins' },
  { pattern: /\bgroups\s+between\b/i, why: 'GROUPS frames are not in Athena' },
  { pattern: /\bfilter\s*\(\s*where\b/i, why: 'aggregate FILTER clauses: use CASE inside the aggregate' },
  { pattern: /\bas\s+(not\s+)?materialized\b/i, why: 'MATERIALIZED CTEs are not in Trino' },
  {
    pattern: /\bselect\s+\*\s+(exclude|replace)\b|\.\*\s+(exclude|replace)\b/i,
    why: 'DuckDB-only star modifiers',
  },
];

/** Returns the engine-only constructs found in a SQL text (empty when it stays in the shared subset). */
export function findEngineOnlySql(sql: string): string[] {
  return ENGINE_ONLY_SQL.filter((r) => r.pattern.test(sql)).map((r) => r.why);
}
