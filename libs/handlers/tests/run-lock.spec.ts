import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { Keys } from '@splitwatch/core';
import { acquireRunLock, releaseRunLock, RUN_LOCK_KEY, RUN_LOCK_TTL_MS, RunInProgressError } from '@splitwatch/use-cases';
import { localWorld } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

describe('one run at a time on a data set', () => {
  let w: World;
  beforeEach(async () => {
    w = await localWorld();
  });
  afterEach(async () => {
    await w.dispose();
  });
  const holder = async () => JSON.parse(await w.objectStore.getText(RUN_LOCK_KEY)) as { runId: string; since: string };

  it('refuses a second run while the first holds the data, names it, and lets it in once given back', async () => {
    const now = new Date('2026-12-02T10:00:00Z');
    await acquireRunLock(w.objectStore, 'r1', { now });
    expect(await holder()).toEqual({ runId: 'r1', since: '2026-12-02T10:00:00.000Z', host: hostname(), pid: process.pid });
    // The same run again (a retried first Task) keeps it.
    await acquireRunLock(w.objectStore, 'r1', { now });
    const refused = acquireRunLock(w.objectStore, 'r2', { now });
    await expect(refused).rejects.toThrow(RunInProgressError);
    await expect(refused).rejects.toThrow(
      `Run r1 has been working on this data since 2026-12-02T10:00:00.000Z: run r2 stops before changing anything. ` +
        `Start it again when that run has ended (if it is known to have died, delete ${RUN_LOCK_KEY}).`,
    );
    // A refused run gives back nothing; the holder gives it back.
    await releaseRunLock(w.objectStore, 'r2');
    expect((await holder()).runId).toBe('r1');
    await releaseRunLock(w.objectStore, 'r1');
    expect(await w.objectStore.exists(RUN_LOCK_KEY)).toBe(false);
    await acquireRunLock(w.objectStore, 'r2', { now });
    expect((await holder()).runId).toBe('r2');
  });

  it('takes over the lock of a run that ended without giving it back, or that is older than the time limit', async () => {
    const progress: string[] = [];
    const onProgress = (m: string) => progress.push(m);
    const now = new Date('2026-12-02T10:00:00Z');
    await acquireRunLock(w.objectStore, 'r1', { now });
    await w.objectStore.putText(Keys.manifest('r1'), JSON.stringify({ runId: 'r1', status: 'FAILED' }));
    await acquireRunLock(w.objectStore, 'r2', { now, onProgress });
    expect((await holder()).runId).toBe('r2');
    expect(progress).toEqual(['taking over the lock of run r1: its run ended (FAILED) without giving it back']);

    const later = new Date(now.getTime() + RUN_LOCK_TTL_MS + 1000);
    await acquireRunLock(w.objectStore, 'r3', { now: later, onProgress });
    expect(await holder()).toMatchObject({ runId: 'r3', since: later.toISOString() });
    expect(progress[1]).toBe('taking over the lock of run r2: taken 2026-12-02T10:00:00.000Z, over 12 h ago');
    // Just under the limit, with no ended manifest: refused.
    await expect(acquireRunLock(w.objectStore, 'r4', { now: new Date(later.getTime() + RUN_LOCK_TTL_MS - 1000) })).rejects.toThrow(RunInProgressError);
  });

  it('takes over the lock of a process gone from this machine (a run stopped with Ctrl-C), not of one still running', async () => {
    const gone = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid as number;
    const since = new Date().toISOString();
    await w.objectStore.putText(RUN_LOCK_KEY, JSON.stringify({ runId: 'killed', since, host: hostname(), pid: gone }));
    const progress: string[] = [];
    await acquireRunLock(w.objectStore, 'r2', { onProgress: (m) => progress.push(m) });
    expect(progress).toEqual([`taking over the lock of run killed: its process ${gone} on this machine is gone`]);
    // A live process of this machine (this test's parent), or one of another machine: refused.
    await w.objectStore.putText(RUN_LOCK_KEY, JSON.stringify({ runId: 'alive', since, host: hostname(), pid: process.ppid }));
    await expect(acquireRunLock(w.objectStore, 'r3')).rejects.toThrow(RunInProgressError);
    await w.objectStore.putText(RUN_LOCK_KEY, JSON.stringify({ runId: 'elsewhere', since, host: 'another-machine', pid: gone }));
    await expect(acquireRunLock(w.objectStore, 'r3')).rejects.toThrow(RunInProgressError);
  });

  it('lets exactly one of many runs starting together in', async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => acquireRunLock(w.objectStore, `r${i}`)));
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [`r${i}`] : []));
    expect(winners).toHaveLength(1);
    expect((await holder()).runId).toBe(winners[0]);
    expect(outcomes.filter((o) => o.status === 'rejected').every((o) => (o as PromiseRejectedResult).reason instanceof RunInProgressError)).toBe(true);
  });
});
