import { ConfigError, type ColumnDef, type TableDef } from '@splitwatch/core';

/**
 * Athena statements that make a TableDef queryable. DDL (Hive dialect) quotes identifiers with backticks;
 * views and UNLOAD are Trino SQL, which quotes with double quotes.
 */

const HIVE_TYPES: Record<ColumnDef['type'], string> = {
  VARCHAR: 'string',
  BIGINT: 'bigint',
  DOUBLE: 'double',
  'DECIMAL(24,8)': 'decimal(24,8)',
  'DECIMAL(38,8)': 'decimal(38,8)',
  TIMESTAMP: 'timestamp',
  DATE: 'date',
  BOOLEAN: 'boolean',
};

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Rejects names Glue cannot store, so a typo fails here rather than as an obscure Athena error. */
export function checkIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new ConfigError(`Invalid ${what} "${name}": use letters, digits and underscores only`);
  }
  return name;
}

const hiveId = (name: string) => `\`${name}\``;
const trinoId = (name: string) => `"${name}"`;

/** `s3://bucket/prefix/` with exactly one trailing slash; quotes in a prefix would break the SQL literal. */
export function s3Location(bucket: string, prefix: string): string {
  const clean = prefix.replace(/^\/+/, '');
  if (clean.includes("'")) throw new ConfigError(`Key prefix must not contain quotes: ${prefix}`);
  return `s3://${bucket}/${clean}${clean === '' || clean.endsWith('/') ? '' : '/'}`;
}

/** Partition columns Athena can project without a catalogue of partitions: `dt`, `month` and DATE columns. */
function isProjectable(c: ColumnDef): boolean {
  return c.name === 'dt' || c.name === 'month' || c.type === 'DATE';
}

function columnList(columns: ColumnDef[], typeOf: (c: ColumnDef) => string): string {
  return columns.map((c) => `  ${hiveId(checkIdentifier(c.name, 'column name'))} ${typeOf(c)}`).join(',\n');
}

function tblProperties(props: [string, string][]): string {
  if (props.length === 0) return '';
  return `\nTBLPROPERTIES (\n${props.map(([k, v]) => `  '${k}'='${v}'`).join(',\n')}\n)`;
}

/** Partition projection: new `dt=…/` (or `month=…/`) folders are queryable at once, with no MSCK REPAIR or Glue crawler. */
function projectionProperties(location: string, partitions: ColumnDef[]): [string, string][] {
  const props: [string, string][] = [['projection.enabled', 'true']];
  for (const p of partitions) {
    const monthly = p.name === 'month'; // `month=YYYY-MM/`
    props.push(
      [`projection.${p.name}.type`, 'date'],
      [`projection.${p.name}.format`, monthly ? 'yyyy-MM' : 'yyyy-MM-dd'],
      [`projection.${p.name}.range`, monthly ? '2000-01,NOW' : '2000-01-01,NOW'],
      [`projection.${p.name}.interval`, '1'],
      [`projection.${p.name}.interval.unit`, monthly ? 'MONTHS' : 'DAYS'],
    );
  }
  const template = partitions.map((p) => `${p.name}=\${${p.name}}/`).join('');
  props.push(['storage.location.template', `${location}${template}`]);
  return props;
}

function viewColumn(c: ColumnDef): string {
  const id = trinoId(c.name);
  // OpenCSVSerde yields '' for an empty field; NULLIF makes it NULL, as DuckDB's read_csv does.
  const text = `NULLIF(${id}, '')`;
  return c.type === 'VARCHAR' ? `${text} AS ${id}` : `CAST(${text} AS ${c.type}) AS ${id}`;
}

/**
 * The statements that (re)create `def` in Athena, in order:
 * - Parquet: `DROP TABLE IF EXISTS`, `CREATE EXTERNAL TABLE … STORED AS PARQUET`.
 * - CSV: the same for `<name>_raw` (OpenCSVSerde, every column STRING, header skipped), then
 *   `CREATE OR REPLACE VIEW <name>` casting each column to its declared type, so SQL written against
 *   `<name>` sees the same types as DuckDB's typed view. OpenCSVSerde reads columns by position:
 *   `def.columns` must be in the file's column order.
 * Partitions named `dt` or `month` or typed DATE use partition projection; any other partition column turns projection
 * off and adds `MSCK REPAIR TABLE`, which must be run again when new partitions arrive.
 */
export function registerTableStatements(def: TableDef, bucket: string): string[] {
  const name = checkIdentifier(def.name, 'table name');
  const location = s3Location(bucket, def.prefix);
  const partitions = def.partitionedBy ?? [];
  const project = partitions.length > 0 && partitions.every(isProjectable);
  const csv = def.format === 'csv';
  const table = csv ? `${name}_raw` : name;

  const parts = [
    `CREATE EXTERNAL TABLE ${hiveId(table)} (\n${columnList(def.columns, (c) => (csv ? 'string' : HIVE_TYPES[c.type]))}\n)`,
  ];
  if (partitions.length > 0)
    parts.push(`PARTITIONED BY (\n${columnList(partitions, (c) => HIVE_TYPES[c.type])}\n)`);
  if (csv) {
    parts.push(
      `ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'`,
      `WITH SERDEPROPERTIES ('separatorChar'=',', 'quoteChar'='"', 'escapeChar'='\\\\')`,
      'STORED AS TEXTFILE',
    );
  } else {
    parts.push('STORED AS PARQUET');
  }
  parts.push(`LOCATION '${location}'`);
  const props: [string, string][] = csv ? [['skip.header.line.count', '1']] : [];
  if (project) props.push(...projectionProperties(location, partitions));

  const statements = [`DROP TABLE IF EXISTS ${hiveId(table)}`, parts.join('\n') + tblProperties(props)];
  if (partitions.length > 0 && !project) statements.push(`MSCK REPAIR TABLE ${hiveId(table)}`);
  if (csv) {
    const select = [...def.columns.map(viewColumn), ...partitions.map((p) => trinoId(p.name))].join(',\n  ');
    statements.push(
      `CREATE OR REPLACE VIEW ${trinoId(name)} AS\nSELECT\n  ${select}\nFROM ${trinoId(table)}`,
    );
  }
  return statements;
}

/**
 * The statements that drop what {@link registerTableStatements} made for a table of the given format: a CSV
 * table is a view plus `<name>_raw`, a Parquet table one external table. With the format unknown (a table
 * registered by another process) both tables are dropped but not a view, since `DROP VIEW` fails on a table.
 * External tables only: the data in S3 stays.
 */
export function dropTableStatements(name: string, format?: TableDef['format']): string[] {
  const table = checkIdentifier(name, 'table name');
  if (format === 'csv') return [`DROP VIEW IF EXISTS ${trinoId(table)}`, `DROP TABLE IF EXISTS ${hiveId(`${table}_raw`)}`];
  if (format === 'parquet') return [`DROP TABLE IF EXISTS ${hiveId(table)}`];
  return [`DROP TABLE IF EXISTS ${hiveId(table)}`, `DROP TABLE IF EXISTS ${hiveId(`${table}_raw`)}`];
}

/**
 * `UNLOAD (select) TO 's3://bucket/prefix/' WITH (format = 'PARQUET', compression = 'SNAPPY'[, partitioned_by])`.
 * Athena requires the partition columns to be the last columns of the SELECT.
 */
export function unloadStatement(
  selectSql: string,
  bucket: string,
  destPrefix: string,
  partitionBy: string[] = [],
): string {
  const select = selectSql.trim().replace(/;+\s*$/, '');
  const withs = [`format = 'PARQUET'`, `compression = 'SNAPPY'`];
  if (partitionBy.length > 0) {
    const cols = partitionBy.map((c) => `'${checkIdentifier(c, 'partition column')}'`).join(', ');
    withs.push(`partitioned_by = ARRAY[${cols}]`);
  }
  return `UNLOAD (${select}) TO '${s3Location(bucket, destPrefix)}' WITH (${withs.join(', ')})`;
}
