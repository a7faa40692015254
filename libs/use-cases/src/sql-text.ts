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

/** Functions and syntax that exist in only one of the two engines; the shared SQL must use none of them. */
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
];

/** Returns the engine-only constructs found in a SQL text (empty when it stays in the shared subset). */
export function findEngineOnlySql(sql: string): string[] {
  return ENGINE_ONLY_SQL.filter((r) => r.pattern.test(sql)).map((r) => r.why);
}
