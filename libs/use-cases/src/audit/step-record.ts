import { createHash } from 'node:crypto';
import { Keys, type ObjectStore } from '@splitwatch/core';

/** What one pipeline step read and wrote, with counts and checksums: one entry of the run's audit trail. */
export interface StepRecord {
  step: string;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  reads: { key: string; sha256?: string; rows?: number }[];
  writes: { key: string; sha256?: string; rows?: number }[];
  counts: Record<string, number>;
  details?: Record<string, unknown>;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Starts timing a step; `finish` writes its record under `runs/<runId>/steps/<step>.json`. */
export function startStep(objectStore: ObjectStore, runId: string, step: string, now: () => Date = () => new Date()) {
  const started = now();
  const record: StepRecord = {
    step,
    runId,
    startedAt: started.toISOString(),
    finishedAt: '',
    durationMs: 0,
    reads: [],
    writes: [],
    counts: {},
  };
  return {
    record,
    async finish(): Promise<StepRecord> {
      const end = now();
      record.finishedAt = end.toISOString();
      record.durationMs = end.getTime() - started.getTime();
      await objectStore.putText(Keys.stepRecord(runId, step), JSON.stringify(record, null, 2), 'application/json');
      return record;
    },
  };
}

/** The run manifest: every step record of the run, in pipeline order, and the run's status. */
export interface RunManifest {
  runId: string;
  /** `SKIPPED`: the run did nothing, another run holding the data set (`failure` says which). */
  status: 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  writtenAt: string;
  steps: StepRecord[];
  failure?: { step?: string; error: string; cause: string };
}

const STEP_ORDER = ['ingest', 'build-features', 'fit-models', 'detect', 'sink', 'report'];

/** The manifest of a run that did nothing (it recorded no step): written without listing the run's steps. */
export async function writeSkippedManifest(objectStore: ObjectStore, runId: string, failure: RunManifest['failure']): Promise<RunManifest> {
  const manifest: RunManifest = { runId, status: 'SKIPPED', writtenAt: new Date().toISOString(), steps: [], failure };
  await objectStore.putText(Keys.manifest(runId), JSON.stringify(manifest, null, 2), 'application/json');
  return manifest;
}

/** Collects the step records of a run into `runs/<runId>/manifest.json`. */
export async function writeManifest(
  objectStore: ObjectStore,
  runId: string,
  status: RunManifest['status'],
  failure?: RunManifest['failure'],
): Promise<RunManifest> {
  const keys = (await objectStore.list(`runs/${runId}/steps/`)).map((o) => o.key);
  const steps: StepRecord[] = [];
  for (const key of keys) steps.push(JSON.parse(await objectStore.getText(key)) as StepRecord);
  const order = (s: StepRecord) => STEP_ORDER.indexOf(s.step.replace(/-\d+$/, ''));
  steps.sort((a, b) => order(a) - order(b) || (a.step < b.step ? -1 : a.step > b.step ? 1 : 0));
  const manifest: RunManifest = { runId, status, writtenAt: new Date().toISOString(), steps, failure };
  await objectStore.putText(Keys.manifest(runId), JSON.stringify(manifest, null, 2), 'application/json');
  return manifest;
}
