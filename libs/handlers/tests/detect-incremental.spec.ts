import fc from 'fast-check';
import { formatDecimalUnits, Keys, resolveConfig, type Alert, type DetectionConfig } from '@splitwatch/core';
import { buildFeatures, detect, fitModels, ingest, segmentTypicalDays, type DetectResult } from '@splitwatch/use-cases';
import { csvOf, inFreshWorld, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

const DAY = 86_400;
const T0 = Date.UTC(2021, 0, 1, 0, 0, 0) / 1000;
const PROPERTY_TIMEOUT_MS = 600_000;
const PARTITIONS = 2;
const fmtTs = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);

async function ingestFile(w: World, runId: string, name: string, rows: Tx[]): Promise<void> {
  await w.objectStore.putText(`raw/${name}.csv`, csvOf(rows));
  await ingest(w, { runId, sources: [`raw/${name}.csv`] });
}

/** Features, models (fitted once, then reused), and every slice's Detect, as the pipeline runs them. */
async function pipeline(w: World, runId: string, config: DetectionConfig): Promise<DetectResult[]> {
  await buildFeatures(w, { runId, config, incrementalMaxShare: 1 });
  await fitModels(w, { runId, config });
  const results: DetectResult[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    results.push(await detect(w, { runId, config, partition, partitions: PARTITIONS }));
  }
  return results;
}

/** Every key scored again over the same features and models: the reference an incremental Detect must equal. */
async function detectFromScratch(w: World, runId: string, config: DetectionConfig): Promise<DetectResult[]> {
  await w.objectStore.delete((await w.objectStore.list('alerts/state/')).map((o) => o.key));
  const results: DetectResult[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    results.push(await detect(w, { runId, config, partition, partitions: PARTITIONS }));
  }
  return results;
}

/** A run's alerts and split candidates, slice by slice, without the run id (the only field a re-run changes). */
async function outputOf(w: World, runId: string): Promise<Record<string, Omit<Alert, 'run_id'>[]>> {
  const out: Record<string, Omit<Alert, 'run_id'>[]> = {};
  for (const o of await w.objectStore.list(Keys.alerts(runId))) {
    const alerts = JSON.parse(await w.objectStore.getText(o.key)) as Alert[];
    for (const a of alerts) expect(a.run_id).toBe(runId);
    out[o.key.slice(Keys.alerts(runId).length)] = alerts.map(({ run_id: _run, ...rest }) => rest);
  }
  return out;
}

const CONFIG = resolveConfig({});
/** Lower thresholds, so that small random logs raise alerts of every method (the code paths are the same). */
const SENSITIVE = resolveConfig({
  rules: {
    split: { minScore: -4, minSum: 10 },
    count: { minCount: 3 },
    sum: { minSum: 800 },
    zscore: { minZ: 1.5, minSum: 100, minHistoryDays: 2 },
  },
});

/** Random two-week logs: holders in both account slices (ids below and above '8'), bursts and quiet days. */
const logArb = fc
  .array(
    fc.record({
      holder: fc.constantFrom(['1a', 'u1'], ['2b', 'u1'], ['3c', 'u2'], ['9d', 'u3'], ['ae', 'u4'], ['f0', 'u5']),
      merchant: fc.constantFrom('m1', 'm2'),
      subsidiary: fc.constantFrom('s1', 's2'),
      type: fc.constantFrom('DEBITO', 'DEBITO', 'CREDITO'),
      day: fc.integer({ min: 0, max: 13 }),
      // Bursts: several rows of a holder within an hour are common.
      second: fc.oneof(fc.integer({ min: 0, max: DAY - 1 }), fc.integer({ min: 36_000, max: 39_600 })),
      units: fc.oneof(fc.bigInt({ min: 1n * 10n ** 8n, max: 2000n * 10n ** 8n }), fc.constant(500n * 10n ** 8n)),
      // 0 a file of the first run, 1 a file of the second, 2 and 3 a file of the first run that the second
      // re-ingests without the rows marked 2.
      file: fc.constantFrom(0, 0, 0, 1, 1, 2, 3),
    }),
    { minLength: 10, maxLength: 80 },
  )
  .map((txs) => [
    // The log starts on day 0 whatever else comes: the second run's changes fall after its first week.
    { file: 0, tx: { id: 'start', account: '5s', user: 'u9', date: fmtTs(T0 + 3600), amount: '10' } satisfies Tx },
    // u3..u5 (9d, ae, f0) transact only in the first week, in the first run's file: their alerts are carried over.
    ...txs.map((t) => (['u3', 'u4', 'u5'].includes(t.holder[1]) ? { ...t, file: 0, day: t.day % 7 } : t)).map((t, i) => ({
      file: t.file,
      tx: {
        id: `r${String(i).padStart(3, '0')}`,
        account: t.holder[0],
        user: t.holder[1],
        merchant: t.merchant,
        subsidiary: t.subsidiary,
        type: t.type,
        // What the second run changes (file c is re-ingested whole) lies in days 7..13: a change in the log's first
        // week rescores everything.
        date: fmtTs(T0 + (t.file === 0 ? t.day : 7 + (t.day % 7)) * DAY + t.second),
        amount: formatDecimalUnits(t.units),
      } satisfies Tx,
    })),
  ]);

describe('incremental Detect', () => {
  it(
    'gives the alerts and split candidates of scoring every key, after new files, late rows and dropped rows',
    async () => {
      const modes: string[] = [];
      const counts = { alerts: 0, carried: 0 };
      await fc.assert(
        fc.asyncProperty(logArb, async (log) => {
          const rows = (...files: number[]) => log.filter((r) => files.includes(r.file)).map((r) => r.tx);
          await inFreshWorld(async (w) => {
            await ingestFile(w, 'r1', 'a', rows(0));
            await ingestFile(w, 'r1', 'c', rows(2, 3));
            const first = await pipeline(w, 'r1', SENSITIVE);
            expect(first.map((r) => r.mode)).toEqual(['full', 'full']);
            await ingestFile(w, 'r2', 'b', rows(1));
            await ingestFile(w, 'r2', 'c', rows(3)); // the file again, without the rows marked 2
            const second = await pipeline(w, 'r2', SENSITIVE);
            modes.push(...second.map((r) => r.mode));
            for (const r of second) {
              counts.alerts += r.alerts;
              counts.carried += r.carriedAlerts;
            }
            const reference = await detectFromScratch(w, 'r3', SENSITIVE);
            expect(reference.map((r) => r.mode)).toEqual(['full', 'full']);
            expect(await outputOf(w, 'r2')).toEqual(await outputOf(w, 'r3'));
          });
        }),
        { numRuns: 15 },
      );
      // Not vacuous: the second runs were incremental, and held both carried and freshly scored alerts.
      expect(modes.filter((m) => m === 'incremental').length).toBe(modes.length);
      expect(counts.carried).toBeGreaterThan(0);
      expect(counts.alerts - counts.carried).toBeGreaterThan(0);
    },
    PROPERTY_TIMEOUT_MS,
  );

  describe('on a fixed log', () => {
    let w: World;
    // Two quiet users with a burst each on Jan 15 (rule:sum fires), in both account slices, and a third in a file
    // of its own.
    const quiet = (account: string, user: string, from: number, to: number): Tx[] =>
      Array.from({ length: to - from }, (_, k) => ({
        id: `${account}-${from + k}`,
        account,
        user,
        date: fmtTs(T0 + (from + k) * DAY + 40_000),
        amount: '20',
      }));
    const burst = (account: string, user: string, day: number): Tx[] =>
      [0, 300, 600, 900].map((s, k) => ({
        id: `${account}-b${day}-${k}`,
        account,
        user,
        date: fmtTs(T0 + day * DAY + 50_000 + s),
        amount: '900',
      }));
    const january = [...quiet('1a', 'u1', 0, 31), ...burst('1a', 'u1', 14), ...quiet('9b', 'u2', 0, 31), ...burst('9b', 'u2', 14)];
    const extract = [...burst('3c', 'u3', 19), ...quiet('ad', 'u4', 10, 20)];
    const feb1: Tx[] = [{ id: 'f1', account: '1a', user: 'u1', date: '2021-02-01 09:00:00', amount: '20' }];

    beforeEach(async () => {
      w = await localWorld();
      await ingestFile(w, 'r1', 'jan', january);
      await ingestFile(w, 'r1', 'extract', extract);
    });
    afterEach(async () => {
      await w.dispose();
    });

    it('scores only the keys of the new day’s users and carries the other keys’ alerts over', async () => {
      const first = await pipeline(w, 'r1', CONFIG);
      await ingestFile(w, 'r2', 'feb', feb1);

      const second = await pipeline(w, 'r2', CONFIG);

      expect(first.map((r) => r.mode)).toEqual(['full', 'full']);
      expect(first.map((r) => r.rescoredKeys)).toEqual([2, 2]);
      // Slice 0 (1a, 3c): only u1's key is scored; slice 1 (9b, ad): nothing changed there.
      expect(second.map((r) => [r.mode, r.rescoredKeys])).toEqual([
        ['incremental', 1],
        ['incremental', 0],
      ]);
      expect(second[0].reason).toBe('1 feature build(s) since, changing days from 2021-02-01');
      expect(second[1].candidateRows).toBe(0);
      const before = await outputOf(w, 'r1');
      const after = await outputOf(w, 'r2');
      const alerts = (out: typeof before, account: string) => out['part=0.json'].concat(out['part=1.json']).filter((a) => a.account_number === account);
      expect(alerts(before, '9b').length).toBeGreaterThan(0);
      expect(alerts(before, '3c').length).toBeGreaterThan(0);
      expect(alerts(after, '9b')).toEqual(alerts(before, '9b'));
      expect(alerts(after, '3c')).toEqual(alerts(before, '3c'));
      expect(second.reduce((a, r) => a + r.carriedAlerts, 0)).toBe(alerts(before, '9b').length + alerts(before, '3c').length);
      await detectFromScratch(w, 'r3', CONFIG);
      expect(after).toEqual(await outputOf(w, 'r3'));
      const record = JSON.parse(await w.objectStore.getText(Keys.stepRecord('r2', 'detect-0'))) as {
        counts: Record<string, number>;
        details: Record<string, unknown>;
        reads: { key: string }[];
      };
      expect(record.details).toMatchObject({ mode: 'incremental' });
      expect(record.counts).toMatchObject({ rescoredKeys: 1 });
      // The segment typical days are computed once per feature build, by FitModels before the slices; every slice
      // reads them.
      const segments = async (runId: string, step: string) =>
        ((JSON.parse(await w.objectStore.getText(Keys.stepRecord(runId, step))) as { details: Record<string, unknown> }).details
          .segmentTypicalDays);
      expect([await segments('r2', 'fit-models'), await segments('r2', 'detect-0'), await segments('r2', 'detect-1')]).toEqual([
        'computed',
        `kept from this feature build (${Keys.detectSegments})`,
        `kept from this feature build (${Keys.detectSegments})`,
      ]);
      expect(JSON.parse(await w.objectStore.getText(Keys.detectSegments))).toMatchObject({ generation: 2 });
      expect(record.reads.map((r) => r.key)).toContain(Keys.alertsPart('r1', '0'));
      // A slice that finds no segment days of this build (FitModels did not run) computes them, and keeps them.
      await w.objectStore.delete([Keys.detectSegments]);
      await ingestFile(w, 'r3', 'feb2', [{ id: 'f2', account: '9b', user: 'u2', date: '2021-02-02 09:00:00', amount: '20' }]);
      await buildFeatures(w, { runId: 'r3', config: CONFIG, incrementalMaxShare: 1 });
      await detect(w, { runId: 'r3', config: CONFIG, partition: 1, partitions: PARTITIONS });
      await detect(w, { runId: 'r3', config: CONFIG, partition: 0, partitions: PARTITIONS });
      expect([await segments('r3', 'detect-1'), await segments('r3', 'detect-0')]).toEqual([
        'computed',
        `kept from this feature build (${Keys.detectSegments})`,
      ]);
      expect(JSON.parse(await w.objectStore.getText(Keys.detectSegments))).toMatchObject({ generation: 3 });
    });

    it('drops the alerts of a key whose rows are gone', async () => {
      await pipeline(w, 'r1', CONFIG);
      await ingestFile(w, 'r2', 'extract', quiet('ad', 'u4', 10, 20)); // the extract again, without u3's burst

      const second = await pipeline(w, 'r2', CONFIG);

      expect(second.map((r) => r.mode)).toEqual(['incremental', 'incremental']);
      const after = await outputOf(w, 'r2');
      expect(after['part=0.json'].filter((a) => a.account_number === '3c')).toEqual([]);
      await detectFromScratch(w, 'r3', CONFIG);
      expect(after).toEqual(await outputOf(w, 'r3'));
    });

    it('rescores a newer key whose first windows are judged against a segment typical day the change moved', async () => {
      // u7's first transactions (a burst on Jan 25) have no history of their own: the split rule compares them with
      // the segment's typical day before Jan 25, which late rows on Jan 10 of other users move.
      await ingestFile(w, 'r1', 'newcomer', burst('9n', 'u7', 24));
      const first = await pipeline(w, 'r1', CONFIG);
      const late = Array.from({ length: 10 }, (_, k) => ({ id: `late${k}`, account: `b${k}`, user: `v${k}`, date: '2021-01-10 12:00:00', amount: '3000' }));
      await ingestFile(w, 'r2', 'late', late);

      const second = await pipeline(w, 'r2', CONFIG);

      const split = (out: Record<string, Omit<Alert, 'run_id'>[]>) => out['part=1.json'].find((a) => a.account_number === '9n' && a.method === 'rule:split');
      const before = split(await outputOf(w, 'r1'));
      const after = split(await outputOf(w, 'r2'));
      expect(before?.reasons).toContain("the segment's typical day");
      expect(after?.reasons).not.toEqual(before?.reasons);
      // Slice 1's keys with a multi-transaction window: 9b and ad (their users were active on Jan 10, so their rows
      // were recomputed) and 9n, whose user was not.
      expect(first[1].rescoredKeys).toBe(3);
      expect(second[1]).toMatchObject({ mode: 'incremental', rescoredKeys: 3 });
      await detectFromScratch(w, 'r3', CONFIG);
      expect(await outputOf(w, 'r2')).toEqual(await outputOf(w, 'r3'));
    });

    it('carries everything over when the features did not change', async () => {
      const first = await pipeline(w, 'r1', CONFIG);

      const second = await pipeline(w, 'r2', CONFIG);

      expect(second.map((r) => [r.mode, r.reason, r.rescoredKeys, r.candidateRows])).toEqual([
        ['incremental', 'no feature build since', 0, 0],
        ['incremental', 'no feature build since', 0, 0],
      ]);
      expect(second.map((r) => r.alerts)).toEqual(first.map((r) => r.alerts));
      expect(await outputOf(w, 'r2')).toEqual(await outputOf(w, 'r1'));
    });

    it('scores every key again when the config changed, the previous alerts are gone or the log’s first week changed', async () => {
      await pipeline(w, 'r1', CONFIG);
      await ingestFile(w, 'r2', 'feb', feb1);
      const other = resolveConfig({ rules: { sum: { minSum: 2500 } } });
      expect((await pipeline(w, 'r2', other)).map((r) => r.reason)).toEqual([
        "the detection config, the models or the detectors' code changed",
        "the detection config, the models or the detectors' code changed",
      ]);

      await w.objectStore.delete([Keys.alertsPart('r2', '1')]);
      await ingestFile(w, 'r3', 'mar', [{ id: 'm1', account: '9b', user: 'u2', date: '2021-03-01 09:00:00', amount: '20' }]);
      const third = await pipeline(w, 'r3', other);
      expect(third.map((r) => [r.mode, r.reason])).toEqual([
        ['incremental', '1 feature build(s) since, changing days from 2021-03-01'],
        ['full', 'the alerts of the previous run r2 are gone'],
      ]);

      await ingestFile(w, 'r4', 'early', [{ id: 'e1', account: '1a', user: 'u1', date: '2021-01-03 12:00:00', amount: '20' }]);
      expect((await pipeline(w, 'r4', other)).map((r) => r.reason)).toEqual([
        "a change on 2021-01-03, within the log's first 7 days",
        "a change on 2021-01-03, within the log's first 7 days",
      ]);
    });
  });
});

describe('segmentTypicalDays', () => {
  it('uses only the account-days before the day it is asked about, after the log’s first week', async () => {
    await inFreshWorld(async (w) => {
      const row = (account: string, merchant: string, day: number, amount: number, direction = 'DEBITO') =>
        `('${account}', '${merchant}', '${direction}', TIMESTAMP '${fmtTs(T0 + day * DAY + 3600)}', ${amount})`;
      await w.sqlEngine.query(`CREATE TABLE features AS SELECT * FROM (VALUES
        ${[row('a', 'm1', 0, 4), row('a', 'm1', 0, 6), row('b', 'm1', 0, 40), row('c', 'm1', 10, 1000), row('d', 'm2', 12, 5)].join(',\n')}
      ) t(account_number, merchant_id, direction, transaction_date, amount)`);
      const typical = await segmentTypicalDays(w.sqlEngine);
      const day0 = Math.floor(T0 / DAY);
      const at = (merchant: string, day: number, direction = 'DEBITO') =>
        typical({ merchant_id: merchant, direction } as Parameters<typeof typical>[0], day0 + day);

      // Day 0's account-days: a's 10 (two rows) and b's 40; geometric mean 20.
      expect(at('m1', 10)).toBeCloseTo(20, 9);
      expect(at('m1', 11)).toBeCloseTo(Math.cbrt(10 * 40 * 1000), 9);
      // The log's first week is judged by the account-days of that week.
      expect(at('m1', 0)).toBeCloseTo(20, 9);
      expect(at('m1', 3)).toBeCloseTo(20, 9);
      // A merchant on its first day: its direction's account-days before that day.
      expect(at('m2', 12)).toBeCloseTo(Math.cbrt(10 * 40 * 1000), 9);
      expect(at('m2', 13)).toBeCloseTo(5, 9);
      expect(at('m1', 13, 'CREDITO')).toBe(Number.POSITIVE_INFINITY);
    });
  });
});

describe('account slices', () => {
  it("read an owner's other accounts as its history, in whichever slice they are", async () => {
    await inFreshWorld(async (w) => {
      // u7 pays 20 a day from account 1f (slice 0) for two weeks, then its account 9f (slice 1), new to the log,
      // pays 4 × 900 in a quarter of an hour; others fill the segment.
      const rows: Tx[] = [
        ...Array.from({ length: 14 }, (_, d) => ({ id: `q${d}`, account: '1f', user: 'u7', date: fmtTs(T0 + d * DAY + 40_000), amount: '20' })),
        ...[0, 300, 600, 900].map((s, k) => ({ id: `b${k}`, account: '9f', user: 'u7', date: fmtTs(T0 + 14 * DAY + 50_000 + s), amount: '900' })),
        ...Array.from({ length: 14 }, (_, d) => ({ id: `o${d}`, account: '5e', user: 'u8', date: fmtTs(T0 + d * DAY + 30_000), amount: '300' })),
      ];
      await ingestFile(w, 'r0', 'log', rows);
      await buildFeatures(w, { runId: 'r0', config: CONFIG });
      // Every window the split score looks at, down to far below its threshold.
      const deep = resolveConfig({ rules: { split: { minScore: -20 } }, models: { enabled: false } });
      const read = async (r: DetectResult) => JSON.parse(await w.objectStore.getText(r.alertsKey)) as Alert[];
      const split = (alerts: Alert[]) => alerts.find((a) => a.account_number === '9f' && a.method === 'rule:split');
      const whole = split(await read(await detect(w, { runId: 'all', config: deep })));
      expect(whole?.reasons).toContain(
        "total 180.0× and smallest part 45.0× the owner's typical amount 20.00 on its other accounts or direction (median of its last 14 earlier transactions there)",
      );
      const slices = [];
      for (let partition = 0; partition < PARTITIONS; partition++) {
        slices.push(...(await read(await detect(w, { runId: `p${partition}`, config: deep, partition, partitions: PARTITIONS }))));
      }
      expect({ ...split(slices), run_id: 'all' }).toEqual(whole);
    });
  });

  it('score every account in exactly one slice, whatever its first character', async () => {
    await inFreshWorld(async (w) => {
      // A quiet month and a burst (rule:sum fires) for accounts whose first characters fall in every kind of folder.
      const accounts = ['0a', '7f', '80', 'f1', 'A2', 'Z3', '_4', 'é5', '~6'];
      const rows: Tx[] = accounts.flatMap((account, n) => [
        ...Array.from({ length: 20 }, (_, d) => ({
          id: `${n}-q${d}`,
          account,
          user: `u${n}`,
          date: fmtTs(T0 + d * DAY + 40_000),
          amount: '20',
        })),
        ...[0, 300, 600, 900].map((s, k) => ({ id: `${n}-b${k}`, account, user: `u${n}`, date: fmtTs(T0 + 20 * DAY + 50_000 + s), amount: '900' })),
      ]);
      await ingestFile(w, 'r0', 'log', rows);
      await buildFeatures(w, { runId: 'r0', config: CONFIG });
      await fitModels(w, { runId: 'r0', config: CONFIG });

      const strip = (alerts: Alert[]) => alerts.map(({ run_id: _run, ...rest }) => rest).sort((a, b) => (a.alert_id < b.alert_id ? -1 : 1));
      const read = async (r: DetectResult) => JSON.parse(await w.objectStore.getText(r.alertsKey)) as Alert[];
      const whole = strip(await read(await detect(w, { runId: 'all', config: CONFIG })));
      expect(new Set(whole.filter((a) => a.method === 'rule:sum').map((a) => a.account_number))).toEqual(new Set(accounts));
      for (const partitions of [3, 8, 16]) {
        const slices: Alert[][] = [];
        for (let partition = 0; partition < partitions; partition++) {
          slices.push(await read(await detect(w, { runId: `p${partitions}-${partition}`, config: CONFIG, partition, partitions })));
        }
        expect(strip(slices.flat())).toEqual(whole);
        for (const account of accounts) {
          expect(slices.filter((s) => s.some((a) => a.account_number === account))).toHaveLength(1);
        }
      }
    });
  });
});
