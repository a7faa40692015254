import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CURATED_COLUMNS, CURATED_PARTITION, QueryFailedError, type TableDef } from '@splitwatch/core';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbSqlEngine, InvalidObjectKeyError, LocalObjectStore } from '../src';
import { rowReader } from '../src/duckdb-values';
import { makeTempDir, removeTempDir } from './helpers/temp-dir';

/** Three curated rows spanning two days, as a DuckDB SELECT (the fixture writer is DuckDB's own COPY). */
const CURATED_ROWS_SQL = `
  SELECT * FROM (VALUES
    ('t1', 'm1', 's1', TIMESTAMP '2021-01-01 23:59:59', 'acc1', 'u1', 71.33346014::DECIMAL(24,8), 'DEBITO', 'raw/a.csv', 2::BIGINT, '2021-01-01'),
    ('t2', 'm1', 's1', TIMESTAMP '2021-01-02 00:00:01', 'acc1', 'u1', 5.94445501::DECIMAL(24,8), 'DEBITO', 'raw/a.csv', 3::BIGINT, '2021-01-02'),
    ('t3', 'm2', 's2', TIMESTAMP '2021-01-02 10:30:00', 'acc2', 'u2', 1188.90000000::DECIMAL(24,8), 'CREDITO', 'raw/a.csv', 4::BIGINT, '2021-01-02')
  ) AS v(tx_id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount,
         transaction_type, source_key, source_line, dt)`;

const CURATED: TableDef = {
  name: 'curated_transactions',
  prefix: 'curated/transactions/',
  format: 'parquet',
  columns: CURATED_COLUMNS,
  partitionedBy: CURATED_PARTITION,
};

describe('DuckDbSqlEngine', () => {
  let root: string;
  let engine: DuckDbSqlEngine;
  let store: LocalObjectStore;

  /** Writes a Parquet fixture at `key` with DuckDB's COPY. */
  async function writeParquet(key: string, selectSql: string): Promise<void> {
    const file = store.localPathOf(key);
    mkdirSync(path.dirname(file), { recursive: true });
    await engine.query(`COPY (${selectSql}) TO '${file}' (FORMAT parquet)`);
  }

  /** Writes the curated fixture rows Hive-partitioned by dt, as ingest does. */
  async function writeCurated(): Promise<void> {
    mkdirSync(path.join(root, 'curated'), { recursive: true });
    await engine.query(
      `COPY (${CURATED_ROWS_SQL}) TO '${path.join(root, 'curated/transactions')}' (FORMAT parquet, PARTITION_BY (dt))`,
    );
  }

  beforeEach(async () => {
    root = makeTempDir('duckdb');
    store = new LocalObjectStore({ root });
    engine = await DuckDbSqlEngine.open({ root, threads: 2, memoryLimit: '512MB' });
  });

  afterEach(async () => {
    await engine.close();
    removeTempDir(root);
  });

  describe('registerTable', () => {
    it('registers a Parquet table with its columns cast to the declared types', async () => {
      await writeParquet(
        'facts/part-0.parquet',
        `SELECT 'a' AS name, 7 AS n, '71.33346014' AS amount, '2021-03-04 05:06:07' AS at, '2021-03-04' AS day,
                1.5 AS ratio, 'true' AS flag`,
      );

      await engine.registerTable({
        name: 'facts',
        prefix: 'facts/',
        format: 'parquet',
        columns: [
          { name: 'name', type: 'VARCHAR' },
          { name: 'n', type: 'BIGINT' },
          { name: 'amount', type: 'DECIMAL(24,8)' },
          { name: 'at', type: 'TIMESTAMP' },
          { name: 'day', type: 'DATE' },
          { name: 'ratio', type: 'DOUBLE' },
          { name: 'flag', type: 'BOOLEAN' },
        ],
      });
      const rows = await engine.query('SELECT *, typeof(amount) AS amount_type FROM facts');

      expect(rows).toEqual([
        {
          name: 'a',
          n: 7,
          amount: '71.33346014',
          at: '2021-03-04 05:06:07',
          day: '2021-03-04',
          ratio: 1.5,
          flag: true,
          amount_type: 'DECIMAL(24,8)',
        },
      ]);
    });

    it('reads several files with columns in any order', async () => {
      await writeParquet('mixed/a.parquet', `SELECT 1 AS id, 'x' AS label`);
      await writeParquet('mixed/sub/b.parquet', `SELECT 'y' AS label, 2 AS id`);

      await engine.registerTable({
        name: 'mixed',
        prefix: 'mixed/',
        format: 'parquet',
        columns: [
          { name: 'id', type: 'BIGINT' },
          { name: 'label', type: 'VARCHAR' },
        ],
      });

      expect(await engine.query('SELECT id, label FROM mixed ORDER BY id')).toEqual([
        { id: 1, label: 'x' },
        { id: 2, label: 'y' },
      ]);
    });

    it('registers a Hive-partitioned table with dt typed as declared', async () => {
      await writeCurated();

      await engine.registerTable(CURATED);
      const perDay = await engine.query(
        `SELECT dt, typeof(dt) AS dt_type, COUNT(*) AS n, SUM(transaction_amount) AS total
         FROM curated_transactions GROUP BY dt ORDER BY dt`,
      );

      expect(perDay).toEqual([
        { dt: '2021-01-01', dt_type: 'VARCHAR', n: 1, total: '71.33346014' },
        { dt: '2021-01-02', dt_type: 'VARCHAR', n: 2, total: '1194.84445501' },
      ]);
    });

    it('registers a CSV table as text cast to the declared types, whatever the column order', async () => {
      await store.putText(
        'staging/run=r1/part-0.csv',
        'transaction_amount,transaction_type,tx_id,merchant_id,subsidiary,transaction_date,account_number,user_id,source_key,source_line\n' +
          '71.33346014,DEBITO,t1,m1,s1,2021-01-01 10:00:00,acc1,u1,raw/a.csv,2\n' +
          '0.00000001,CREDITO,t2,m1,s1,2021-01-01 10:00:01,acc1,u1,raw/a.csv,3\n',
      );

      await engine.registerTable({
        name: 'staged',
        prefix: 'staging/run=r1/',
        format: 'csv',
        columns: CURATED_COLUMNS,
      });
      const rows = await engine.query(
        `SELECT tx_id, transaction_date, transaction_amount, source_line, typeof(transaction_date) AS ts_type
         FROM staged ORDER BY tx_id`,
      );
      const [sum] = await engine.query('SELECT SUM(transaction_amount) AS total FROM staged');

      expect(rows).toEqual([
        {
          tx_id: 't1',
          transaction_date: '2021-01-01 10:00:00',
          transaction_amount: '71.33346014',
          source_line: 2,
          ts_type: 'TIMESTAMP',
        },
        {
          tx_id: 't2',
          transaction_date: '2021-01-01 10:00:01',
          transaction_amount: '0.00000001',
          source_line: 3,
          ts_type: 'TIMESTAMP',
        },
      ]);
      expect(sum.total).toBe('71.33346015');
    });

    it('reads CSV files written in the declared column order exactly, with or without a partition column', async () => {
      const cols = [
        { name: 'id', type: 'VARCHAR' as const },
        { name: 'note', type: 'VARCHAR' as const },
        { name: 'n', type: 'BIGINT' as const },
      ];
      // The header in order (read by position, dialect given), with the fields a sniffer could trip on.
      await store.putText('t/part=a/1.csv', 'id,note,n\nx1,"a, b",1\nx2,"say ""hi""",2\n');
      await store.putText('t/part=b/2.csv', 'id,note,n\nx3,"two\nlines",3\nx4,,4\n');
      await engine.registerTable({
        name: 'ordered',
        prefix: 't/',
        format: 'csv',
        columns: cols,
        partitionedBy: [{ name: 'part', type: 'VARCHAR' }],
      });
      // One file with its header shuffled: the whole table is then matched by name.
      await store.putText('u/1.csv', 'id,note,n\nx1,"a, b",1\n');
      await store.putText('u/2.csv', 'n,id,note\n2,x2,"say ""hi"""\n');
      await engine.registerTable({ name: 'shuffled', prefix: 'u/', format: 'csv', columns: cols });

      expect(await engine.query('SELECT id, note, n, part FROM ordered ORDER BY id')).toEqual([
        { id: 'x1', note: 'a, b', n: 1, part: 'a' },
        { id: 'x2', note: 'say "hi"', n: 2, part: 'a' },
        { id: 'x3', note: 'two\nlines', n: 3, part: 'b' },
        { id: 'x4', note: null, n: 4, part: 'b' },
      ]);
      expect(await engine.query('SELECT id, note, n FROM shuffled ORDER BY id')).toEqual([
        { id: 'x1', note: 'a, b', n: 1 },
        { id: 'x2', note: 'say "hi"', n: 2 },
      ]);
    });

    it('numbers Parquet rows by their position in the file when asked, also for a table with no file yet', async () => {
      // Five row groups, so that DuckDB reads them in parallel; the numbers still follow the file.
      const file = store.localPathOf('p/one/a.parquet');
      mkdirSync(path.dirname(file), { recursive: true });
      await engine.query(
        `COPY (SELECT 1000 - i AS v FROM range(5000) t(i)) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
      );
      await engine.registerTable({
        name: 'numbered',
        prefix: 'p/one/',
        format: 'parquet',
        columns: [{ name: 'v', type: 'BIGINT' }],
        rowNumber: 'line',
      });
      const rows = await engine.query('SELECT v, line FROM numbered ORDER BY line');
      expect(rows).toHaveLength(5000);
      expect(rows.every((r, i) => r.line === i + 1 && r.v === 1000 - i)).toBe(true);
      expect(engine.numbersFileRows).toBe(true);

      await engine.registerTable({
        name: 'numbered_empty',
        prefix: 'p/none/',
        format: 'parquet',
        columns: [{ name: 'v', type: 'BIGINT' }],
        rowNumber: 'line',
      });
      expect(
        await engine.query('SELECT typeof(line) AS t, COUNT(*) AS n FROM numbered_empty GROUP BY 1'),
      ).toEqual([]);
      expect(await engine.query('SELECT line FROM numbered_empty')).toEqual([]);
    });

    it('keeps leading zeros of text partition values', async () => {
      await writeParquet('codes/code=007/a.parquet', `SELECT 1 AS n`);

      await engine.registerTable({
        name: 'codes',
        prefix: 'codes/',
        format: 'parquet',
        columns: [{ name: 'n', type: 'BIGINT' }],
        partitionedBy: [{ name: 'code', type: 'VARCHAR' }],
      });

      expect(await engine.query('SELECT code, n FROM codes')).toEqual([{ code: '007', n: 1 }]);
    });

    it('makes an empty typed table when the prefix holds no file yet, so downstream SQL runs', async () => {
      await store.putText('curated/transactions/readme.txt', 'not data');

      await engine.registerTable(CURATED);
      const rows = await engine.query(
        'SELECT COUNT(*) AS n, SUM(transaction_amount) AS total FROM curated_transactions',
      );
      const types = await engine.query(
        `SELECT column_name, column_type FROM (DESCRIBE curated_transactions)`,
      );

      expect(rows).toEqual([{ n: 0, total: null }]);
      expect(types).toEqual(
        [...CURATED_COLUMNS, ...CURATED_PARTITION].map((c) => ({ column_name: c.name, column_type: c.type })),
      );
    });

    it('sees files written after a new registration', async () => {
      await engine.registerTable(CURATED);
      await writeCurated();

      await engine.registerTable(CURATED);

      expect(await engine.query('SELECT COUNT(*) AS n FROM curated_transactions')).toEqual([{ n: 3 }]);
    });

    it('rejects a location outside the root or not ending with "/"', async () => {
      await expect(engine.registerTable({ ...CURATED, prefix: '../elsewhere/' })).rejects.toBeInstanceOf(
        InvalidObjectKeyError,
      );
      await expect(engine.registerTable({ ...CURATED, prefix: 'curated/transactions' })).rejects.toThrow(
        /ending with "\/"/,
      );
    });

    it('reports a declared column the files lack as a QueryFailedError naming the table', async () => {
      await writeParquet('thin/a.parquet', `SELECT 1 AS id`);

      const error = await engine
        .registerTable({
          name: 'thin',
          prefix: 'thin/',
          format: 'parquet',
          columns: [{ name: 'missing', type: 'VARCHAR' }],
        })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryFailedError);
      expect((error as Error).message).toMatch(/registering table thin.*missing/s);
    });
  });

  describe('dropTable', () => {
    it('forgets a registered table and keeps its files', async () => {
      await writeCurated();
      await engine.registerTable(CURATED);

      await engine.dropTable('curated_transactions');

      await expect(engine.query('SELECT COUNT(*) AS n FROM curated_transactions')).rejects.toThrow(
        /curated_transactions/,
      );
      expect(readdirSync(path.join(root, 'curated/transactions')).length).toBeGreaterThan(0);
    });

    it('does nothing for a table that does not exist', async () => {
      await expect(engine.dropTable('never_registered')).resolves.toBeUndefined();
    });
  });

  describe('query values', () => {
    it('converts integers, big integers, doubles, booleans, nulls and lists', async () => {
      const [row] = await engine.query(
        `SELECT 42 AS i, 9007199254740991::BIGINT AS safe, 9007199254740993::BIGINT AS big, -12345678901234567890::HUGEINT AS huge,
                0.1::DOUBLE AS d, false AS b, NULL AS n, [1, 2, 3] AS l, ['a', NULL] AS sl, COUNT(*) AS c`,
      );

      expect(row).toEqual({
        i: 42,
        safe: 9007199254740991,
        big: '9007199254740993',
        huge: '-12345678901234567890',
        d: 0.1,
        b: false,
        n: null,
        l: [1, 2, 3],
        sl: ['a', null],
        c: 1,
      });
    });

    it('renders decimals exactly with their scale', async () => {
      const [row] = await engine.query(
        `SELECT 71.33346014::DECIMAL(24,8) AS a, 1::DECIMAL(38,8) AS b, -0.5::DECIMAL(24,8) AS c,
                9999999999999999.99999999::DECIMAL(24,8) AS d, 123456789012345678901234567890.12345678::DECIMAL(38,8) AS e`,
      );

      expect(row).toEqual({
        a: '71.33346014',
        b: '1.00000000',
        c: '-0.50000000',
        d: '9999999999999999.99999999',
        e: '123456789012345678901234567890.12345678',
      });
    });

    it('keeps a DECIMAL(24,8) sum over many rows exact', async () => {
      await writeParquet(
        'many/a.parquet',
        `SELECT 5.94445501::DECIMAL(24,8) + (i % 7) * 0.00000001 AS amount FROM range(200000) t(i)`,
      );
      await engine.registerTable({
        name: 'many',
        prefix: 'many/',
        format: 'parquet',
        columns: [{ name: 'amount', type: 'DECIMAL(24,8)' }],
      });
      // 200000 × 5.94445501 plus the spread of (i % 7) units of 1e-8, computed independently with integers.
      let units = 200000n * 594445501n;
      for (let i = 0n; i < 200000n; i++) units += i % 7n;
      const expected = `${units / 100000000n}.${(units % 100000000n).toString().padStart(8, '0')}`;

      const [row] = await engine.query('SELECT SUM(amount) AS total, typeof(SUM(amount)) AS t FROM many');

      expect(row).toEqual({ total: expected, t: 'DECIMAL(38,8)' });
    });

    it('renders timestamps without zone shift and without a zero fraction, and dates as YYYY-MM-DD', async () => {
      const [row] = await engine.query(
        `SELECT TIMESTAMP '2021-11-30 23:59:59' AS a, TIMESTAMP '2021-01-01 00:00:00.250' AS b,
                TIMESTAMP '1969-12-31 23:00:00' AS c, DATE '2021-02-28' AS d,
                TIMESTAMPTZ '2021-06-01 12:00:00+00'::TIMESTAMP AS e`,
      );

      expect(row).toEqual({
        a: '2021-11-30 23:59:59',
        b: '2021-01-01 00:00:00.25',
        c: '1969-12-31 23:00:00',
        d: '2021-02-28',
        e: '2021-06-01 12:00:00',
      });
    });

    it('keeps duplicate column names apart', async () => {
      expect(await engine.query('SELECT 1 AS x, 2 AS x')).toEqual([{ x: 1, 'x:1': 2 }]);
    });
  });

  describe('stream', () => {
    it('yields the rows in batches of the requested size', async () => {
      const sizes: number[] = [];
      const ids: number[] = [];

      for await (const batch of engine.stream('SELECT range AS id FROM range(25000) ORDER BY id', 10000)) {
        sizes.push(batch.length);
        ids.push(...batch.map((r) => r.id as number));
      }

      expect(sizes).toEqual([10000, 10000, 5000]);
      expect(ids).toEqual(Array.from({ length: 25000 }, (_, i) => i));
    });

    it('does not materialise the result: the first batch of a huge query comes at once', async () => {
      const started = Date.now();
      let first: Record<string, unknown>[] = [];

      for await (const batch of engine.stream(
        `SELECT range AS id, repeat('x', 100) AS pad FROM range(1000000000)`,
        100,
      )) {
        first = batch;
        break;
      }

      expect(first).toHaveLength(100);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await engine.query('SELECT 1 AS ok')).toEqual([{ ok: 1 }]);
    });

    it('reads texts exactly, under the column names and in the order of the query, whatever they hold', async () => {
      // Texts of every kind beside other types; two columns share a name (the second comes as `a:1`).
      const sql = `SELECT n, a, b, c, amount, stamp, z AS a FROM (VALUES
          (1, 'plain', 'fraccionamiento', NULL, 12.50000000::DECIMAL(24,8), TIMESTAMP '2021-01-08 06:00:38', 'x'),
          (2, '', 'quote " and \\ backslash', 'ñandú 💸 €', NULL, TIMESTAMP '2021-12-31 23:59:59.25', 'y'),
          (3, 'line
break	tab', chr(1) || chr(127) || '\\u0041', '[1,"not json"]', 0.00000001::DECIMAL(24,8), NULL, NULL)
        ) t(n, a, b, c, amount, stamp, z) ORDER BY n  -- a trailing comment`;
      const rows: Record<string, unknown>[] = [];
      for await (const batch of engine.stream(sql)) rows.push(...batch);

      expect(rows.map((r) => Object.keys(r))).toEqual(
        Array(3).fill(['n', 'a', 'b', 'c', 'amount', 'stamp', 'a:1']),
      );
      expect(rows).toEqual([
        {
          n: 1,
          a: 'plain',
          b: 'fraccionamiento',
          c: null,
          amount: '12.50000000',
          stamp: '2021-01-08 06:00:38',
          'a:1': 'x',
        },
        {
          n: 2,
          a: '',
          b: 'quote " and \\ backslash',
          c: 'ñandú 💸 €',
          amount: null,
          stamp: '2021-12-31 23:59:59.25',
          'a:1': 'y',
        },
        {
          n: 3,
          a: 'line\nbreak\ttab',
          b: '\u0001\u007f\\u0041',
          c: '[1,"not json"]',
          amount: '0.00000001',
          stamp: null,
          'a:1': null,
        },
      ]);
      // The same as the rows read one value at a time (query), for a result of many chunks.
      const many = `SELECT range AS i, md5(range::VARCHAR) AS h, 'k' || (range % 7) AS k, NULL::VARCHAR AS z, json_object('i', range) AS j
                    FROM range(30000) ORDER BY h DESC`;
      const streamed: Record<string, unknown>[] = [];
      for await (const batch of engine.stream(many, 7000)) streamed.push(...batch);
      expect(streamed).toEqual(await engine.query(many));
      expect(streamed.map((r) => r.h)).toEqual(
        streamed
          .map((r) => r.h)
          .sort()
          .reverse(),
      );
      // A JSON column comes as its text, as the value-by-value read gives it.
      expect(streamed[0].j).toBe(`{"i":${String(streamed[0].i)}}`);
    });

    it('packs the texts of a query into one JSON array per row only when there are two or more, and only for a query', async () => {
      const connection = await (await DuckDBInstance.create(':memory:')).connect();
      try {
        const packed = await rowReader(connection, `SELECT 1 AS n, 'a' AS x, 'b' AS y;`);
        expect(packed?.sql).toMatch(/to_json\(\[CAST\(c1 AS VARCHAR\), CAST\(c2 AS VARCHAR\)\]\) AS texts/);
        expect(packed?.names).toEqual(['n', 'x', 'y']);
        expect(packed?.toRow([1, '["a","b"]'])).toEqual({ n: 1, x: 'a', y: 'b' });
        // One text: nothing to gain, read as is; not a single query, or not valid: left to the engine.
        expect((await rowReader(connection, `SELECT 1 AS n, 'a' AS x`))?.sql).toBe(`SELECT 1 AS n, 'a' AS x`);
        expect(await rowReader(connection, 'SELECT * FROM nowhere')).toBeNull();
        expect(await rowReader(connection, 'SELECT 1; SELECT 2')).toBeNull();
        // A comment after the final semicolon cannot be wrapped: read as is, still correct.
        const commented = `SELECT 'a' AS x, 'b' AS y; -- done`;
        expect((await rowReader(connection, commented))?.sql).toBe(commented);
        expect((await rowReader(connection, 'PRAGMA database_list'))?.sql).toBe('PRAGMA database_list');
      } finally {
        connection.closeSync();
      }
    });

    it('fails with QueryFailedError for bad SQL', async () => {
      const iterate = async () => {
        for await (const _batch of engine.stream('SELECT * FROM nowhere')) {
          // never reached
        }
      };

      await expect(iterate()).rejects.toBeInstanceOf(QueryFailedError);
    });

    it('reports an error raised while rows are produced', async () => {
      const iterate = async () => {
        for await (const _batch of engine.stream(
          `SELECT CASE WHEN range < 5000 THEN '1' ELSE 'x' END::INTEGER AS v FROM range(10000)`,
          100,
        )) {
          // consume
        }
      };

      await expect(iterate()).rejects.toThrow(QueryFailedError);
    });
  });

  describe('unload', () => {
    it('writes one Parquet file under an unpartitioned prefix', async () => {
      const keys = await engine.unload(
        `SELECT range AS id, (range * 0.5)::DECIMAL(24,8) AS amount FROM range(1000)`,
        'features/windows/',
      );
      await engine.registerTable({
        name: 'windows',
        prefix: 'features/windows/',
        format: 'parquet',
        columns: [
          { name: 'id', type: 'BIGINT' },
          { name: 'amount', type: 'DECIMAL(24,8)' },
        ],
      });

      expect(keys).toEqual(['features/windows/data_0.parquet']);
      expect((await store.list('')).map((o) => o.key)).toEqual(keys);
      expect(await engine.query('SELECT COUNT(*) AS n, SUM(amount) AS total FROM windows')).toEqual([
        { n: 1000, total: '249750.00000000' },
      ]);
    });

    it('writes Hive partitions that a partitioned table reads back', async () => {
      const keys = await engine.unload(CURATED_ROWS_SQL, 'curated/transactions/', { partitionBy: ['dt'] });
      await engine.registerTable(CURATED);

      expect(keys).toEqual([
        'curated/transactions/dt=2021-01-01/data_0.parquet',
        'curated/transactions/dt=2021-01-02/data_0.parquet',
      ]);
      expect(await engine.query('SELECT dt, tx_id FROM curated_transactions ORDER BY tx_id')).toEqual([
        { dt: '2021-01-01', tx_id: 't1' },
        { dt: '2021-01-02', tx_id: 't2' },
        { dt: '2021-01-02', tx_id: 't3' },
      ]);
    });

    it('accepts an existing but empty destination folder', async () => {
      mkdirSync(path.join(root, 'scores/run=r1/empty-sub'), { recursive: true });

      const keys = await engine.unload(`SELECT 1 AS a, 'x' AS p`, 'scores/run=r1/', { partitionBy: ['p'] });

      expect(keys).toEqual(['scores/run=r1/p=x/data_0.parquet']);
    });

    it('refuses to unload into a prefix that already holds files', async () => {
      await store.putText('scores/run=r1/existing.parquet', 'x');

      const error = await engine.unload('SELECT 1 AS a', 'scores/run=r1/').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(QueryFailedError);
      expect((error as Error).message).toMatch(/scores\/run=r1\/.*already holds objects.*existing\.parquet/);
      expect((await store.list('scores/')).map((o) => o.key)).toEqual(['scores/run=r1/existing.parquet']);
    });

    it('leaves nothing behind when the query fails, so a retry succeeds', async () => {
      const failing = `SELECT CASE WHEN range < 100000 THEN '1' ELSE 'x' END::INTEGER AS v FROM range(200000)`;

      await expect(engine.unload(failing, 'out/')).rejects.toBeInstanceOf(QueryFailedError);
      expect(await store.list('')).toEqual([]);
      expect(readdirSync(path.join(root, '.splitwatch-tmp'))).toEqual([]);
      await expect(engine.unload('SELECT 1 AS v', 'out/')).resolves.toEqual(['out/data_0.parquet']);
    });

    it('rejects destinations that are not folder prefixes inside the root', async () => {
      await expect(engine.unload('SELECT 1', 'out')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(engine.unload('SELECT 1', '../out/')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(engine.unload('SELECT 1', '')).rejects.toBeInstanceOf(QueryFailedError);
    });
  });

  describe('open', () => {
    it('applies threads, memory limit and spill folder', async () => {
      const spill = makeTempDir('duckdb-spill');
      const tuned = await DuckDbSqlEngine.open({
        root,
        threads: 3,
        memoryLimit: '300MB',
        tempDirectory: spill,
      });

      const [row] = await tuned.query(
        `SELECT current_setting('threads') AS threads, current_setting('temp_directory') AS spill,
                current_setting('TimeZone') AS tz, current_setting('enable_external_file_cache') AS file_cache`,
      );
      await tuned.close();
      removeTempDir(spill);

      // No cache of file contents: files are replaced at the same key while an engine is open.
      expect(row).toEqual({ threads: 3, spill, tz: 'UTC', file_cache: false });
      expect(tuned.name).toBe('duckdb');
      expect(tuned.root).toBe(root);
    });

    it("defines Athena's xxhash64(to_utf8(text)), which the shared SQL groups ids by", async () => {
      const rows = await engine.query(
        `SELECT id, COUNT(*) AS n, COUNT(DISTINCT h) AS hashes
           FROM (SELECT id, xxhash64(to_utf8(id)) AS h
                   FROM (VALUES ('a1'), ('a1'), ('b2'), ('ñ€'), ('ñ€'), ('ñ€')) t(id))
          GROUP BY id ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: 'a1', n: 2, hashes: 1 },
        { id: 'b2', n: 1, hashes: 1 },
        { id: 'ñ€', n: 3, hashes: 1 },
      ]);
      const [distinct] = await engine.query(
        `SELECT COUNT(DISTINCT xxhash64(to_utf8(CAST(i AS VARCHAR)))) AS n FROM range(100000) t(i)`,
      );
      expect(distinct).toEqual({ n: 100000 });
    });
  });

  describe('errors', () => {
    it('maps DuckDB errors to QueryFailedError with the message and the start of the SQL', async () => {
      const sql = `SELECT * FROM no_such_table WHERE ${'x = 1 AND '.repeat(40)}true`;

      const error = (await engine.query(sql).catch((e: unknown) => e)) as Error;

      expect(error).toBeInstanceOf(QueryFailedError);
      expect(error.name).toBe('QueryFailedError');
      expect(error.message).toContain('no_such_table does not exist');
      expect(error.message).toContain(`[SQL: ${sql.slice(0, 200)}…]`);
      expect(error.message).not.toContain(sql.slice(0, 201));
    });

    it('refuses work once closed', async () => {
      await engine.close();

      await expect(engine.query('SELECT 1')).rejects.toThrow(/closed/);
    });

    it('rejects invalid start options with a ConfigError', async () => {
      await expect(DuckDbSqlEngine.open({ root, memoryLimit: 'lots' })).rejects.toThrow(
        /Cannot start DuckDB/,
      );
      await expect(DuckDbSqlEngine.open({ root, threads: 0 })).rejects.toThrow(
        /threads must be a positive integer/,
      );
    });
  });
});
