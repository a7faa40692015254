import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { InputFormatError } from '@splitwatch/core';
import { INGEST_SCHEMA_VERSION, ingest, registerTransactions } from '@splitwatch/use-cases';
import { csvOf, HEADER, localWorld } from './helpers';
import { decodeIngestInput } from '../src';

type World = Awaited<ReturnType<typeof localWorld>>;

async function curated(w: World) {
  await registerTransactions(w.sqlEngine);
  return w.sqlEngine.query(
    'SELECT tx_id, CAST(transaction_amount AS VARCHAR) AS amount, transaction_date, dt FROM transactions ORDER BY tx_id',
  );
}

describe('ingest (embedded adapters)', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  it('accounts for every row as accepted, duplicate or rejected, and quarantines with line, column and reason', async () => {
    const text =
      csvOf([
        { id: 'a1', account: 'x', date: '2021-01-01 10:00:00', amount: '71.33346014' },
        { id: 'a1', account: 'x', date: '2021-01-01 10:00:01', amount: '71.33346014' }, // retry
        { id: 'a2', account: 'x', date: '2021-01-02 00:00:05', amount: '10' },
        { id: 'a3', account: 'x', date: '2021-02-30 10:00:00', amount: '10' }, // bad date
        { id: 'a4', account: 'x', date: '2021-01-01 11:00:00', amount: '-3' }, // bad amount
        { id: 'a5', account: 'x', date: '2021-01-01 12:00:00', amount: '5', merchant: 'm1' },
        { id: 'a5', account: 'x', date: '2021-01-01 12:00:00', amount: '6', merchant: 'm1' }, // conflict
      ]) + 'only,three,fields\n';
    await w.objectStore.putText('raw/day.csv', text);
    const res = await ingest(w, { runId: 'r1', sources: ['raw/day.csv'] });
    const [src] = res.sources;
    expect(src).toMatchObject({ read: 8, accepted: 2, duplicates: 1, rejected: 5 });
    expect(src.accepted + src.duplicates + src.rejected).toBe(src.read);
    const q = await w.objectStore.getText(src.quarantineKey!);
    expect(q).toContain('raw/day.csv,5,transaction_date,');
    expect(q).toContain('raw/day.csv,6,transaction_amount,');
    expect(q).toContain('raw/day.csv,9,*,"expected 8 fields, found 3"');
    expect(q).toMatch(/raw\/day\.csv,7,_id,conflicting duplicate/);
    expect(q).toMatch(/raw\/day\.csv,8,_id,conflicting duplicate/);
    const rows = await curated(w);
    expect(rows).toEqual([
      { tx_id: 'a1', amount: '71.33346014', transaction_date: '2021-01-01 10:00:00', dt: '2021-01-01' },
      { tx_id: 'a2', amount: '10.00000000', transaction_date: '2021-01-02 00:00:05', dt: '2021-01-02' },
    ]);
    const manifest = JSON.parse(await w.objectStore.getText(`runs/r1/ingest/${src.sourceId}.json`));
    expect(manifest).toMatchObject({ source: 'raw/day.csv', read: 8, schemaVersion: INGEST_SCHEMA_VERSION });
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('classifies retries and conflicts by the ids themselves, whatever their hashes share', async () => {
    const text = csvOf([
      { id: 'h1', account: 'x', date: '2021-01-01 10:00:00', amount: '7' },
      { id: 'h1', account: 'x', date: '2021-01-01 10:00:01', amount: '7' }, // retry
      { id: 'h2', account: 'x', date: '2021-01-01 11:00:00', amount: '5' },
      { id: 'h2', account: 'x', date: '2021-01-01 11:00:00', amount: '6' }, // conflict
      { id: 'h3', account: 'x', date: '2021-01-01 12:00:00', amount: '5' },
      { id: 'h4', account: 'x', date: '2021-01-01 12:00:00', amount: '5' },
    ]);
    const outcome = async (world: World) => {
      await world.objectStore.putText('raw/h.csv', text);
      const [src] = (await ingest(world, { runId: 'r1', sources: ['raw/h.csv'] })).sources;
      return {
        src,
        quarantine: await world.objectStore.getText(src.quarantineKey!),
        rows: await curated(world),
      };
    };
    const normal = await outcome(w);
    // Every id hashed alike: all rows become candidates, and each is still judged by its own _id.
    const colliding = await localWorld();
    try {
      await colliding.sqlEngine.query('CREATE OR REPLACE MACRO xxhash64(b) AS 0');
      expect(await outcome(colliding)).toEqual(normal);
    } finally {
      await colliding.dispose();
    }
    expect(normal.src).toMatchObject({ read: 6, accepted: 3, duplicates: 1, rejected: 2 });
    expect(normal.rows.map((r) => r.tx_id)).toEqual(['h1', 'h3', 'h4']);
  });

  it('leaves the curated data unchanged when the same file or an overlapping extract is ingested again', async () => {
    const rows = [
      { id: 'b1', account: 'x', date: '2021-01-01 10:00:00', amount: '1' },
      { id: 'b2', account: 'x', date: '2021-01-01 11:00:00', amount: '2' },
      { id: 'b3', account: 'y', date: '2021-01-03 11:00:00', amount: '3' },
    ];
    await w.objectStore.putText('raw/a.csv', csvOf(rows.slice(0, 2)));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    const first = await curated(w);
    const files = await w.objectStore.list('curated/transactions/');
    // The same content again is recognised and not read: its curated files are left as they are.
    const again = await ingest(w, { runId: 'r2', sources: ['raw/a.csv'] });
    expect(again.totals).toMatchObject({ files: 0, read: 0, unchanged: 1 });
    expect(again.sources).toEqual([
      expect.objectContaining({ status: 'unchanged', ingestedBy: 'r1', read: 2, accepted: 2, duplicates: 0 }),
    ]);
    expect(await w.objectStore.list('curated/transactions/')).toEqual(files);
    expect(await curated(w)).toEqual(first);
    // Read again on request: the same rows, all accepted (its own earlier rows are being replaced).
    const forced = await ingest(w, { runId: 'r2b', sources: ['raw/a.csv'], reingest: true });
    expect(forced.totals).toMatchObject({ files: 1, read: 2, accepted: 2, duplicates: 0, unchanged: 0 });
    expect(await curated(w)).toEqual(first);

    await w.objectStore.putText('raw/b.csv', csvOf(rows.slice(1)));
    const overlap = await ingest(w, { runId: 'r3', sources: ['raw/b.csv'] });
    expect(overlap.totals).toMatchObject({ read: 2, accepted: 1, duplicates: 1, rejected: 0 });
    expect((await curated(w)).map((r) => r.tx_id)).toEqual(['b1', 'b2', 'b3']);
  });

  it('keeps ids holding commas and quotes exact beside plain lines', async () => {
    const plain = 'p1,m,s,2021-05-05 05:05:05,acc,u,1,DEBITO';
    const quoted = '"q,1","m ""x""",s,2021-05-05 06:05:05,"acc,2",u,2,CREDITO';
    await w.objectStore.putText(
      'raw/q.csv',
      `${HEADER}\n${plain}\n${quoted}\n${plain.replace('p1', 'p2')}\n`,
    );
    const res = await ingest(w, { runId: 'r1', sources: ['raw/'] });
    expect(res.totals).toMatchObject({ files: 1, read: 3, accepted: 3 });
    await registerTransactions(w.sqlEngine);
    expect(
      await w.sqlEngine.query('SELECT tx_id, merchant_id, account_number FROM transactions ORDER BY tx_id'),
    ).toEqual([
      { tx_id: 'p1', merchant_id: 'm', account_number: 'acc' },
      { tx_id: 'p2', merchant_id: 'm', account_number: 'acc' },
      { tx_id: 'q,1', merchant_id: 'm "x"', account_number: 'acc,2' },
    ]);
  });

  it('reads gzip CSV with columns in any order and CRLF line ends', async () => {
    const cols = HEADER.split(',').reverse();
    const line = ['DEBITO', '12.5', 'u', 'acc', '2021-05-05 05:05:05', 's', 'm', 'g1'];
    await w.objectStore.putBytes(
      'raw/r.csv.gz',
      gzipSync(Buffer.from(`${cols.join(',')}\r\n${line.join(',')}\r\n`)),
    );
    const res = await ingest(w, { runId: 'r1', sources: ['raw/'] });
    expect(res.totals).toMatchObject({ files: 1, read: 1, accepted: 1 });
    expect(await curated(w)).toEqual([
      { tx_id: 'g1', amount: '12.50000000', transaction_date: '2021-05-05 05:05:05', dt: '2021-05-05' },
    ]);
  });

  it('reads Parquet with DECIMAL(24,8) amounts and zone-less timestamps exactly', async () => {
    const path = `${w.root}/raw/p.parquet`;
    await w.objectStore.putText('raw/.keep', '');
    await w.sqlEngine.query(
      `COPY (SELECT * FROM (VALUES ('p1', 'm', 's', TIMESTAMP '2021-07-01 23:59:59', 'acc', 'u', CAST('1188.90000001' AS DECIMAL(24,8)), 'CREDITO'))
        t(_id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount, transaction_type)) TO '${path}' (FORMAT parquet)`,
    );
    const res = await ingest(w, { runId: 'r1', sources: ['raw/p.parquet'] });
    expect(res.sources[0]).toMatchObject({ format: 'parquet', read: 1, accepted: 1 });
    expect(await curated(w)).toEqual([
      { tx_id: 'p1', amount: '1188.90000001', transaction_date: '2021-07-01 23:59:59', dt: '2021-07-01' },
    ]);
  });

  it('fails a file with missing columns, naming what was expected and found', async () => {
    await w.objectStore.putText('raw/bad.csv', '_id,amount\n1,2\n');
    await expect(ingest(w, { runId: 'r1', sources: ['raw/bad.csv'] })).rejects.toThrow(InputFormatError);
    await expect(ingest(w, { runId: 'r1', sources: ['raw/bad.csv'] })).rejects.toThrow(
      /raw\/bad\.csv: missing column\(s\) merchant_id.*found _id,amount/,
    );
  });
});

describe('ingest hardening (embedded adapters)', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  it('keeps extra columns aside, keyed by source and line, and never fails on them', async () => {
    const header = `note,${HEADER},channel`;
    const body = [
      ['first, with comma', 'e1', 'm1', 's1', '2021-01-01 10:00:00', 'acc', 'u', '5', 'DEBITO', 'app'],
      ['', 'e2', 'm1', 's1', '2021-01-01 11:00:00', 'acc', 'u', '-1', 'DEBITO', 'web'],
    ];
    await w.objectStore.putText(
      'raw/x.csv',
      `${header}\n${body.map((r) => r.map((v) => (v.includes(',') ? `"${v}"` : v)).join(',')).join('\n')}\n`,
    );

    const [src] = (await ingest(w, { runId: 'r1', sources: ['raw/x.csv'] })).sources;

    expect(src).toMatchObject({
      read: 2,
      accepted: 1,
      rejected: 1,
      extraColumns: ['note', 'channel'],
      extrasKey: `extras/run=r1/${src.sourceId}.csv`,
    });
    expect(await w.objectStore.getText(src.extrasKey!)).toBe(
      'source_key,line,note,channel\nraw/x.csv,2,"first, with comma",app\nraw/x.csv,3,,web\n',
    );
    const manifest = JSON.parse(await w.objectStore.getText(`runs/r1/ingest/${src.sourceId}.json`));
    expect(manifest).toMatchObject({ extraColumns: ['note', 'channel'], extrasKey: src.extrasKey });
    const bytes = await w.objectStore.getBytes('raw/x.csv');
    expect(manifest).toMatchObject({
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
  });

  it('reads another log schema through a column map', async () => {
    const header = 'id,merchant,branch,created_at,account,owner,amount,kind';
    await w.objectStore.putText('raw/other.csv', `${header}\nk1,m,s,2021-02-02 02:02:02,acc,u,7.5,credito\n`);
    const columnMap = {
      tx_id: 'id',
      merchant_id: 'merchant',
      subsidiary: 'branch',
      transaction_date: 'created_at',
      account_number: 'account',
      user_id: 'owner',
      transaction_amount: 'amount',
      transaction_type: 'kind',
    };

    const res = await ingest(w, { runId: 'r1', sources: ['raw/other.csv'], columnMap });

    expect(res.totals).toMatchObject({ read: 1, accepted: 1 });
    expect(await curated(w)).toEqual([
      { tx_id: 'k1', amount: '7.50000000', transaction_date: '2021-02-02 02:02:02', dt: '2021-02-02' },
    ]);
    const manifest = JSON.parse(
      await w.objectStore.getText(`runs/r1/ingest/${res.sources[0].sourceId}.json`),
    );
    expect(manifest.columnMap).toMatchObject({ _id: 'id', transaction_amount: 'amount' });
    await expect(
      ingest(w, { runId: 'r2', sources: ['raw/other.csv'], columnMap: { amount: 'x' } }),
    ).rejects.toThrow(/Invalid column map: unknown column "amount"/);
  });

  it('takes the column map from the state machine input, checked before any work', () => {
    expect(decodeIngestInput({ runId: 'r1', sources: ['raw/'], columnMap: { tx_id: 'id' } })).toEqual({
      runId: 'r1',
      sources: ['raw/'],
      columnMap: { _id: 'id' },
    });
    expect(() => decodeIngestInput({ runId: 'r1', sources: ['raw/'], columnMap: { id: 'x' } })).toThrow(
      /Invalid columnMap of the ingest event: unknown column "id"/,
    );
  });

  it('drops every per-run table when done, so the catalog does not collect them', async () => {
    await w.objectStore.putText(
      'raw/a.csv',
      csvOf([{ id: 'd1', account: 'x', date: '2021-01-01 10:00:00', amount: '1' }]),
    );
    await writeParquet(
      w,
      'raw/b.parquet',
      `SELECT 'd2' AS "_id", 'm' AS merchant_id, 's' AS subsidiary, TIMESTAMP '2021-03-01 00:00:00' AS transaction_date, 'acc' AS account_number, 'u' AS user_id, CAST(2 AS DECIMAL(24,8)) AS transaction_amount, 'DEBITO' AS transaction_type`,
    );

    await ingest(w, { runId: 'r1', sources: ['raw/'] });

    const tables = await w.sqlEngine.query(`SELECT table_name FROM information_schema.tables ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual(['transactions']);
    expect(await w.objectStore.list('staging/')).toEqual([]);
  });

  it('writes the same curated data whatever the statement size of the curated write', async () => {
    const rows = Array.from({ length: 24 }, (_, i) => ({
      id: `c${i}`,
      account: `a${i % 3}`,
      date: `2021-0${1 + (i % 4)}-${String(1 + (i % 27)).padStart(2, '0')} 0${i % 10}:00:00`,
      amount: `${i + 1}.25`,
    }));
    await w.objectStore.putText('raw/c.csv', csvOf(rows));
    await ingest({ ...w, curatedChunkRows: 7 }, { runId: 'r1', sources: ['raw/c.csv'] });
    const small = await curated(w);
    await ingest(w, { runId: 'r2', sources: ['raw/c.csv'] });

    expect(small).toHaveLength(24);
    expect(await curated(w)).toEqual(small);
  });

  it('writes the same curated data from Parquet over several years, whatever the statement size', async () => {
    // 40 rows 20 days apart over three years, a retry of one and a bad amount: validated by calendar month (rows of
    // several years in one), written a range of days at a time.
    const select = `SELECT 'c' || k AS "_id", 'm' AS merchant_id, 's' AS subsidiary,
        TIMESTAMP '2021-01-03 10:00:00' + INTERVAL (k * 20) DAY + INTERVAL (CASE WHEN i = 40 THEN 1 ELSE 0 END) SECOND
          AS transaction_date,
        'a' || (k % 3) AS account_number, 'u' AS user_id,
        CAST(CASE WHEN k = 7 THEN -1 ELSE k + 1 END AS DECIMAL(24,8)) AS transaction_amount, 'DEBITO' AS transaction_type
      FROM (SELECT i, CASE WHEN i = 40 THEN 3 ELSE i END AS k FROM range(41) t(i)) ORDER BY i`;
    const small = await localWorld();
    try {
      await writeParquet(w, 'raw/months.parquet', select);
      await writeParquet(small, 'raw/months.parquet', select);
      const [whole] = (await ingest(w, { runId: 'r1', sources: ['raw/months.parquet'] })).sources;
      const [chunked] = (
        await ingest({ ...small, curatedChunkRows: 7 }, { runId: 'r1', sources: ['raw/months.parquet'] })
      ).sources;
      expect(whole).toMatchObject({ read: 41, accepted: 39, duplicates: 1, rejected: 1 });
      expect(chunked).toEqual({ ...whole, ingestedBy: 'r1' });
      const rows = await curated(w);
      expect(await curated(small)).toEqual(rows);
      expect(new Set(rows.map((r) => String(r.dt).slice(0, 7)))).toEqual(
        new Set(
          Array.from({ length: 40 }, (_, k) => k)
            .filter((k) => k !== 7)
            .map((k) => new Date(Date.UTC(2021, 0, 3 + 20 * k)).toISOString().slice(0, 7)),
        ),
      );
    } finally {
      await small.dispose();
    }
  });

  it('reports an empty file, a header-only file and a broken gzip for what they are', async () => {
    await w.objectStore.putText('raw/empty.csv', '');
    await w.objectStore.putText('raw/header.csv', `${HEADER}\n`);
    await w.objectStore.putBytes('raw/broken.csv.gz', gzipSync(Buffer.from(`${HEADER}\n`)).subarray(0, 12));

    await expect(ingest(w, { runId: 'r1', sources: ['raw/empty.csv'] })).rejects.toThrow(
      /raw\/empty\.csv: empty file, expected a header with _id,merchant_id/,
    );
    await expect(ingest(w, { runId: 'r2', sources: ['raw/broken.csv.gz'] })).rejects.toThrow(
      /raw\/broken\.csv\.gz: not a valid gzip file/,
    );
    const res = await ingest(w, { runId: 'r3', sources: ['raw/header.csv'] });
    expect(res.totals).toMatchObject({ files: 1, read: 0, accepted: 0, duplicates: 0, rejected: 0 });
  });
});

describe('ingest of Parquet (embedded adapters)', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  const row = (
    id: string,
    amount: string,
    date = "TIMESTAMP '2021-07-01 10:00:00'",
    type = "'DEBITO'",
    merchant = "'m'",
  ) =>
    `SELECT '${id}' AS "_id", ${merchant} AS merchant_id, 's' AS subsidiary, ${date} AS transaction_date, 'acc' AS account_number, 'u' AS user_id, ${amount} AS transaction_amount, ${type} AS transaction_type`;

  it('validates Parquet rows in SQL and quarantines bad ones with their row number, column and reason', async () => {
    const dec = (v: string) => `CAST('${v}' AS DECIMAL(24,8))`;
    await writeParquet(
      w,
      'raw/p.parquet',
      [
        row('p1', dec('10.5')),
        row('p2', dec('-3')),
        row('p3', dec('0')),
        row('p4', 'CAST(NULL AS DECIMAL(24,8))'),
        row('p5', dec('1'), "TIMESTAMP '1850-01-01 00:00:00'"),
        row('p6', dec('1'), 'CAST(NULL AS TIMESTAMP)'),
        row('p7', dec('1'), "TIMESTAMP '2021-07-01 10:00:00'", "' credito '"),
        row('p8', dec('1'), "TIMESTAMP '2021-07-01 10:00:00'", "'TRANSFER'"),
        row('p9', dec('1'), "TIMESTAMP '2021-07-01 10:00:00'", "'DEBITO'", "''"),
        row('p10', dec('2'), "TIMESTAMP '2021-07-01 10:00:00.750'"),
      ]
        .map((sql, i) => `SELECT ${i} AS k, * FROM (${sql})`)
        .join(' UNION ALL ')
        .replace(/^/, 'SELECT * EXCLUDE (k) FROM (')
        .concat(') ORDER BY k'),
    );

    const [src] = (await ingest(w, { runId: 'r1', sources: ['raw/p.parquet'] })).sources;

    expect(src).toMatchObject({ format: 'parquet', read: 10, accepted: 3, duplicates: 0, rejected: 7 });
    const q = await w.objectStore.getText(src.quarantineKey!);
    for (const expected of [
      'raw/p.parquet,2,transaction_amount,"not positive: ""-3.00000000""",p2,',
      'raw/p.parquet,3,transaction_amount,"not positive: ""0',
      'raw/p.parquet,4,transaction_amount,empty value,p4,',
      'raw/p.parquet,5,transaction_date,"not a valid YYYY-MM-DD HH:MM:SS timestamp: ""1850-01-01 00:00:00""",p5,',
      'raw/p.parquet,6,transaction_date,empty value,p6,',
      'raw/p.parquet,8,transaction_type,"expected DEBITO or CREDITO, got ""TRANSFER""",p8,',
      'raw/p.parquet,9,merchant_id,empty value,p9,',
    ]) {
      expect(q).toContain(expected);
    }
    expect((await curated(w)).map((r) => [r.tx_id, r.amount, r.transaction_date])).toEqual([
      ['p1', '10.50000000', '2021-07-01 10:00:00'],
      ['p10', '2.00000000', '2021-07-01 10:00:00'],
      ['p7', '1.00000000', '2021-07-01 10:00:00'],
    ]);
  });

  it('validates text columns of a Parquet file as strictly as CSV', async () => {
    await writeParquet(
      w,
      'raw/t.parquet',
      [
        row('t1', "'12.5'", "'2021-07-01T10:00:00.5'"),
        row('t2', "'1.123456789'", "'2021-07-01 10:00:00'"),
        row('t3', "'NaN'", "'2021-07-01 10:00:00'"),
        row('t4', "'5'", "'2021-02-30 10:00:00'"),
        row('t5', "'-1'", "'2021-07-01 10:00:00'"),
      ].join(' UNION ALL ') + ' ORDER BY "_id"',
    );

    const [src] = (await ingest(w, { runId: 'r1', sources: ['raw/t.parquet'] })).sources;

    expect(src).toMatchObject({ read: 5, accepted: 1, rejected: 4 });
    expect(src.rejectedByReason).toEqual({
      'transaction_amount: more than 8 decimals': 1,
      'transaction_amount: not a decimal number': 1,
      'transaction_amount: not positive': 1,
      'transaction_date: not a valid YYYY-MM-DD HH:MM:SS timestamp': 1,
    });
    expect(await curated(w)).toEqual([
      { tx_id: 't1', amount: '12.50000000', transaction_date: '2021-07-01 10:00:00', dt: '2021-07-01' },
    ]);
  });

  it('fails a Parquet file with wrong types or missing columns, naming what was expected and found', async () => {
    await writeParquet(w, 'raw/f.parquet', row('f1', 'CAST(1.5 AS DOUBLE)'));
    await writeParquet(w, 'raw/m.parquet', `SELECT 'x' AS "_id", 1.5 AS amount`);
    await w.objectStore.putText('raw/n.parquet', 'not parquet at all');

    await expect(ingest(w, { runId: 'r1', sources: ['raw/f.parquet'] })).rejects.toThrow(
      /raw\/f\.parquet: wrong type: transaction_amount is DOUBLE: floating point is not exact, expected DECIMAL\(p,s\) with s ≤ 8.*; found _id VARCHAR, .*transaction_amount DOUBLE/,
    );
    await expect(ingest(w, { runId: 'r2', sources: ['raw/m.parquet'] })).rejects.toThrow(
      /raw\/m\.parquet: missing column\(s\) merchant_id, .*found _id VARCHAR, amount DECIMAL\(2,1\)/,
    );
    await expect(ingest(w, { runId: 'r3', sources: ['raw/n.parquet'] })).rejects.toThrow(
      /raw\/n\.parquet: not a Parquet file/,
    );
  });

  it('keeps Parquet extra columns aside as Parquet keyed by source and row, through a column map', async () => {
    await writeParquet(
      w,
      'raw/e.parquet',
      `SELECT "_id" AS id, merchant_id, subsidiary, transaction_date, account_number, user_id, transaction_amount, transaction_type, 'app' AS channel
       FROM (${row('e1', 'CAST(3 AS DECIMAL(10,2))')})`,
    );

    const [src] = (await ingest(w, { runId: 'r1', sources: ['raw/e.parquet'], columnMap: { _id: 'id' } }))
      .sources;

    expect(src).toMatchObject({
      read: 1,
      accepted: 1,
      extraColumns: ['channel'],
      extrasKey: `extras/run=r1/${src.sourceId}/`,
    });
    const extras = await w.sqlEngine.query(
      `SELECT * FROM read_parquet('${w.root}/${src.extrasKey}*.parquet', hive_partitioning = false)`,
    );
    expect(extras).toEqual([{ source_key: 'raw/e.parquet', source_line: 1, channel: 'app' }]);
  });
});

async function writeParquet(w: World, key: string, selectSql: string): Promise<void> {
  await w.objectStore.putText(key, '');
  await w.sqlEngine.query(`COPY (${selectSql}) TO '${w.root}/${key}' (FORMAT parquet)`);
}
