import { ConfigError, INPUT_COLUMNS, type InputColumn } from '@splitwatch/core';

/**
 * Renames for a log with another schema: contract column → the name it has in the file (header or Parquet
 * column). Columns left out keep their contract name. `tx_id` is accepted as a key for `_id` (its curated name).
 * @example { _id: 'id', transaction_amount: 'amount', transaction_date: 'created_at' }
 */
export type ColumnMap = Partial<Record<InputColumn, string>>;

const KEY_ALIASES: Record<string, InputColumn> = { tx_id: '_id' };

/**
 * Checks a column map given as untrusted JSON (a CLI file, a state machine input) and returns it normalised.
 * @throws ConfigError naming the unknown keys, the values that are not names, and names used twice.
 */
export function resolveColumnMap(value: unknown, what = 'column map'): ColumnMap {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(
      `The ${what} must be a JSON object (contract column → name in the file), got ${JSON.stringify(value)}`,
    );
  }
  const out: ColumnMap = {};
  const problems: string[] = [];
  const seen = new Map<string, string>();
  for (const [rawKey, name] of Object.entries(value as Record<string, unknown>)) {
    const key = (KEY_ALIASES[rawKey] ?? rawKey) as InputColumn;
    if (!(INPUT_COLUMNS as readonly string[]).includes(key)) {
      problems.push(`unknown column ${JSON.stringify(rawKey)} (expected one of ${INPUT_COLUMNS.join(', ')})`);
      continue;
    }
    if (typeof name !== 'string' || name.trim() === '') {
      problems.push(`${rawKey} must map to a non-empty column name, got ${JSON.stringify(name)}`);
      continue;
    }
    if (out[key] !== undefined) problems.push(`${key} is mapped twice`);
    const folded = name.trim().toLowerCase();
    const other = seen.get(folded);
    if (other !== undefined) problems.push(`${JSON.stringify(name)} is used for both ${other} and ${key}`);
    seen.set(folded, key);
    out[key] = name.trim();
  }
  // A contract name left unmapped must not be claimed by another column's rename.
  for (const col of INPUT_COLUMNS) {
    const claimant = seen.get(col);
    if (out[col] === undefined && claimant !== undefined && claimant !== col) {
      problems.push(`${JSON.stringify(col)} is mapped to ${claimant} but ${col} itself is not mapped`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`Invalid ${what}: ${problems.join('; ')}`);
  return out;
}
