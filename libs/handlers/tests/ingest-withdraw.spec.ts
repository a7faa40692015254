import { InputFormatError, Keys, resolveConfig } from '@splitwatch/core';
import { buildFeatures, ingest, listSources, readSourceState, sourceIdOf } from '@splitwatch/use-cases';
import { csvOf, curatedIds, marchDay, inFreshWorld, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

const day = marchDay;

/** The curated ids of a fresh world that ingests `files` only: what a withdrawal must leave. */
const curatedFrom = (files: Record<string, Tx[]>) =>
  inFreshWorld(async (fresh) => {
    for (const [key, rows] of Object.entries(files)) await fresh.objectStore.putText(key, csvOf(rows));
    await ingest(fresh, { runId: 'f1', sources: Object.keys(files) });
    return curatedIds(fresh);
  });

describe('withdrawing an ingested file', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });

  it('removes its curated rows, keeps it out while unchanged, and lets the next feature build recompute its days', async () => {
    await w.objectStore.putText('raw/2021-03-01.csv', csvOf(day(1, 4)));
    await w.objectStore.putText('raw/2021-03-02.csv', csvOf(day(2, 3)));
    await ingest(w, { runId: 'r1', sources: ['raw/'] });
    const config = resolveConfig({});
    await buildFeatures(w, { runId: 'r1', config });

    const res = await ingest(w, { runId: 'r2', sources: [], withdraw: ['raw/2021-03-02.csv'] });

    expect(res.withdrawn).toEqual([
      {
        source: 'raw/2021-03-02.csv',
        sourceId: sourceIdOf('raw/2021-03-02.csv'),
        status: 'withdrawn',
        withdrawnBy: 'r2',
        ingestedBy: 'r1',
        rows: 3,
        files: 1,
        dateRange: { min: '2021-03-02', max: '2021-03-02' },
      },
    ]);
    expect(res.totals).toMatchObject({ files: 0, read: 0, withdrawn: 1 });
    expect(await curatedIds(w)).toEqual(await curatedFrom({ 'raw/2021-03-01.csv': day(1, 4) }));
    expect(await w.objectStore.list('curated/transactions/dt=2021-03-02/')).toEqual([]);
    // The audit trail: the run's manifest for the source, and its tombstone.
    const manifest = JSON.parse(await w.objectStore.getText(`runs/r2/ingest/${sourceIdOf('raw/2021-03-02.csv')}.json`));
    expect(manifest).toMatchObject({ status: 'withdrawn', rows: 3, runId: 'r2' });
    expect(await readSourceState(w.objectStore, sourceIdOf('raw/2021-03-02.csv'))).toMatchObject({
      curated: {},
      dateRange: null,
      withdrawn: { runId: 'r2', rows: 3, ingestedBy: 'r1', dateRange: { min: '2021-03-02', max: '2021-03-02' } },
    });
    // `splitwatch sources` lists both, one withdrawn.
    expect(await listSources(w.objectStore)).toEqual([
      { source: 'raw/2021-03-01.csv', status: 'curated', ingestedBy: 'r1', read: 4, accepted: 4, duplicates: 0, rejected: 0, firstDay: '2021-03-01', lastDay: '2021-03-01', withdrawnBy: null },
      { source: 'raw/2021-03-02.csv', status: 'withdrawn', ingestedBy: 'r1', read: 3, accepted: 3, duplicates: 0, rejected: 0, firstDay: '2021-03-02', lastDay: '2021-03-02', withdrawnBy: 'r2' },
    ]);
    const features = await buildFeatures(w, { runId: 'r2', config });
    expect(features).toMatchObject({ mode: 'incremental', rows: 4 });

    // A scheduled run over raw/ (the file is still there, unchanged) keeps it out; so does asking to read all again.
    for (const reingest of [false, true]) {
      const later = await ingest(w, { runId: `r3-${reingest}`, sources: ['raw/'], reingest });
      expect(later.sources.map((s) => [s.source, s.status])).toEqual([
        ['raw/2021-03-01.csv', reingest ? 'ingested' : 'unchanged'],
        ['raw/2021-03-02.csv', 'withdrawn'],
      ]);
      expect(later.sources[1].reason).toBe('withdrawn by run r2');
      // Skipped as withdrawn, not counted as unchanged.
      expect(later.totals.unchanged).toBe(reingest ? 0 : 1);
      expect(await curatedIds(w)).toEqual(day(1, 4).map((t) => t.id));
    }
    // Withdrawing it again does nothing more.
    const twice = await ingest(w, { runId: 'r4', sources: [], withdraw: ['raw/2021-03-02.csv'] });
    expect(twice.withdrawn[0]).toMatchObject({ status: 'already withdrawn', withdrawnBy: 'r2', rows: 3, files: 0 });
    expect(twice.totals.withdrawn).toBe(0);

    // Another content at the same key is a new extract: ingested.
    await w.objectStore.putText('raw/2021-03-02.csv', csvOf(day(2, 2)));
    const corrected = await ingest(w, { runId: 'r5', sources: ['raw/'] });
    expect(corrected.sources[1]).toMatchObject({ status: 'ingested', accepted: 2, reason: 'its content changed since run r2 withdrew it' });
    expect(await curatedIds(w)).toEqual(await curatedFrom({ 'raw/2021-03-01.csv': day(1, 4), 'raw/2021-03-02.csv': day(2, 2) }));
  });

  it('gives back the rows another file held as retries of the withdrawn rows, and the _ids that conflicted with them', async () => {
    const shared = day(1, 2, 'x');
    const [c0] = day(1, 1, 'c');
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...shared, c0]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    // b repeats a's x rows (retries, dropped) and holds another version of c-0 (a conflict: both quarantined).
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), ...shared, { ...c0, amount: '999' }]));
    const first = await ingest(w, { runId: 'r2', sources: ['raw/b.csv'] });
    expect(first.sources.map((s) => [s.source, s.accepted, s.duplicates, s.rejected])).toEqual([
      ['raw/a.csv', 4, 0, 1],
      ['raw/b.csv', 2, 2, 1],
    ]);

    // a goes: b, not given to this run, is read again without a's rows.
    const progress: string[] = [];
    const res = await ingest({ ...w, onProgress: (m) => progress.push(m) }, { runId: 'r3', sources: [], withdraw: ['raw/a.csv'] });

    expect(res.sources.map((s) => [s.source, s.status, s.accepted, s.duplicates, s.rejected])).toEqual([
      ['raw/b.csv', 'ingested', 5, 0, 0],
    ]);
    expect(res.sources[0].reason).toBe(
      'it had duplicates or conflicts near the days of raw/a.csv, withdrawn by this run: classified again without its rows',
    );
    expect(res.withdrawn.map((x) => [x.source, x.rows])).toEqual([['raw/a.csv', 4]]);
    // As if a had never been ingested; a's conflict list is gone with it.
    expect(await curatedIds(w)).toEqual(await curatedFrom({ 'raw/b.csv': [...day(1, 2, 'b'), ...shared, { ...c0, amount: '999' }] }));
    expect(await curatedIds(w)).toEqual(['b-0', 'b-1', 'c-0', 'x-0', 'x-1']);
    expect(await w.objectStore.list(Keys.knownConflictsOf(sourceIdOf('raw/a.csv')))).toEqual([]);
    expect(progress.some((m) => m.includes('no longer in the object store'))).toBe(false);
  });

  it('withdraws a file curated without a recorded state by its curated files, and keeps its content out after', async () => {
    const shared = day(1, 2, 'x');
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...shared]));
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), ...shared]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    await ingest(w, { runId: 'r2', sources: ['raw/b.csv'] });
    await w.objectStore.delete([Keys.curatedSourceState(sourceIdOf('raw/a.csv'))]);

    const res = await ingest(w, { runId: 'r3', sources: [], withdraw: ['raw/a.csv'] });

    expect(res.withdrawn).toMatchObject([
      { status: 'withdrawn', ingestedBy: 'unknown', rows: null, files: 1, dateRange: { min: '2021-03-01', max: '2021-03-01' } },
    ]);
    // Its days, read from its curated files, still bring b (which held a's x rows as retries) back in.
    expect(res.sources.map((s) => [s.source, s.status, s.accepted])).toEqual([['raw/b.csv', 'ingested', 4]]);
    expect(await curatedIds(w)).toEqual(['b-0', 'b-1', 'x-0', 'x-1']);
    const later = await ingest(w, { runId: 'r4', sources: ['raw/'] });
    expect(later.sources.map((s) => [s.source, s.status])).toEqual([
      ['raw/a.csv', 'withdrawn'],
      ['raw/b.csv', 'unchanged'],
    ]);
  });

  it('leaves the rows of a file that is gone from the store, and says so', async () => {
    const shared = day(1, 2, 'x');
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...shared]));
    await w.objectStore.putText('raw/b.csv', csvOf([...day(1, 2, 'b'), ...shared]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    await ingest(w, { runId: 'r2', sources: ['raw/b.csv'] });
    await w.objectStore.delete(['raw/b.csv']);
    const progress: string[] = [];
    await ingest({ ...w, onProgress: (m) => progress.push(m) }, { runId: 'r3', sources: [], withdraw: ['raw/a.csv'] });
    expect(progress).toContain(
      'raw/b.csv: it had duplicates or conflicts near the days of raw/a.csv, withdrawn by this run: classified again ' +
        'without its rows, but it is no longer in the object store: its rows stay as they are',
    );
    expect(await curatedIds(w)).toEqual(['b-0', 'b-1']);
  });

  it('finishes a withdrawal that stopped half-way when the file is given again', async () => {
    await w.objectStore.putText('raw/a.csv', csvOf([...day(1, 2, 'a'), ...day(2, 2, 'a2')]));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    const files = await w.objectStore.list('curated/transactions/');
    expect(files).toHaveLength(2);
    await ingest(w, { runId: 'r2', sources: [], withdraw: ['raw/a.csv'] });
    // As if the run had stopped after the tombstone and one deletion: one file of a's is back in the layout.
    await w.objectStore.putText(files[0].key, await w.objectStore.getText(Keys.curatedSourceState(sourceIdOf('raw/a.csv'))));
    const res = await ingest(w, { runId: 'r3', sources: ['raw/'] });
    expect(res.sources.map((s) => [s.source, s.status])).toEqual([['raw/a.csv', 'withdrawn']]);
    expect(res.withdrawn).toMatchObject([{ source: 'raw/a.csv', status: 'withdrawn', withdrawnBy: 'r2', files: 1 }]);
    expect(await w.objectStore.list('curated/transactions/')).toEqual([]);
  });

  it('names what cannot be withdrawn', async () => {
    await w.objectStore.putText('raw/a.csv', csvOf(day(1, 2)));
    await ingest(w, { runId: 'r1', sources: ['raw/a.csv'] });
    await expect(ingest(w, { runId: 'r2', sources: [], withdraw: ['raw/never.csv'] })).rejects.toThrow(
      new InputFormatError(
        `Cannot withdraw raw/never.csv: nothing was curated from it (no state at ${Keys.curatedSourceState(sourceIdOf('raw/never.csv'))})`,
      ),
    );
    await expect(ingest(w, { runId: 'r2', sources: [], withdraw: ['raw/'] })).rejects.toThrow(
      "Cannot withdraw raw/: name one file's key, not a folder",
    );
    await expect(ingest(w, { runId: 'r2', sources: ['raw/a.csv'], withdraw: ['raw/a.csv'] })).rejects.toThrow(
      'raw/a.csv: given both to ingest and to withdraw',
    );
    expect(await curatedIds(w)).toEqual(day(1, 2).map((t) => t.id));
  });
});
