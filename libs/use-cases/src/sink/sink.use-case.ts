import { Keys, type Alert, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { startStep } from '../audit/step-record';

export interface SinkDeps {
  objectStore: ObjectStore;
  resultsStore: ResultsStore;
}

/** Upserts the run's alerts into the results store (by alert_id, so re-runs never duplicate them). */
export async function sink(deps: SinkDeps, input: { runId: string }): Promise<{ runId: string; written: number; store: string }> {
  const step = startStep(deps.objectStore, input.runId, 'sink');
  const key = Keys.alerts(input.runId);
  // Every partition's alerts of the run (the Detect Map writes one file per partition).
  const alerts: Alert[] = [];
  for (const part of await deps.objectStore.list(key)) {
    alerts.push(...(JSON.parse(await deps.objectStore.getText(part.key)) as Alert[]));
  }
  await deps.resultsStore.ensureSchema();
  const written = await deps.resultsStore.upsertAlerts(alerts);
  step.record.reads.push({ key, rows: alerts.length });
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  step.record.counts.written = written;
  await step.finish();
  return { runId: input.runId, written, store: deps.resultsStore.name };
}
