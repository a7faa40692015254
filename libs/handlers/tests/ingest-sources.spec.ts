import { Keys, resolveConfig, type ObjectStore } from '@splitwatch/core';
import {
  buildFeatures,
  ingest,
  readSourceState,
  sourceIdOf,
} from '@splitwatch/use-cases';
import { csvOf, curatedIds, marchDay, HEADER, inFreshWorld, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

const day = marchDay;

const statusOf = (res: Awaited<ReturnType<typeof ingest>>) =>
  Object.fromEntries(res.sources.map((s) => [s.source, s.status]));

describe('ingest skips sources curated before from the same content', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  it('reads only the new file of a growing directory, so the next feature build recomputes only its day', async () => {
    await w.objectStore.putText('raw/2021-03-01.csv', csvOf(day(1, 4)));
    await w.objectStore.putText('raw/2021-03-02.csv', csvOf(day(2, 4)));
    await ingest(w, { runId: 'r1', sources: ['raw/'] });
    const config = resolveConfig({});
    await buildFeatures(w, { runId: 'r1', config });
    const before = await w.objectStore.list('curated/transactions/');

    await w.objectStore.putText('raw/2021-03-03.csv', csvOf(day(3, 4)));
    const res = await ingest(w, { runId: 'r2', sources: ['raw/'] });

    expect(statusOf(res)).toEqual({
      'raw/2021-03-01.csv': 'unchanged',
      'raw/2021-03-02.csv': 'unchanged',
      'raw/2021-03-03.csv': 'ingested',
    });
    expect(res.totals).toMatchObject({ files: 1, read: 4, accepted: 4, unchanged: 2 });
    // The unchanged sources' reports are those of the run that curated them.
    expect(res.sources[0]).toMatchObject({
      ingestedBy: 'r1',
      read: 4,
      accepted: 4,
      reason: 'unchanged since run r1',
    });
    const after = await w.objectStore.list('curated/transactions/');
    for (const o of before) expect(after).toContainEqual(o); // same keys, same versions: not rewritten
    expect(after.filter((o) => o.key.includes('dt=2021-03-03/'))).toHaveLength(1);
    expect(await curatedIds(w)).toHaveLength(12);
    const features = await buildFeatures(w, { runId: 'r2', config });
    expect(features).toMatchObject({
      mode: 'incremental',
      reason: expect.stringContaining('1 day(s) from 2021-03-03'),
    });
    // The audit trail of the run names the skipped sources too.
    const manifest = JSON.parse(
      await w.objectStore.getText(`runs/r2/ingest/${sourceIdOf('raw/2021-03-01.csv')}.json`),
    );
    expect(manifest).toMatchObject({ status: 'unchanged', ingestedBy: 'r1' });
    expect(manifest.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('finds keys given one by one in their folder, and names one that is not there', async () => {
    await w.objectStore.putText('raw/logs/a.csv', csvOf(day(1, 2)));
    await w.objectStore.putText('raw/logs/b.csv', csvOf(day(2, 2)));
    await expect(
      ingest(w, { runId: 'r0', sources: ['raw/logs/a.csv', 'raw/logs/b.csv', 'raw/logs/c.csv'] }),
    ).rejects.toThrow('raw/logs/c.csv: no such object');
    const res = await ingest(w, { runId: 'r1', sources: ['raw/logs/b.csv', 'raw/logs/a.csv'] });
    expect(res.sources.map((s) => [s.source, s.read])).toEqual([
      ['raw/logs/a.csv', 2],
      ['raw/logs/b.csv', 2],
    ]);
  });

  it('reads a source again when its content, its curated files or its column map changed', async () => {
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 3)));
    await w.objectStore.putText('raw/b.csv', csvOf(day(2, 3)));
    await ingest(w, { runId: 'r1', sources: ['raw/'] });

    // Rewritten with the same bytes (a new version, the same size): the checksum says unchanged.
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 3)));
    let res = await ingest(w, { runId: 'r2', sources: ['raw/'] });
    expect(statusOf(res)).toEqual({ 'raw/a.csv': 'unchanged', 'raw/b.csv': 'unchanged' });

    // Same size, different content: read again.
    const changed = day(1, 3).map((t) => (t.id === 'd1-2' ? { ...t, id: 'd1-9' } : t));
    await w.objectStore.putText('raw/a.csv', csvOf(changed));
    res = await ingest(w, { runId: 'r3', sources: ['raw/'] });
    expect(res.sources.map((s) => [s.status, s.reason])).toEqual([
      ['ingested', 'its content changed'],
      ['unchanged', 'unchanged since run r1'],
    ]);
    expect(await curatedIds(w)).toEqual(['d1-0', 'd1-1', 'd1-9', 'd2-0', 'd2-1', 'd2-2']);

    // A curated file removed behind its back: read again, and the rows are back.
    const bFile = (await w.objectStore.list('curated/transactions/')).find((o) =>
      o.key.includes('dt=2021-03-02/'),
    )!;
    await w.objectStore.delete([bFile.key]);
    res = await ingest(w, { runId: 'r4', sources: ['raw/'] });
    expect(res.sources[1]).toMatchObject({
      status: 'ingested',
      reason: 'its curated files changed since it was ingested',
    });
    expect(await curatedIds(w)).toHaveLength(6);

    // Another column map is another reading of the file.
    const mapped = csvOf(day(1, 3)).replace('_id,', 'id,');
    await w.objectStore.putText('raw/a.csv', mapped);
    await ingest(w, { runId: 'r5', sources: ['raw/a.csv'], columnMap: { _id: 'id' } });
    res = await ingest(w, { runId: 'r6', sources: ['raw/a.csv'], columnMap: { _id: 'id' } });
    expect(res.sources[0].status).toBe('unchanged');
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 3)));
    res = await ingest(w, { runId: 'r7', sources: ['raw/a.csv'] });
    expect(res.sources[0]).toMatchObject({
      status: 'ingested',
      reason: 'curated with another ingest schema version or column map',
    });
  });

  it('reads an unchanged source again when its duplicates were kept in a source that changed, so no row is lost', async () => {
    const shared = day(1, 2, 'x');
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...shared]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    // b holds a's x rows again (an overlapping extract): duplicates of rows curated from a.
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), ...shared]));
    const first = await ingest(w, { runId: 'r2', sources: ['raw/b.csv'] });
    expect(first.totals).toMatchObject({ accepted: 2, duplicates: 2 });

    // a is corrected and no longer holds the x rows; b is unchanged but must give them back.
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 2, 'a')));
    const res = await ingest(w, { runId: 'r3', sources: ['raw/'] });

    expect(res.sources.map((s) => [s.source, s.status, s.reason])).toEqual([
      ['raw/a.csv', 'ingested', 'its content changed'],
      [
        'raw/b.csv',
        'ingested',
        'unchanged, but it had duplicates or conflicts near the days of a source ingested again',
      ],
    ]);
    const expected = await inFreshWorld(async (fresh) => {
      await fresh.objectStore.putText('raw/a.csv', csvOf(day(1, 2, 'a')));
      await fresh.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), ...shared]));
      await ingest(fresh, { runId: 'f1', sources: ['raw/'] });
      return curatedIds(fresh);
    });
    expect(await curatedIds(w)).toEqual(expected);
    expect(expected).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'x-0', 'x-1']);
  });

  it('quarantines every version of a conflicting _id whichever file came first, reading the earlier one again', async () => {
    const x = day(1, 2, 'x');
    const otherX0 = { ...x[0], amount: '999' }; // x-0 with other content: a conflict, not a retry
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...x]));
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), otherX0]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    const progress: string[] = [];
    const res = await ingest(
      { ...w, onProgress: (m) => progress.push(m) },
      { runId: 'r2', sources: ['raw/b.csv'] },
    );

    expect(res.sources.map((s) => [s.source, s.status, s.read, s.accepted, s.rejected])).toEqual([
      ['raw/a.csv', 'ingested', 4, 3, 1],
      ['raw/b.csv', 'ingested', 3, 2, 1],
    ]);
    expect(res.sources[0].reason).toBe(
      'its rows conflict with raw/b.csv (the same _id with other content): read again with it, so every version is quarantined',
    );
    expect(progress).toContain(
      'raw/b.csv: 1 _id(s) conflict with rows curated from raw/a.csv: reading it again with this run',
    );
    // Both versions in quarantine, at their own lines; the run's manifest and a's state say who curated a now.
    for (const [src, line] of [
      ['raw/a.csv', 4],
      ['raw/b.csv', 4],
    ] as const) {
      const q = await w.objectStore.getText(`quarantine/run=r2/${sourceIdOf(src)}.csv`);
      expect(q).toContain(`${src},${line},_id,conflicting duplicate`);
    }
    expect(await readSourceState(w.objectStore, sourceIdOf('raw/a.csv'))).toMatchObject({ runId: 'r2' });
    const together = await inFreshWorld(async (fresh) => {
      await fresh.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...x]));
      await fresh.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), otherX0]));
      await ingest(fresh, { runId: 'f1', sources: ['raw/'] });
      return curatedIds(fresh);
    });
    expect(together).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'x-1']);
    expect(await curatedIds(w)).toEqual(together);

    // Nothing new: nothing is read, nothing moves.
    const again = await ingest(w, { runId: 'r3', sources: ['raw/'] });
    expect(Object.values(statusOf(again))).toEqual(['unchanged', 'unchanged']);

    // b is corrected: a, unchanged, is read again with it and its x-0 is curated once more.
    await w.objectStore.putText('raw/b.csv', csvOf(day(1, 2, 'b')));
    const fixed = await ingest(w, { runId: 'r4', sources: ['raw/'] });
    expect(Object.values(statusOf(fixed))).toEqual(['ingested', 'ingested']);
    expect(await curatedIds(w)).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'x-0', 'x-1']);
  });

  it('keeps an _id quarantined as a conflict one in later runs, until the files that conflicted are corrected', async () => {
    const [x0] = day(1, 1, 'x');
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), x0]));
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), { ...x0, amount: '999' }]));
    await ingest(w, { runId: 'r1', sources: ['raw/'] });
    expect(await w.objectStore.getText(Keys.knownConflictsOf(sourceIdOf('raw/a.csv')))).toBe(
      'tx_id,source_key\nx-0,raw/a.csv\n',
    );

    // A third file brings a's version of x-0 again: it is judged against the known conflict, not waved through.
    await w.objectStore.putText('raw/c.csv', csvOf([...day(2, 2, 'c'), x0]));
    const third = await ingest(w, { runId: 'r2', sources: ['raw/c.csv'] });
    expect(third.sources.map((s) => [s.source, s.accepted, s.duplicates, s.rejected])).toEqual([
      ['raw/c.csv', 2, 0, 1],
    ]);
    expect(await w.objectStore.getText(`quarantine/run=r2/${sourceIdOf('raw/c.csv')}.csv`)).toContain(
      'raw/c.csv,4,_id,conflicting duplicate',
    );
    expect(await curatedIds(w)).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'c-0', 'c-1']);
    // Read again on its own, c finds the same.
    const again = await ingest(w, { runId: 'r3', sources: ['raw/c.csv'], reingest: true });
    expect(again.sources[0]).toMatchObject({ accepted: 2, duplicates: 0, rejected: 1 });

    // b is corrected: the three are read together, x-0 has one version left, curated once (c's is its retry).
    await w.objectStore.putText('raw/b.csv', csvOf(day(1, 2, 'b')));
    const fixed = await ingest(w, { runId: 'r4', sources: ['raw/'] });
    expect(Object.values(statusOf(fixed))).toEqual(['ingested', 'ingested', 'ingested']);
    expect(fixed.totals).toMatchObject({ accepted: 7, duplicates: 1, rejected: 0 });
    expect(await curatedIds(w)).toEqual(['a-0', 'a-1', 'b-0', 'b-1', 'c-0', 'c-1', 'x-0']);
    expect(await w.objectStore.list(Keys.knownConflicts)).toEqual([]);
  });

  // The earlier file cannot be read again: its curated version stays, only the new one is quarantined, and the run
  // says why.
  it.each([
    {
      why: 'which is no longer in the object store',
      curateA: async (x: Tx[]) => {
        await w.objectStore.putText('raw/a.csv', csvOf(x));
        await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
        await w.objectStore.delete(['raw/a.csv']);
      },
    },
    {
      why: 'which was read with another column map',
      curateA: async (x: Tx[]) => {
        await w.objectStore.putText('raw/a.csv', csvOf(x, HEADER.replace('_id', 'id')));
        await ingest(w, { runId: 'r1', sources: ['raw/a.csv'], columnMap: { _id: 'id' } });
      },
    },
  ])('keeps the curated version of a conflicting _id from a file $why', async ({ why, curateA }) => {
    const x = day(1, 1, 'x');
    await curateA(x);
    await w.objectStore.putText('raw/b.csv', csvOf([{ ...x[0], amount: '999' }]));
    const progress: string[] = [];
    const res = await ingest(
      { ...w, onProgress: (m) => progress.push(m) },
      { runId: 'r2', sources: ['raw/b.csv'] },
    );

    expect(res.totals).toMatchObject({ files: 1, read: 1, accepted: 0, rejected: 1 });
    expect(progress.some((m) => m.includes(why))).toBe(true);
    expect(await curatedIds(w)).toEqual(['x-0']);
  });

  it('leaves no state for a source whose curated files were being replaced when ingest stopped, and reads it again', async () => {
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 3)));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    const stateKey = Keys.curatedSourceState(sourceIdOf('raw/a.csv'));
    expect(await readSourceState(w.objectStore, sourceIdOf('raw/a.csv'))).toMatchObject({ runId: 'r1' });

    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 4)));
    const failing: ObjectStore = Object.create(w.objectStore, {
      copy: {
        value: async (from: string, to: string) => {
          if (to.startsWith(Keys.curated)) throw new Error('stopped while publishing');
          return w.objectStore.copy(from, to);
        },
      },
    });
    await expect(
      ingest({ ...w, objectStore: failing }, { runId: 'r2', sources: ['raw/a.csv'] }),
    ).rejects.toThrow('stopped while publishing');
    expect((await w.objectStore.list(stateKey)).map((o) => o.key)).toEqual([]);

    const res = await ingest(w, { runId: 'r3', sources: ['raw/a.csv'] });
    expect(res.sources[0]).toMatchObject({ status: 'ingested', reason: 'new source' });
    expect(await curatedIds(w)).toEqual(['d1-0', 'd1-1', 'd1-2', 'd1-3']);
  });
});
