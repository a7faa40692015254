import { gzipSync } from 'node:zlib';
import { InputFormatError } from '@splitwatch/core';
import { ingest, registerTransactions } from '@splitwatch/use-cases';
import { csvOf, HEADER, localWorld } from './helpers';

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
    expect(manifest).toMatchObject({ source: 'raw/day.csv', read: 8, schemaVersion: 1 });
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
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
    const again = await ingest(w, { runId: 'r2', sources: ['raw/a.csv'] });
    expect(again.totals).toMatchObject({ read: 2, accepted: 2, duplicates: 0 });
    expect(await curated(w)).toEqual(first);

    await w.objectStore.putText('raw/b.csv', csvOf(rows.slice(1)));
    const overlap = await ingest(w, { runId: 'r3', sources: ['raw/b.csv'] });
    expect(overlap.totals).toMatchObject({ read: 2, accepted: 1, duplicates: 1, rejected: 0 });
    expect((await curated(w)).map((r) => r.tx_id)).toEqual(['b1', 'b2', 'b3']);
  });

  it('reads gzip CSV with columns in any order and CRLF line ends', async () => {
    const cols = HEADER.split(',').reverse();
    const line = ['DEBITO', '12.5', 'u', 'acc', '2021-05-05 05:05:05', 's', 'm', 'g1'];
    await w.objectStore.putBytes('raw/r.csv.gz', gzipSync(Buffer.from(`${cols.join(',')}\r\n${line.join(',')}\r\n`)));
    const res = await ingest(w, { runId: 'r1', sources: ['raw/'] });
    expect(res.totals).toMatchObject({ files: 1, read: 1, accepted: 1 });
    expect(await curated(w)).toEqual([{ tx_id: 'g1', amount: '12.50000000', transaction_date: '2021-05-05 05:05:05', dt: '2021-05-05' }]);
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
    expect(await curated(w)).toEqual([{ tx_id: 'p1', amount: '1188.90000001', transaction_date: '2021-07-01 23:59:59', dt: '2021-07-01' }]);
  });

  it('fails a file with missing columns, naming what was expected and found', async () => {
    await w.objectStore.putText('raw/bad.csv', '_id,amount\n1,2\n');
    await expect(ingest(w, { runId: 'r1', sources: ['raw/bad.csv'] })).rejects.toThrow(InputFormatError);
    await expect(ingest(w, { runId: 'r1', sources: ['raw/bad.csv'] })).rejects.toThrow(
      /raw\/bad\.csv: missing column\(s\) merchant_id.*found _id,amount/,
    );
  });
});
