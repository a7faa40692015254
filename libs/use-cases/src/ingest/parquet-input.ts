import { INPUT_COLUMNS, InputFormatError, type ColumnDef, type InputColumn } from '@splitwatch/core';
import type { ColumnMap } from './column-map';
import type { ParquetColumn, ParquetKind, ParquetSchema } from './parquet-schema';
import { MAX_ID_CHARS } from './validate-row';
import { lit } from '../sql-text';

/**
 * Parquet input is validated by the SQL engine, not row by row in TypeScript: its columns are typed already, so the
 * same checks as the CSV validator are expressed in SQL (the Athena/DuckDB shared subset) and the rows never
 * leave the engine. The footer schema is checked first, so a file with missing or mistyped columns fails at once
 * with what was expected and what was found.
 */

/** A contract column found in a Parquet file. */
export interface MappedParquetColumn {
  contract: InputColumn;
  column: ParquetColumn;
}

export interface ParquetPlan {
  mapped: MappedParquetColumn[];
  /** Extra columns whose type the engines can both read (kept aside); nested ones are only listed. */
  extras: { column: ParquetColumn; def: ColumnDef }[];
  extrasNotKept: string[];
  /** Columns to register the raw table with: the mapped and kept extra columns, typed as in the file. */
  registration: ColumnDef[];
}

const ID_COLUMNS: InputColumn[] = ['_id', 'merchant_id', 'subsidiary', 'account_number', 'user_id'];

const EXPECTED: Record<InputColumn, string> = {
  _id: 'text',
  merchant_id: 'text',
  subsidiary: 'text',
  account_number: 'text',
  user_id: 'text',
  transaction_date: 'TIMESTAMP (or text)',
  transaction_amount: 'DECIMAL(p,s) with s ≤ 8 (or an integer, or text)',
  transaction_type: 'text',
};

/** The declared type a raw Parquet column is registered with (what both engines read it as), or why it cannot be used. */
function registrationType(contract: InputColumn | null, type: ParquetKind): ColumnDef['type'] | string {
  switch (type.kind) {
    case 'text':
    case 'binary':
      return 'VARCHAR';
    case 'integer':
      return contract === 'transaction_date' ? 'an integer is not a timestamp' : 'BIGINT';
    case 'decimal':
      if (contract !== null && contract !== 'transaction_amount') return 'a decimal is not text';
      if (type.scale > 8) return `more than 8 decimals would be rounded (scale ${type.scale})`;
      if (type.precision - type.scale <= 16) return 'DECIMAL(24,8)';
      if (type.precision - type.scale <= 30) return 'DECIMAL(38,8)';
      return `integer part of up to ${type.precision - type.scale} digits does not fit DECIMAL(38,8)`;
    case 'timestamp':
      return contract === null || contract === 'transaction_date' ? 'TIMESTAMP' : 'a timestamp is not text';
    case 'date':
      return contract === null
        ? 'DATE'
        : contract === 'transaction_date'
          ? 'a DATE has no time of day'
          : 'a date is not text';
    case 'float':
      return contract === null
        ? 'DOUBLE'
        : contract === 'transaction_amount'
          ? 'floating point is not exact'
          : 'a float is not text';
    case 'boolean':
      return contract === null ? 'BOOLEAN' : 'a boolean is not usable here';
    case 'nested':
      return 'nested types are not supported';
    default:
      return `${type.what} is not supported`;
  }
}

const isColumnType = (t: string): t is ColumnDef['type'] =>
  ['VARCHAR', 'BIGINT', 'DOUBLE', 'DECIMAL(24,8)', 'DECIMAL(38,8)', 'TIMESTAMP', 'DATE', 'BOOLEAN'].includes(
    t,
  );

/**
 * Matches a Parquet schema to the input contract (through the column map) and checks each column's type.
 * @throws InputFormatError listing the missing and mistyped columns, what was expected and what was found.
 */
export function planParquet(schema: ParquetSchema, source: string, columnMap: ColumnMap = {}): ParquetPlan {
  const byName = new Map<string, ParquetColumn>();
  for (const c of schema.columns) byName.set(c.name.trim().toLowerCase(), c);
  const mapped: MappedParquetColumn[] = [];
  const missing: string[] = [];
  const wrong: string[] = [];
  const used = new Set<ParquetColumn>();
  for (const contract of INPUT_COLUMNS) {
    const name = columnMap[contract] ?? contract;
    const column = byName.get(name.trim().toLowerCase());
    const label = name === contract ? contract : `${name} (for ${contract})`;
    if (!column) {
      missing.push(label);
      continue;
    }
    used.add(column);
    const t = registrationType(contract, column.type);
    if (!isColumnType(t)) wrong.push(`${label} is ${column.label}: ${t}, expected ${EXPECTED[contract]}`);
    else mapped.push({ contract, column });
  }
  if (missing.length > 0 || wrong.length > 0) {
    const problems = [
      ...(missing.length > 0 ? [`missing column(s) ${missing.join(', ')}`] : []),
      ...(wrong.length > 0 ? [`wrong type: ${wrong.join('; ')}`] : []),
    ];
    const expected = INPUT_COLUMNS.map((c) => `${columnMap[c] ?? c} ${EXPECTED[c]}`).join(', ');
    const found = schema.columns.map((c) => `${c.name} ${c.label}`).join(', ') || '(no columns)';
    throw new InputFormatError(`${source}: ${problems.join('; ')}; expected ${expected}; found ${found}`);
  }
  const extras: ParquetPlan['extras'] = [];
  const extrasNotKept: string[] = [];
  for (const c of schema.columns) {
    if (used.has(c)) continue;
    const t = registrationType(null, c.type);
    if (isColumnType(t)) extras.push({ column: c, def: { name: c.name, type: t } });
    else extrasNotKept.push(`${c.name} (${c.label})`);
  }
  const registration: ColumnDef[] = [
    ...mapped.map((m) => ({
      name: m.column.name,
      type: registrationType(m.contract, m.column.type) as ColumnDef['type'],
    })),
    ...extras.map((e) => e.def),
  ];
  return { mapped, extras, extrasNotKept, registration };
}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const shown = (text: string) => `'"' || substr(${text}, 1, 60) || '"'`;

/** A text pattern test that means the same in DuckDB (RE2) and Athena (Joni): the whole value matches `pattern`. */
const matches = (text: string, pattern: string) =>
  `regexp_replace(${text}, ${lit(`^(${pattern})$`)}, '') = ''`;

/**
 * The raw table's rows with `source_line`, their 1-based position in the file: the table's own column when the engine
 * numbered the rows as it read them (`numbered`, in parallel), else `row_number() OVER ()` (serial; DuckDB numbers in
 * scan order, Athena in no promised order).
 */
function numberedRows(rawTable: string, numbered: boolean): string {
  return numbered ? rawTable : `(SELECT *, row_number() OVER () AS source_line FROM ${rawTable})`;
}

/**
 * SELECT over the registered raw table giving every row in the validated table's shape: normalised values and
 * `reject_column`/`reject_reason` (NULL when the row is valid), the row's 1-based position as `source_line`, and the
 * raw values as `record` for rejected rows. The checks and their order mirror {@link validateValues}. Last comes
 * `month_of_year` (`01`–`12` of a valid row, `rejected` otherwise), the column to partition the output by, so that
 * writing a range of days (never across a month) reads only that calendar month's rows: a twelfth of a year, and never
 * more than 13 partitions, whatever the years a file spans (Athena's UNLOAD writes at most 100).
 */
export function validateParquetSql(
  rawTable: string,
  source: string,
  plan: ParquetPlan,
  numbered = false,
): string {
  const col = Object.fromEntries(plan.mapped.map((m) => [m.contract, m])) as Record<
    InputColumn,
    MappedParquetColumn
  >;
  const inner: string[] = [];
  const checks: { when: string; column: InputColumn; reason: string }[] = [];

  for (const c of ID_COLUMNS) {
    inner.push(`trim(CAST(${q(col[c].column.name)} AS VARCHAR)) AS "v_${c}"`);
    checks.push({ when: `"v_${c}" IS NULL OR "v_${c}" = ''`, column: c, reason: `'empty value'` });
    checks.push({
      when: `length("v_${c}") > ${MAX_ID_CHARS}`,
      column: c,
      reason: `'longer than ${MAX_ID_CHARS} characters'`,
    });
  }

  // Typed columns are kept typed (`r_*`) and turned into text only where a rejected row is shown: a cast of every
  // row's timestamp and amount to text cost a third of the validation.
  const date = col.transaction_date.column;
  const dateName = q(date.name);
  let tsText = 't_ts';
  if (date.type.kind === 'timestamp') {
    inner.push(`date_trunc('second', CAST(${dateName} AS TIMESTAMP)) AS v_ts`, `${dateName} AS r_ts`);
    tsText = 'CAST(r_ts AS VARCHAR)';
    checks.push({ when: 'r_ts IS NULL', column: 'transaction_date', reason: `'empty value'` });
  } else {
    const t = `trim(CAST(${dateName} AS VARCHAR))`;
    const pattern = '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?';
    inner.push(
      `CASE WHEN ${matches(t, pattern)} THEN TRY_CAST(substr(${t}, 1, 10) || ' ' || substr(${t}, 12, 8) AS TIMESTAMP) END AS v_ts`,
      `${t} AS t_ts`,
    );
    checks.push({ when: `t_ts IS NULL OR t_ts = ''`, column: 'transaction_date', reason: `'empty value'` });
  }
  checks.push({
    when: 'v_ts IS NULL OR year(v_ts) < 1900 OR year(v_ts) > 2999',
    column: 'transaction_date',
    reason: `'not a valid YYYY-MM-DD HH:MM:SS timestamp: ' || ${shown(tsText)}`,
  });

  const amount = col.transaction_amount.column;
  const amountName = q(amount.name);
  let amountText = 't_amount';
  if (amount.type.kind === 'text' || amount.type.kind === 'binary') {
    const t = `trim(CAST(${amountName} AS VARCHAR))`;
    inner.push(`${t} AS t_amount`);
    checks.push({
      when: `t_amount IS NULL OR t_amount = ''`,
      column: 'transaction_amount',
      reason: `'empty value'`,
    });
    checks.push({
      when: `NOT (${matches('t_amount', '[+-]?[0-9]*[.]?[0-9]*')}) OR ${matches('t_amount', '[^0-9]*')}`,
      column: 'transaction_amount',
      reason: `'not a decimal number: ' || ${shown('t_amount')}`,
    });
    checks.push({
      when: `strpos(t_amount, '.') > 0 AND length(t_amount) - strpos(t_amount, '.') > 8`,
      column: 'transaction_amount',
      reason: `'more than 8 decimals: ' || ${shown('t_amount')}`,
    });
    checks.push({
      when: `substr(t_amount, 1, 1) = '-' OR TRY_CAST(t_amount AS DECIMAL(38,8)) <= 0`,
      column: 'transaction_amount',
      reason: `'not positive: ' || ${shown('t_amount')}`,
    });
    checks.push({
      when: `TRY_CAST(t_amount AS DECIMAL(24,8)) IS NULL`,
      column: 'transaction_amount',
      reason: `'does not fit DECIMAL(24,8): ' || ${shown('t_amount')}`,
    });
    inner.push(`TRY_CAST(${t} AS DECIMAL(24,8)) AS v_amount`);
  } else {
    inner.push(`TRY_CAST(${amountName} AS DECIMAL(24,8)) AS v_amount`, `${amountName} AS r_amount`);
    amountText = 'CAST(r_amount AS VARCHAR)';
    checks.push({ when: 'r_amount IS NULL', column: 'transaction_amount', reason: `'empty value'` });
    checks.push({
      when: 'v_amount IS NULL',
      column: 'transaction_amount',
      reason: `'does not fit DECIMAL(24,8): ' || ${shown(amountText)}`,
    });
    checks.push({
      when: 'v_amount <= 0',
      column: 'transaction_amount',
      reason: `'not positive: ' || ${shown(amountText)}`,
    });
  }

  const typeName = q(col.transaction_type.column.name);
  inner.push(
    `upper(replace(trim(CAST(${typeName} AS VARCHAR)), ' ', '')) AS v_type`,
    `trim(CAST(${typeName} AS VARCHAR)) AS t_type`,
  );
  checks.push({ when: `t_type IS NULL OR t_type = ''`, column: 'transaction_type', reason: `'empty value'` });
  checks.push({
    when: `v_type NOT IN ('DEBITO', 'CREDITO')`,
    column: 'transaction_type',
    reason: `'expected DEBITO or CREDITO, got ' || ${shown('t_type')}`,
  });

  const shownValue: Record<InputColumn, string> = {
    _id: '"v__id"',
    merchant_id: '"v_merchant_id"',
    subsidiary: '"v_subsidiary"',
    transaction_date: tsText,
    account_number: '"v_account_number"',
    user_id: '"v_user_id"',
    transaction_amount: amountText,
    transaction_type: 't_type',
  };
  const record = INPUT_COLUMNS.map((c) => `coalesce(${shownValue[c]}, '')`).join(` || ',' || `);
  // Rows are numbered in file order before anything else (see numberedRows).
  inner.push('source_line');
  // Reasons and the record text are only built for rejected rows (CASE evaluates its branch for matching rows only).
  const rejectColumn = `CASE ${checks.map((c) => `WHEN ${c.when} THEN ${lit(c.column)}`).join(' ')} END`;
  const rejectReason = `CASE ${checks.map((c) => `WHEN ${c.when} THEN ${c.reason}`).join(' ')} END`;
  const valid = (e: string) => `CASE WHEN reject_column IS NULL THEN ${e} END`;
  return `
SELECT CAST(${valid('"v__id"')} AS VARCHAR) AS tx_id,
       CAST(${valid('"v_merchant_id"')} AS VARCHAR) AS merchant_id,
       CAST(${valid('"v_subsidiary"')} AS VARCHAR) AS subsidiary,
       CAST(${valid('v_ts')} AS TIMESTAMP) AS transaction_date,
       CAST(${valid('"v_account_number"')} AS VARCHAR) AS account_number,
       CAST(${valid('"v_user_id"')} AS VARCHAR) AS user_id,
       CAST(${valid('v_amount')} AS DECIMAL(24,8)) AS transaction_amount,
       CAST(${valid('v_type')} AS VARCHAR) AS transaction_type,
       ${lit(source)} AS source_key,
       CAST(source_line AS BIGINT) AS source_line,
       reject_column,
       CAST(CASE WHEN reject_column IS NOT NULL THEN ${rejectReason} END AS VARCHAR) AS reject_reason,
       CAST(CASE WHEN reject_column IS NOT NULL THEN ${record} END AS VARCHAR) AS record,
       CASE WHEN reject_column IS NULL THEN substr(CAST(v_ts AS VARCHAR), 6, 2) ELSE 'rejected' END AS month_of_year
FROM (
  SELECT v.*, CAST(${rejectColumn} AS VARCHAR) AS reject_column
  FROM (
    SELECT ${inner.join(',\n           ')}
    FROM ${numberedRows(rawTable, numbered)} numbered
  ) v
) x
`;
}

/** SELECT of a Parquet source's extra columns keyed by source and row, to be kept under `extras/`. */
export function parquetExtrasSql(
  rawTable: string,
  source: string,
  plan: ParquetPlan,
  numbered = false,
): string {
  const cols = plan.extras.map((e) => q(e.column.name)).join(', ');
  return `SELECT ${lit(source)} AS source_key, CAST(source_line AS BIGINT) AS source_line, ${cols} FROM ${numberedRows(rawTable, numbered)} numbered`;
}
