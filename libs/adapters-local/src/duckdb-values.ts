import {
  DuckDBTypeId,
  type DuckDBConnection,
  type DuckDBPreparedStatement,
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

/** The node bindings' de-duplication of result column names (`a`, `a:1`, `a:2` …), as DuckDBResult does it. */
export function deduplicatedNames(names: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return names.map((name) => {
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    return n > 1 ? `${name}:${n - 1}` : name;
  });
}

/**
 * How a query's rows are read: the statement to run (prepared once, the caller runs and destroys it), its SQL, and
 * how one row of its values becomes the query's row object.
 */
export interface RowReader {
  prepared: DuckDBPreparedStatement;
  sql: string;
  names: string[];
  toRow(values: readonly DuckDBValue[]): Record<string, PlainValue>;
}

/**
 * How to read the rows of `sql` fast. Every text value longer than 12 bytes costs the node bindings a native call
 * (DuckDB keeps it out of line) and a decode, which made reading a row of eight ids and texts about three times
 * slower than DuckDB producing it. With two or more text columns the query is wrapped so that DuckDB packs a row's
 * texts into one JSON array (`to_json`), unpacked by one `JSON.parse`: exact (JSON escapes every character, NULL
 * stays null; a JSON-typed column is cast to text first, else it would be embedded as JSON and come back parsed),
 * and the row object keeps the query's column names and order. Other columns are read as they are. A projection
 * over one subquery keeps the subquery's row order (DuckDB's order-preservation rules), so an ORDER BY inside still
 * holds. Statements that are not a single query, or cannot be wrapped (a comment after a final semicolon), are read
 * as they are.
 */
export async function rowReader(connection: DuckDBConnection, sql: string): Promise<RowReader | null> {
  let prepared;
  try {
    prepared = await connection.prepare(sql);
  } catch {
    return null; // run as is: the engine reports the error
  }
  const count = prepared.columnCount;
  const raw: string[] = [];
  const text: number[] = [];
  const other: number[] = [];
  for (let i = 0; i < count; i++) {
    raw.push(prepared.columnName(i));
    (prepared.columnTypeId(i) === DuckDBTypeId.VARCHAR ? text : other).push(i);
  }
  const names = deduplicatedNames(raw);
  const plain = {
    prepared,
    sql,
    names,
    toRow: (values: readonly DuckDBValue[]) => toPlainRow(names, values),
  };
  if (text.length < 2) return plain;
  const body = sql.replace(/[\s;]+$/, '');
  const col = (i: number) => `c${i}`;
  const wrapped =
    `SELECT ${[...other.map(col), `to_json([${text.map((i) => `CAST(${col(i)} AS VARCHAR)`).join(', ')}]) AS texts`].join(', ')}\n` +
    `FROM (${body}\n) AS t(${raw.map((_, i) => col(i)).join(', ')})`;
  let packed: DuckDBPreparedStatement;
  try {
    packed = await connection.prepare(wrapped);
  } catch {
    return plain;
  }
  prepared.destroySync();
  // For each column of the query, in order: where its value is (a text's index in the JSON array, or its position).
  const at = new Int32Array(count);
  text.forEach((i, k) => (at[i] = k));
  other.forEach((i, k) => (at[i] = k));
  const isText = new Uint8Array(count);
  for (const i of text) isText[i] = 1;
  const textsAt = other.length;
  return {
    prepared: packed,
    sql: wrapped,
    names,
    toRow(values) {
      const texts = JSON.parse(values[textsAt] as string) as (string | null)[];
      const row: Record<string, PlainValue> = {};
      for (let i = 0; i < count; i++) row[names[i]] = isText[i] ? texts[at[i]] : toPlainValue(values[at[i]]);
      return row;
    },
  };
}
