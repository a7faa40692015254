import {
  DuckDBArrayValue,
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
  DuckDBTimestampMillisecondsValue,
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampSecondsValue,
  DuckDBTimestampValue,
  type DuckDBValue,
} from '@duckdb/node-api';

/** A DuckDB value as the SqlEngine port hands it out (the same shapes the Athena adapter produces). */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

/**
 * Converts one DuckDB value to a plain JS value: integers → number (beyond ±2^53 → decimal string),
 * DECIMAL → exact text with its scale (`71.33346014`), TIMESTAMP → `YYYY-MM-DD HH:MM:SS[.ffffff]` without any zone
 * shift, DATE → `YYYY-MM-DD`, LIST/ARRAY → arrays, STRUCT → objects; anything else → its DuckDB text form.
 */
export function toPlainValue(value: DuckDBValue): PlainValue {
  if (
    value === null ||
    typeof value === 'boolean' ||
    typeof value === 'number' ||
    typeof value === 'string'
  ) {
    return value;
  }
  if (typeof value === 'bigint') {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  // DuckDB's own toString is exact: decimals are rendered from the scaled integer, timestamps from their parts.
  if (
    value instanceof DuckDBDecimalValue ||
    value instanceof DuckDBTimestampValue ||
    value instanceof DuckDBTimestampSecondsValue ||
    value instanceof DuckDBTimestampMillisecondsValue ||
    value instanceof DuckDBTimestampNanosecondsValue ||
    value instanceof DuckDBDateValue
  ) {
    return value.toString();
  }
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue)
    return value.items.map(toPlainValue);
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, toPlainValue(v)]));
  }
  if (value instanceof DuckDBMapValue) {
    return value.entries.map(({ key, value: v }) => ({ key: toPlainValue(key), value: toPlainValue(v) }));
  }
  return String(value);
}

/** Builds one row object from positional values and (deduplicated) column names. */
export function toPlainRow(
  names: readonly string[],
  values: readonly DuckDBValue[],
): Record<string, PlainValue> {
  const row: Record<string, PlainValue> = {};
  for (let i = 0; i < names.length; i++) row[names[i]] = toPlainValue(values[i]);
  return row;
}
