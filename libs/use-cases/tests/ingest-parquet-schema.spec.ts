import { InputFormatError } from '@splitwatch/core';
import { findEngineOnlySql } from '../src';
import { planParquet, validateParquetSql, parquetExtrasSql } from '../src/ingest/parquet-input';
import { readParquetSchema, TailKeeper, type ParquetSchema } from '../src/ingest/parquet-schema';

/**
 * A minimal Thrift compact-protocol writer: enough to build Parquet footers by hand, so the footer reader is
 * tested on cases a writer at hand would not produce (INT96, legacy converted types, nested columns, bad bytes).
 */
type Field =
  | { id: number; i32: number }
  | { id: number; i64: number }
  | { id: number; bin: string }
  | { id: number; bool: boolean }
  | { id: number; byte: number }
  | { id: number; struct: Field[] }
  | { id: number; list: Field[][] };

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const zigzag = (n: number) => varint(n >= 0 ? n * 2 : -n * 2 - 1);

function struct(fields: Field[]): number[] {
  const out: number[] = [];
  let last = 0;
  for (const f of fields) {
    const type =
      'i32' in f
        ? 5
        : 'i64' in f
          ? 6
          : 'bin' in f
            ? 8
            : 'bool' in f
              ? f.bool
                ? 1
                : 2
              : 'byte' in f
                ? 3
                : 'struct' in f
                  ? 12
                  : 9;
    const delta = f.id - last;
    if (delta > 0 && delta <= 15) out.push((delta << 4) | type);
    else out.push(type, ...zigzag(f.id));
    last = f.id;
    if ('i32' in f) out.push(...zigzag(f.i32));
    else if ('i64' in f) out.push(...zigzag(f.i64));
    else if ('bin' in f) {
      const b = [...Buffer.from(f.bin)];
      out.push(...varint(b.length), ...b);
    } else if ('byte' in f) out.push(f.byte);
    else if ('struct' in f) out.push(...struct(f.struct));
    else if ('list' in f) {
      out.push(f.list.length < 15 ? (f.list.length << 4) | 12 : 0xf0 | 12);
      if (f.list.length >= 15) out.push(...varint(f.list.length));
      for (const el of f.list) out.push(...struct(el));
    }
  }
  out.push(0);
  return out;
}

/** A whole Parquet "file" (no data pages: the reader only looks at the footer). */
function parquetWith(columns: Field[][], numRows = 3, extraFooterFields: Field[] = []): Uint8Array {
  const root: Field[] = [
    { id: 4, bin: 'schema' },
    { id: 5, i32: columns.length },
  ];
  const footer = struct([
    { id: 1, i32: 2 },
    { id: 2, list: [root, ...columns] },
    { id: 3, i64: numRows },
    ...extraFooterFields,
  ]);
  const len = footer.length;
  return Uint8Array.from([
    ...Buffer.from('PAR1'),
    ...footer,
    len & 255,
    (len >> 8) & 255,
    (len >> 16) & 255,
    len >>> 24,
    ...Buffer.from('PAR1'),
  ]);
}

const STRING = (name: string): Field[] => [
  { id: 1, i32: 6 },
  { id: 4, bin: name },
  { id: 10, struct: [{ id: 1, struct: [] }] },
];
const DECIMAL = (name: string, precision: number, scale: number): Field[] => [
  { id: 1, i32: 7 },
  { id: 2, i32: 11 },
  { id: 4, bin: name },
  { id: 6, i32: 5 },
  { id: 7, i32: scale },
  { id: 8, i32: precision },
  {
    id: 10,
    struct: [
      {
        id: 5,
        struct: [
          { id: 1, i32: scale },
          { id: 2, i32: precision },
        ],
      },
    ],
  },
];
const TIMESTAMP = (name: string, adjusted = false): Field[] => [
  { id: 1, i32: 2 },
  { id: 4, bin: name },
  {
    id: 10,
    struct: [
      {
        id: 8,
        struct: [
          { id: 1, bool: adjusted },
          { id: 2, struct: [{ id: 2, struct: [] }] },
        ],
      },
    ],
  },
];
const PHYSICAL = (name: string, type: number, convertedType?: number): Field[] => [
  { id: 1, i32: type },
  { id: 4, bin: name },
  ...(convertedType === undefined ? [] : [{ id: 6, i32: convertedType }]),
];

const CONTRACT = (
  amount: Field[] = DECIMAL('transaction_amount', 24, 8),
  date: Field[] = TIMESTAMP('transaction_date'),
): Field[][] => [
  STRING('_id'),
  STRING('merchant_id'),
  STRING('subsidiary'),
  date,
  STRING('account_number'),
  STRING('user_id'),
  amount,
  STRING('transaction_type'),
];

describe('readParquetSchema', () => {
  it('reads names, logical types and the row count from the footer', () => {
    const schema = readParquetSchema(parquetWith(CONTRACT(), 42), 'raw/p.parquet');

    expect(schema.numRows).toBe(42);
    expect(schema.columns.map((c) => `${c.name} ${c.label}`)).toEqual([
      '_id VARCHAR',
      'merchant_id VARCHAR',
      'subsidiary VARCHAR',
      'transaction_date TIMESTAMP',
      'account_number VARCHAR',
      'user_id VARCHAR',
      'transaction_amount DECIMAL(24,8)',
      'transaction_type VARCHAR',
    ]);
  });

  it('understands legacy converted types, INT96 timestamps, floats and nested columns', () => {
    const nested: Field[] = [
      { id: 4, bin: 'tags' },
      { id: 5, i32: 1 },
    ];
    const schema = readParquetSchema(
      parquetWith([
        PHYSICAL('legacy_text', 6, 0),
        PHYSICAL('legacy_ts', 2, 10),
        PHYSICAL('impala_ts', 3),
        PHYSICAL('ratio', 5),
        PHYSICAL('n', 1),
        nested,
        PHYSICAL('tag', 6, 0),
        PHYSICAL('after', 0),
      ]),
      'x.parquet',
    );
    // `tags` has one child (`tag`), which is not a top-level column.
    expect(schema.columns.map((c) => `${c.name}:${c.type.kind}`)).toEqual([
      'legacy_text:text',
      'legacy_ts:timestamp',
      'impala_ts:timestamp',
      'ratio:float',
      'n:integer',
      'tags:nested',
      'after:boolean',
    ]);
  });

  it('skips footer fields it does not need, such as row groups and key-value metadata', () => {
    const extra: Field[] = [
      {
        id: 4,
        list: [
          [
            { id: 1, list: [] },
            { id: 2, i64: 1000 },
            { id: 3, i64: 3 },
          ],
        ],
      },
      {
        id: 5,
        list: [
          [
            { id: 1, bin: 'ARROW:schema' },
            { id: 2, bin: 'abc' },
          ],
        ],
      },
      { id: 6, bin: 'parquet-cpp version 15' },
    ];
    expect(readParquetSchema(parquetWith(CONTRACT(), 3, extra), 'x.parquet').columns).toHaveLength(8);
  });

  it.each([
    [
      'not Parquet at all',
      Buffer.from('_id,amount\n1,2\n'),
      /x\.parquet: not a Parquet file \(expected the PAR1 trailer/,
    ],
    ['empty', Buffer.alloc(0), /x\.parquet: not a Parquet file .*0 bytes/],
    [
      'a footer length past the start',
      Buffer.concat([Buffer.from('PAR1'), Buffer.from([0xff, 0xff, 0, 0]), Buffer.from('PAR1')]),
      /footer length/,
    ],
    [
      'a truncated footer',
      Buffer.concat([
        Buffer.from('PAR1'),
        Buffer.from([0x15, 0x04, 0x19]),
        Buffer.from([3, 0, 0, 0]),
        Buffer.from('PAR1'),
      ]),
      /unreadable Parquet footer/,
    ],
  ])('rejects %s with an InputFormatError naming the file', (_what, bytes, message) => {
    expect(() => readParquetSchema(bytes, 'x.parquet')).toThrow(InputFormatError);
    expect(() => readParquetSchema(bytes, 'x.parquet')).toThrow(message);
  });

  it('keeps only the last bytes of a stream, however it is chunked', () => {
    const tail = new TailKeeper(10);
    for (let i = 0; i < 50; i++) tail.push(Buffer.from([i, i + 1, i + 2]));
    expect([...tail.bytes()]).toEqual([48, 47, 48, 49, 48, 49, 50, 49, 50, 51]);
  });
});

describe('planParquet', () => {
  const schemaOf = (columns: Field[][]): ParquetSchema =>
    readParquetSchema(parquetWith(columns), 'raw/p.parquet');

  it('maps the contract columns, typed as in the file, and keeps scalar extra columns aside', () => {
    const plan = planParquet(
      schemaOf([
        ...CONTRACT(),
        STRING('channel'),
        [
          { id: 4, bin: 'nested' },
          { id: 5, i32: 1 },
        ],
        STRING('leaf'),
      ]),
      'raw/p.parquet',
    );

    expect(plan.registration).toContainEqual({ name: 'transaction_amount', type: 'DECIMAL(24,8)' });
    expect(plan.registration).toContainEqual({ name: 'transaction_date', type: 'TIMESTAMP' });
    expect(plan.extras.map((e) => e.def)).toEqual([{ name: 'channel', type: 'VARCHAR' }]);
    expect(plan.extrasNotKept).toEqual(['nested (STRUCT/LIST/MAP)']);
  });

  it('follows a column map to another schema', () => {
    const columns = CONTRACT().map((c) =>
      c.map((f) => ('bin' in f && f.id === 4 ? { ...f, bin: f.bin === '_id' ? 'id' : f.bin } : f)),
    );
    expect(planParquet(schemaOf(columns), 'raw/p.parquet', { _id: 'id' }).mapped[0].column.name).toBe('id');
  });

  it('widens a decimal with a long integer part and accepts text and integer amounts', () => {
    expect(
      planParquet(schemaOf(CONTRACT(DECIMAL('transaction_amount', 38, 8))), 'p').registration,
    ).toContainEqual({
      name: 'transaction_amount',
      type: 'DECIMAL(38,8)',
    });
    expect(planParquet(schemaOf(CONTRACT(STRING('transaction_amount'))), 'p').registration).toContainEqual({
      name: 'transaction_amount',
      type: 'VARCHAR',
    });
    expect(
      planParquet(schemaOf(CONTRACT(PHYSICAL('transaction_amount', 2))), 'p').registration,
    ).toContainEqual({
      name: 'transaction_amount',
      type: 'BIGINT',
    });
  });

  it.each([
    [
      'a float amount',
      CONTRACT(PHYSICAL('transaction_amount', 5)),
      /transaction_amount is DOUBLE: floating point is not exact/,
    ],
    [
      'more than 8 decimals',
      CONTRACT(DECIMAL('transaction_amount', 38, 18)),
      /transaction_amount is DECIMAL\(38,18\): more than 8 decimals/,
    ],
    [
      'a date without time',
      CONTRACT(undefined, PHYSICAL('transaction_date', 1, 6)),
      /transaction_date is DATE: a DATE has no time of day/,
    ],
    [
      'a numeric type column',
      [...CONTRACT().slice(0, 7), PHYSICAL('transaction_type', 5)],
      /transaction_type is DOUBLE/,
    ],
  ])('fails on %s, naming what was expected and found', (_what, columns, message) => {
    const run = () => planParquet(schemaOf(columns), 'raw/p.parquet');
    expect(run).toThrow(InputFormatError);
    expect(run).toThrow(message);
    expect(run).toThrow(
      /expected _id text, .*transaction_amount DECIMAL\(p,s\) with s ≤ 8.*; found _id VARCHAR, /,
    );
  });

  it('lists every missing column at once', () => {
    expect(() => planParquet(schemaOf([STRING('_id'), STRING('amount')]), 'raw/p.parquet')).toThrow(
      /raw\/p\.parquet: missing column\(s\) merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount, transaction_type; .*found _id VARCHAR, amount VARCHAR/,
    );
  });

  it('writes validation SQL in the dialect Athena and DuckDB share, for every kind of input column', () => {
    for (const columns of [
      CONTRACT(),
      CONTRACT(STRING('transaction_amount'), STRING('transaction_date')),
      CONTRACT(PHYSICAL('transaction_amount', 2)),
    ]) {
      const plan = planParquet(schemaOf([...columns, STRING('extra')]), 'raw/p.parquet');
      for (const numbered of [false, true]) {
        expect(findEngineOnlySql(validateParquetSql('raw_t', 'raw/p.parquet', plan, numbered))).toEqual([]);
        expect(findEngineOnlySql(parquetExtrasSql('raw_t', 'raw/p.parquet', plan, numbered))).toEqual([]);
      }
    }
  });
});
