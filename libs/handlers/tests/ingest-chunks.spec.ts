import fc from 'fast-check';
import {
  ingest,
  registerTransactions,
  stageCsvChunk,
  type CsvChunkJob,
  type CsvChunkOutcome,
  type CsvChunkRunner,
} from '@splitwatch/use-cases';
import { HEADER, localWorld } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

/**
 * Chunks staged in this thread, each after a random delay, so that they finish out of order as on worker threads;
 * records what came back plain.
 */
function inProcessRunner(concurrency: number, chunkBytes: number, delays: number[]) {
  let n = 0;
  const seen = { plain: 0, notPlain: 0 };
  const runner: CsvChunkRunner = {
    concurrency,
    chunkBytes,
    run: (job: CsvChunkJob) =>
      new Promise<CsvChunkOutcome>((resolve) => {
        const out = stageCsvChunk({ ...job, bytes: job.bytes.slice() });
        if (out.plain) seen.plain++;
        else seen.notPlain++;
        setTimeout(() => resolve(out), delays[n++ % delays.length]);
      }),
  };
  return { runner, seen };
}

/** Pieces a generated file is made of: clean rows, and everything that makes a CSV hard to cut or to read. */
const piece = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .nat({ max: 9999 })
      .map(
        (i) =>
          `id${i},m1,s${i % 7},2021-03-0${1 + (i % 9)} 10:00:0${i % 10},a${i % 5},u1,${1 + (i % 90)}.25,DEBITO`,
      ),
  },
  {
    weight: 1,
    arbitrary: fc.nat({ max: 999 }).map((i) => `"q${i}, quoted",m1,s1,2021-03-02 11:00:00,a1,u1,3.5,CREDITO`),
  },
  {
    weight: 1,
    arbitrary: fc
      .nat({ max: 999 })
      .map((i) => `"nl${i}\nsplit",m1,"s ""1""",2021-03-02 11:00:00,a1,u1,3.5,credito`),
  },
  { weight: 1, arbitrary: fc.constant('lone,cr\rhere,x') },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constant('id-bad,m1,s1,2021-02-30 10:00:00,a1,u1,1.0,DEBITO') },
  { weight: 1, arbitrary: fc.constant('short,row') },
  { weight: 1, arbitrary: fc.constant('\ufeffbom,m1,s1,2021-03-02 11:00:00,a1,u1,3.5,DEBITO') },
  { weight: 1, arbitrary: fc.constant('\u00e9t\u00e9,m1,s1,2021-03-02 11:00:00,a1,u\u00f1,3.5,DEBITO') },
  { weight: 1, arbitrary: fc.constant('"unterminated,m1') },
);

/** A file: header (maybe with an extra column, a BOM, quotes), lines, line ends, maybe no final line end. */
const file = fc
  .record({
    header: fc.constantFrom(
      HEADER,
      `\ufeff${HEADER}`,
      `${HEADER},note`,
      `"_id",${HEADER.slice(4)}`,
      `\n${HEADER}`,
    ),
    lines: fc.array(piece, { minLength: 0, maxLength: 60 }),
    eol: fc.constantFrom('\n', '\r\n'),
    finalEol: fc.boolean(),
    latin1At: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ header, lines, eol, finalEol, latin1At }) => {
    const extra = header.endsWith(',note');
    const body = lines.map((l) => (extra && l.startsWith('id') ? `${l},n` : l));
    const bytes = Buffer.from([header, ...body].join(eol) + (finalEol ? eol : ''), 'utf8');
    if (latin1At === undefined || bytes.length === 0) return bytes;
    // One byte that is not UTF-8, somewhere.
    const at = latin1At % bytes.length;
    return Buffer.concat([bytes.subarray(0, at), Buffer.from([0xe9]), bytes.subarray(at)]);
  });

/** What a user sees of an ingest: the reports, the quarantine and extras files, the curated rows. */
async function outcome(w: World, key: string, runner?: CsvChunkRunner) {
  const result = await ingest(
    { ...w, ...(runner ? { csvChunks: runner } : {}) },
    { runId: 'r1', sources: [key] },
  );
  const [src] = result.sources;
  const quarantine = src.quarantineKey ? await w.objectStore.getText(src.quarantineKey) : null;
  const extras = src.extrasKey ? await w.objectStore.getText(src.extrasKey) : null;
  await registerTransactions(w.sqlEngine);
  const curated = await w.sqlEngine.query(
    `SELECT tx_id, merchant_id, subsidiary, CAST(transaction_date AS VARCHAR) AS d, account_number, user_id,
            CAST(transaction_amount AS VARCHAR) AS amount, transaction_type, source_line
       FROM transactions ORDER BY source_line, tx_id`,
  );
  return { totals: result.totals, src, quarantine, extras, curated };
}

describe('ingest in chunks on workers (the CLI pool) and in one stream stage the same', () => {
  let one: World;
  let chunked: World;
  beforeEach(async () => {
    one = await localWorld();
    chunked = await localWorld();
  });
  afterEach(async () => {
    await one.dispose();
    await chunked.dispose();
  });

  it('gives the same reports, quarantine lines, extras and curated rows, wherever the chunks are cut', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        file,
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 5 }),
        async (bytes, chunkBytes, concurrency, delays) => {
          run++;
          const key = `raw/f${run}.csv`;
          await one.objectStore.putBytes(key, bytes);
          await chunked.objectStore.putBytes(key, bytes);
          const { runner } = inProcessRunner(concurrency, chunkBytes, delays);
          const settle = async (w: World, r?: CsvChunkRunner) =>
            outcome(w, key, r).catch((err: Error) => ({ error: `${err.name}: ${err.message}` }));
          const a = await settle(one);
          const b = await settle(chunked, runner);
          expect(b).toEqual(a);
        },
      ),
      { numRuns: 25 },
    );
  });

  it('stages a clean file entirely on workers, chunk after chunk in file order', async () => {
    const rows = Array.from(
      { length: 500 },
      (_, i) =>
        `t${i},m1,s1,2021-0${1 + (i % 3)}-1${i % 10} 0${i % 10}:00:00,a${i % 9},u${i % 9},${i + 1}.5,DEBITO`,
    );
    const bytes = Buffer.from([HEADER, ...rows].join('\n') + '\n');
    await one.objectStore.putBytes('raw/clean.csv', bytes);
    await chunked.objectStore.putBytes('raw/clean.csv', bytes);
    const { runner, seen } = inProcessRunner(2, 512, [2, 0, 1]);
    const a = await outcome(one, 'raw/clean.csv');
    const b = await outcome(chunked, 'raw/clean.csv', runner);
    expect(b).toEqual(a);
    expect(a.src.accepted).toBe(500);
    expect(seen.notPlain).toBe(0);
    expect(seen.plain).toBeGreaterThan(40);
  });

  it('hands the rest of a file to the one stream from the first chunk where a record may span a cut', async () => {
    const row = (i: number) => `t${i},m1,s1,2021-03-1${i % 10} 10:00:00,a${i % 7},u1,${i + 1}.5,DEBITO`;
    const lines = [
      ...Array.from({ length: 100 }, (_, i) => row(i)),
      '"t-q","m ""one""\nsplit",s1,2021-03-11 10:00:00,a1,u1,9.5,CREDITO',
      ...Array.from({ length: 100 }, (_, i) => row(200 + i)),
      'broken,row',
    ];
    const bytes = Buffer.from([HEADER, ...lines].join('\r\n') + '\r\n');
    await one.objectStore.putBytes('raw/mixed.csv', bytes);
    await chunked.objectStore.putBytes('raw/mixed.csv', bytes);
    const { runner, seen } = inProcessRunner(2, 400, [0, 2]);
    const a = await outcome(one, 'raw/mixed.csv');
    const b = await outcome(chunked, 'raw/mixed.csv', runner);
    expect(b).toEqual(a);
    expect(a.src.accepted).toBe(201);
    // The quoted record starts on line 102 and holds a line break, so the broken row is on line 204.
    expect(a.quarantine).toContain('raw/mixed.csv,204,*,"expected 8 fields, found 2"');
    expect(seen.plain).toBeGreaterThan(5);
    expect(seen.notPlain).toBeGreaterThanOrEqual(1);
  });
});
