import { stageCsvChunk, type CsvChunkJob } from '@splitwatch/use-cases';
import { CsvChunkPool } from '../src/csv-chunk-pool';

const layout = { positions: [0, 1, 2, 3, 4, 5, 6, 7], width: 8, extraPositions: [] };

function job(text: string, firstLine: number): CsvChunkJob {
  return { source: 'raw/a.csv', layout, firstLine, bytes: Buffer.from(text) };
}

describe('CsvChunkPool (worker threads)', () => {
  it('stages chunks on its workers exactly as in this thread, and starts them again after a release', async () => {
    const pool = new CsvChunkPool(2);
    try {
      const chunks = [
        job(
          't1,m1,s1,2021-03-01 10:00:00,a1,u1,10.5,DEBITO\nt2,m1,s1,2021-04-30 23:59:59,a1,u1,3,CREDITO\n' +
            't2b,m1,s1,2021-04-30 23:59:59,a1,u1,-3,CREDITO\n',
          2,
        ),
        job('t3,m1,s1,2021-03-02 10:00:00,a2,u2,7,debito\r\nshort,row\r\n', 5),
        job('t4,"quoted, with a comma",s1,2021-03-02 10:00:00,a2,u2,7,DEBITO\n', 7),
        job('t5,"opens a field\n', 8),
        job('t6,m1\rlone,cr\n', 9),
      ];
      const outcomes = await Promise.all(chunks.map((c) => pool.run(c)));
      expect(outcomes).toEqual(chunks.map((c) => stageCsvChunk(c)));
      const [first, second, third, fourth, fifth] = outcomes;
      expect(fourth).toEqual({ aligned: false, longer: true });
      expect(fifth).toEqual({ aligned: false, longer: false });
      if (!first.aligned || !second.aligned || !third.aligned) throw new Error('expected aligned chunks');
      expect(Buffer.from(third.staged.months[0].bytes).toString()).toBe(
        't4,"quoted, with a comma",s1,2021-03-02 10:00:00,a2,u2,7.00000000,DEBITO,raw/a.csv,7\n',
      );
      expect(first.staged.months.map((m) => m.month)).toEqual(['2021-03', '2021-04']);
      expect(Buffer.from(first.staged.months[0].bytes).toString()).toBe(
        't1,m1,s1,2021-03-01 10:00:00,a1,u1,10.50000000,DEBITO,raw/a.csv,2\n',
      );
      expect(first.staged.rejectedByReason).toEqual({ 'transaction_amount: not positive': 1 });
      expect(Buffer.from(second.staged.quarantine).toString()).toBe(
        'raw/a.csv,6,*,"expected 8 fields, found 2",,"short,row"\n',
      );
      await pool.release();
      const again = await pool.run(chunks[0]);
      expect(again).toEqual(first);
    } finally {
      await pool.close();
    }
    await expect(pool.run(job('', 2))).rejects.toThrow(/CSV chunk pool is closed/);
  });

  it("fails a task with the worker's error, and keeps serving", async () => {
    const pool = new CsvChunkPool(2);
    try {
      const broken = { ...job('t1,m1\n', 2), layout: undefined } as unknown as CsvChunkJob;
      const err = await pool.run(broken).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('TypeError');
      const ok = await pool.run(job('t1,m1\n', 2));
      expect(ok.aligned).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
