import { hostname } from 'node:os';
import { Keys, SplitwatchError, type ObjectStore } from '@splitwatch/core';
import { getTextIfPresent } from '../optional-object';

/*
 * One run at a time on a data set. Two runs at once would replace each other's curated files and feature months
 * mid-way and retire each other's alerts (the sink keeps only what its run wrote). An hourly schedule whose run takes
 * longer than an hour, or a withdrawal started during a scheduled run, would do just that. So the pipeline's first
 * Task takes `runs/lock.json` with a conditional write (S3 If-None-Match, an exclusive create locally) and the last
 * (Report, or RecordFailure when a step failed) gives it back. A run that finds the lock held stops before changing
 * anything, with an error naming the run that holds it.
 */

export const RUN_LOCK_KEY = 'runs/lock.json';

/**
 * A lock older than this is taken over: its run died without giving it back (a year of the real log takes under an
 * hour from scratch).
 */
export const RUN_LOCK_TTL_MS = 12 * 3_600_000;

/** Another run holds the data set. */
export class RunInProgressError extends SplitwatchError {}

interface RunLock {
  runId: string;
  since: string;
  /** The machine and process that took it: a lock of a process gone from this machine is taken over. */
  host?: string;
  pid?: number;
}

/** Whether a process of this machine is still running (signal 0 only checks). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(store: ObjectStore): Promise<RunLock | undefined> {
  const text = await getTextIfPresent(store, RUN_LOCK_KEY);
  if (text === undefined) return undefined;
  try {
    const lock = JSON.parse(text) as RunLock;
    return typeof lock?.runId === 'string' && typeof lock.since === 'string' ? lock : { runId: '(unreadable lock)', since: '1970-01-01T00:00:00.000Z' };
  } catch {
    return { runId: '(unreadable lock)', since: '1970-01-01T00:00:00.000Z' };
  }
}

/** Why a held lock may be taken over, or undefined: its run finished (its manifest says so) or it is past the TTL. */
async function staleBecause(store: ObjectStore, lock: RunLock, now: Date): Promise<string | undefined> {
  const age = now.getTime() - Date.parse(lock.since);
  if (!(age < RUN_LOCK_TTL_MS)) return `taken ${lock.since}, over ${RUN_LOCK_TTL_MS / 3_600_000} h ago`;
  // A laptop run stopped with Ctrl-C writes no manifest: its process is gone.
  if (lock.host === hostname() && typeof lock.pid === 'number' && lock.pid !== process.pid && !processAlive(lock.pid)) {
    return `its process ${lock.pid} on this machine is gone`;
  }
  const manifest = await getTextIfPresent(store, Keys.manifest(lock.runId));
  if (manifest === undefined) return undefined;
  try {
    const status = (JSON.parse(manifest) as { status?: string }).status;
    return status === 'SUCCEEDED' || status === 'FAILED' ? `its run ended (${status}) without giving it back` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the data set for `runId`, or throws RunInProgressError naming the run that holds it. Taking it again for the
 * same run (a retried first Task) succeeds; a lock whose run ended or that is older than {@link RUN_LOCK_TTL_MS} is
 * taken over (said through `onProgress`).
 */
export async function acquireRunLock(
  store: ObjectStore,
  runId: string,
  options: { now?: Date; onProgress?: (message: string) => void } = {},
): Promise<void> {
  const now = options.now ?? new Date();
  for (let attempt = 0; attempt < 3; attempt++) {
    const lock: RunLock = { runId, since: now.toISOString(), host: hostname(), pid: process.pid };
    if (await store.putTextIfAbsent(RUN_LOCK_KEY, JSON.stringify(lock), 'application/json')) return;
    const held = await readLock(store);
    if (!held) continue; // given back in between: try again
    if (held.runId === runId) return;
    const stale = await staleBecause(store, held, now);
    if (!stale) {
      throw new RunInProgressError(
        `Run ${held.runId} has been working on this data since ${held.since}: run ${runId} stops before changing ` +
          `anything. Start it again when that run has ended (if it is known to have died, delete ${RUN_LOCK_KEY}).`,
      );
    }
    options.onProgress?.(`taking over the lock of run ${held.runId}: ${stale}`);
    // Still the same lock (not one a third run took meanwhile)? Then it goes, and the conditional write decides.
    const again = await readLock(store);
    if (again?.runId === held.runId && again.since === held.since) await store.delete([RUN_LOCK_KEY]);
  }
  throw new RunInProgressError(`Run ${runId} could not take ${RUN_LOCK_KEY}: other runs keep taking it`);
}

/** Gives the data set back, if `runId` holds it (a run that was refused the lock leaves the holder's alone). */
export async function releaseRunLock(store: ObjectStore, runId: string): Promise<void> {
  const held = await readLock(store);
  if (held?.runId === runId) await store.delete([RUN_LOCK_KEY]);
}
