import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { formatDecimalUnits, Keys, resolveConfig } from '@splitwatch/core';
import {
  buildFeatures,
  FEATURE_COLUMNS,
  ingest,
  planFeaturesBuild,
  registerFeatureChanges,
  registerFeatures,
  sourceIdOf,
  type BuildFeaturesResult,
  type FeaturesState,
} from '@splitwatch/use-cases';
import { csvOf, inFreshWorld, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;
type Row = Record<string, unknown>;

const DAY = 86_400;
const T0 = Date.UTC(2021, 0, 1, 0, 0, 0) / 1000;
const PROPERTY_TIMEOUT_MS = 300_000;
const DOUBLE = new Set(FEATURE_COLUMNS.filter((c) => c.type === 'DOUBLE').map((c) => c.name));
const fmtTs = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 19);

/** Every feature row by tx_id, decimals as exact text. */
async function featureRows(w: World): Promise<Map<string, Row>> {
  await registerFeatures(w.sqlEngine);
  const decimals = FEATURE_COLUMNS.filter((c) => c.type.startsWith('DECIMAL'));
  const rows = await w.sqlEngine.query(
    `SELECT *, ${decimals.map((c) => `CAST(${c.name} AS VARCHAR) AS ${c.name}`).join(', ')} FROM features`,
  );
  return new Map(rows.map((r) => [String(r.tx_id), r]));
}

/**
 * The same rows with the same values: exact for text, counts and decimals; doubles to 1e-12 relative, because
 * DuckDB sums doubles in a window in an order that depends on its threads (two full builds differ in the last
 * bits as well).
 */
function expectSameFeatures(got: Map<string, Row>, want: Map<string, Row>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [id, w] of want) {
    const g = got.get(id)!;
    for (const [name, v] of Object.entries(w)) {
      const x = g[name];
      const same =
        DOUBLE.has(name) && typeof v === 'number' && typeof x === 'number'
          ? Math.abs(x - v) <= 1e-12 * Math.max(1, Math.abs(v))
          : x === v;
      if (!same) throw new Error(`${id} ${name}: incremental ${String(x)}, full ${String(v)}`);
    }
  }
}

async function ingestFile(w: World, runId: string, name: string, rows: Tx[]): Promise<void> {
  await w.objectStore.putText(`raw/${name}.csv`, csvOf(rows));
  await ingest(w, { runId, sources: [`raw/${name}.csv`] });
}

const build = (w: World, runId: string, windowHours = 24, incrementalMaxShare = 1) =>
  buildFeatures(w, { runId, config: resolveConfig({ windowHours }), incrementalMaxShare });

/** Random logs over two months: four holders (two accounts of one user), two merchants, ties and exact gaps. */
const logArb = fc
  .array(
    fc.record({
      holder: fc.constantFrom(['a1', 'u1'], ['a2', 'u1'], ['a3', 'u2'], ['a4', 'u3'], ['a5', 'u4'], ['a6', 'u5']),
      merchant: fc.constantFrom('m1', 'm2'),
      subsidiary: fc.constantFrom('s1', 's2'),
      type: fc.constantFrom('DEBITO', 'DEBITO', 'CREDITO'),
      day: fc.integer({ min: 0, max: 45 }),
      second: fc.oneof(fc.integer({ min: 0, max: DAY - 1 }), fc.constantFrom(0, 1, 43_200, DAY - 1)),
      units: fc.bigInt({ min: 1n, max: 500n * 10n ** 8n }),
      // Where the row comes from: 0 a file of the first ingest, 1 a file of the second, 2 and 3 a file of the first
      // ingest that the second re-ingests without the rows marked 2.
      file: fc.constantFrom(0, 0, 0, 1, 2, 3),
    }),
    { minLength: 2, maxLength: 30 },
  )
  .map((txs) =>
    txs.map((t, i) => ({
      file: t.file,
      tx: {
        id: `r${String(i).padStart(3, '0')}`,
        account: t.holder[0],
        user: t.holder[1],
        merchant: t.merchant,
        subsidiary: t.subsidiary,
        type: t.type,
        date: fmtTs(T0 + t.day * DAY + t.second),
        amount: formatDecimalUnits(t.units),
      } satisfies Tx,
    })),
  );

describe('incremental BuildFeatures', () => {
  it(
    'gives the features of a full build after new files, late rows on old days and a re-ingest that drops rows',
    async () => {
      await fc.assert(
        fc.asyncProperty(logArb, fc.constantFrom(6, 24), async (log, hours) => {
          const rows = (...files: number[]) => log.filter((r) => files.includes(r.file)).map((r) => r.tx);
          const incremental = await inFreshWorld(async (w) => {
            await ingestFile(w, 'r1', 'a', rows(0));
            await ingestFile(w, 'r2', 'c', rows(2, 3));
            expect((await build(w, 'r1', hours)).mode).toBe('full');
            const before = await w.objectStore.list('curated/transactions/');
            await ingestFile(w, 'r3', 'b', rows(1));
            await ingestFile(w, 'r4', 'c', rows(3)); // the file again, without the rows marked 2
            // An increment whenever a curated file was added, rewritten or removed: not when b added no row and c
            // came back unchanged (no row marked 2: ingest skips it) or curated nothing either time (all duplicates).
            const after = await w.objectStore.list('curated/transactions/');
            const changed = JSON.stringify(after) !== JSON.stringify(before);
            expect((await build(w, 'r2', hours)).mode).toBe(changed ? 'incremental' : 'unchanged');
            if (rows(2).length === 0) {
              // c came back with the same content: its curated files were left as they were.
              const ofC = (list: typeof before) => list.filter((o) => o.key.includes(`/${sourceIdOf('raw/c.csv')}-`));
              expect(ofC(after)).toEqual(ofC(before));
            }
            return featureRows(w);
          });
          const full = await inFreshWorld(async (w) => {
            await ingestFile(w, 'r1', 'all', rows(0, 1, 3));
            expect((await build(w, 'r1', hours)).mode).toBe('full');
            return featureRows(w);
          });
          expectSameFeatures(incremental, full);
        }),
        { numRuns: 12 },
      );
    },
    PROPERTY_TIMEOUT_MS,
  );

  describe('on a two-month log', () => {
    let w: World;
    const january: Tx[] = [];
    for (let d = 0; d < 31; d++) {
      january.push({ id: `j${d}`, account: 'a1', user: 'u1', date: fmtTs(T0 + d * DAY + 36_000), amount: '10' });
      january.push({ id: `k${d}`, account: 'a2', user: 'u2', date: fmtTs(T0 + d * DAY + 50_000), amount: '7' });
      january.push({ id: `l${d}`, account: 'a3', user: 'u3', date: fmtTs(T0 + d * DAY + 60_000), amount: '3' });
    }
    const feb1: Tx[] = [
      { id: 'f1', account: 'a1', user: 'u1', date: '2021-02-01 09:00:00', amount: '100' },
      { id: 'f2', account: 'a1', user: 'u1', date: '2021-02-01 09:05:00', amount: '100' },
    ];
    beforeEach(async () => {
      w = await localWorld();
      await ingestFile(w, 'r1', 'jan', january);
    });
    afterEach(async () => {
      await w.dispose();
    });

    it('recomputes only the new day’s users and rewrites only the months from that day on', async () => {
      const full = await build(w, 'r1', 24, 0.5);
      const january0 = await stat(join(w.root, 'features/windows/month=2021-01/data_0.parquet'));
      await ingestFile(w, 'r2', 'feb', feb1);

      const result = await build(w, 'r2', 24, 0.5);

      expect(full).toMatchObject({ mode: 'full', rows: 93, recomputedRows: 93 });
      expect(result).toMatchObject({ mode: 'incremental', rows: 95, recomputedRows: 33, files: 1 });
      expect(result.reason).toBe('1 curated object(s) changed on 1 day(s) from 2021-02-01');
      // January's file is the first build's; February's was written now, named after the run.
      expect((await stat(join(w.root, 'features/windows/month=2021-01/data_0.parquet'))).mtimeMs).toBe(january0.mtimeMs);
      const files = (await w.objectStore.list(Keys.features)).map((o) => o.key);
      expect(files).toEqual([
        'features/windows/month=2021-01/data_0.parquet',
        'features/windows/month=2021-02/r2-data_0.parquet',
      ]);
      const rows = await featureRows(w);
      // The window reaches back into January's file: j30 (Jan 31 10:00), f1, f2.
      expect(rows.get('f2')).toMatchObject({ n_tx: 3, sum_amount: '210.00000000', hist_days: 30 });
      const record = JSON.parse(await w.objectStore.getText(Keys.stepRecord('r2', 'build-features'))) as {
        counts: Record<string, number>;
        details: Record<string, unknown>;
      };
      expect(record.counts).toMatchObject({ rows: 95, recomputedRows: 33 });
      expect(record.details).toMatchObject({ mode: 'incremental', changedDays: ['2021-02-01'], users: 1 });
      expect(await w.objectStore.list('staging/')).toEqual([]);
      // The recomputed users are kept with the build's number, for Detect; a full build clears them.
      expect((await w.objectStore.list(Keys.featuresChanges)).map((o) => o.key)).toEqual(['features/changes/g2-data_0.parquet']);
      await registerFeatureChanges(w.sqlEngine);
      expect(await w.sqlEngine.query('SELECT user_id, generation FROM feature_changes')).toEqual([{ user_id: 'u1', generation: 2 }]);
      await w.objectStore.delete([Keys.featuresState]);
      expect(await build(w, 'r3')).toMatchObject({ mode: 'full' });
      expect(await w.objectStore.list(Keys.featuresChanges)).toEqual([]);
    });

    it('clears what a stopped attempt of the same run left in its staging folder', async () => {
      await build(w, 'r1', 24, 0.5);
      await ingestFile(w, 'r2', 'feb', feb1);
      await w.objectStore.putText('staging/run=r2/features/users/data_0.parquet', 'half-written');

      const result = await build(w, 'r2', 24, 0.5);

      expect(result).toMatchObject({ mode: 'incremental', rows: 95 });
      expect(await w.objectStore.list('staging/')).toEqual([]);
    });

    it('writes nothing when no curated object changed', async () => {
      await build(w, 'r1');
      const before = await w.objectStore.list('features/');

      const result = await build(w, 'r2');

      expect(result).toMatchObject({ mode: 'unchanged', rows: 93, files: 0, recomputedRows: 0 });
      expect(await w.objectStore.list('features/')).toEqual(before);
    });

    it('starts over when the window length changes, the state is gone, or the increment is most of the log', async () => {
      const modes: [string, string][] = [];
      const note = (r: BuildFeaturesResult) => modes.push([r.mode, r.reason]);
      note(await build(w, 'r1', 24));
      note(await build(w, 'r2', 6));
      await w.objectStore.delete([Keys.featuresState]);
      note(await build(w, 'r3', 6));
      await ingestFile(w, 'r4', 'feb', [
        { id: 'g1', account: 'a1', user: 'u1', date: '2021-02-01 09:00:00', amount: '1' },
        { id: 'g2', account: 'a2', user: 'u2', date: '2021-02-01 09:00:00', amount: '1' },
      ]);
      note(await build(w, 'r4', 6, 0.5));

      expect(modes).toEqual([
        ['full', 'no previous build is recorded'],
        ['full', 'the features definition changed (window length, SQL or layout)'],
        ['full', 'no previous build is recorded'],
        ['full', "the changed days' users hold 64 of 95 transactions (over 50%)"],
      ]);
      expect((await featureRows(w)).size).toBe(95);
    });

    it('starts over when a recomputed user shares an account with a user who is not recomputed', async () => {
      // u3 once used u2's account a2; on the new day u2 uses another account, so only u2 would be recomputed and
      // a2's windows would lose u3's row.
      await ingestFile(w, 'r2', 'shared', [{ id: 's1', account: 'a2', user: 'u3', date: '2021-01-15 09:00:00', amount: '5' }]);
      await build(w, 'r1');
      await ingestFile(w, 'r3', 'feb', [{ id: 's2', account: 'a9', user: 'u2', date: '2021-02-01 09:00:00', amount: '5' }]);

      const result = await build(w, 'r3');

      expect(result).toMatchObject({
        mode: 'full',
        reason: '1 transaction(s) of other users share an account with the users to recompute',
        rows: 95,
      });
      // k13 (exactly 24 h before), s1 and k14 on the account; k13 and k14 for the user.
      expect((await featureRows(w)).get('k14')).toMatchObject({ n_tx: 3, user_n_tx: 2 });
    });

    it('replaces features written in an older layout (no month folders, no state)', async () => {
      await w.objectStore.putText('features/windows/data_0.parquet', 'not parquet');

      const result = await build(w, 'r1');

      expect(result.mode).toBe('full');
      expect((await w.objectStore.list(Keys.features)).map((o) => o.key)).toEqual([
        'features/windows/month=2021-01/data_0.parquet',
      ]);
    });
  });

  describe('planFeaturesBuild', () => {
    const state = (curated: Record<string, string>): FeaturesState => ({
      format: 'splitwatch.features-state.v2',
      fingerprint: 'f',
      runId: 'r0',
      builtAt: '2026-11-30T00:00:00Z',
      curated,
      generation: 1,
      lineage: 'r0',
      changes: [],
    });
    const obj = (key: string, version?: string) => ({ key, size: 1, version });
    const a = 'curated/transactions/dt=2021-01-05/x-data_0.parquet';
    const b = 'curated/transactions/dt=2021-02-01/x-data_0.parquet';

    it('finds the days of objects added, rewritten and removed', () => {
      expect(planFeaturesBuild(state({ [a]: '1' }), [obj(a, '1'), obj(b, '1')], 'f')).toMatchObject({
        mode: 'incremental',
        days: ['2021-02-01'],
      });
      expect(planFeaturesBuild(state({ [a]: '1', [b]: '1' }), [obj(a, '2'), obj(b, '1')], 'f')).toMatchObject({
        mode: 'incremental',
        days: ['2021-01-05'],
      });
      expect(planFeaturesBuild(state({ [a]: '1', [b]: '1' }), [obj(b, '1')], 'f')).toMatchObject({
        mode: 'incremental',
        days: ['2021-01-05'],
      });
      expect(planFeaturesBuild(state({ [a]: '1' }), [obj(a, '1')], 'f').mode).toBe('unchanged');
    });

    it('starts over without a state, with another fingerprint, without versions or outside the day layout', () => {
      expect(planFeaturesBuild(undefined, [obj(a, '1')], 'f').mode).toBe('full');
      expect(planFeaturesBuild(state({ [a]: '1' }), [obj(a, '1')], 'g').mode).toBe('full');
      expect(planFeaturesBuild(state({ [a]: '1' }), [obj(a)], 'f').reason).toBe(
        `the object store gives no version for ${a}`,
      );
      expect(planFeaturesBuild(state({}), [obj('curated/transactions/x.parquet', '1')], 'f')).toMatchObject({
        mode: 'full',
        reason: 'a curated object outside the dt=YYYY-MM-DD/ layout changed: curated/transactions/x.parquet',
      });
    });
  });
});
