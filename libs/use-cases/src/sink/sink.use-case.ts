import { DEFAULT_CONFIG, Keys, type Alert, type DetectionConfig, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { budgetedEnsemble } from '../detect/ensemble';
import { startStep } from '../audit/step-record';

export interface SinkDeps {
  objectStore: ObjectStore;
  resultsStore: ResultsStore;
}

/**
 * Upserts the run's alerts into the results store (by alert_id, so re-runs never duplicate them), with the
 * ensemble: every method's alerts ranked as one list, within the daily alert budget; then retires the alerts of
 * earlier runs that this one did not write, so the store holds exactly the current alerts (each run's files under
 * `alerts/run=<id>/` keep the history).
 */
export async function sink(
  deps: SinkDeps,
  input: { runId: string; config?: DetectionConfig },
): Promise<{ runId: string; written: number; retired: number; ensemble: number; store: string }> {
  const config = input.config ?? DEFAULT_CONFIG;
  const step = startStep(deps.objectStore, input.runId, 'sink');
  const key = Keys.alerts(input.runId);
  // Every partition's alerts of the run (the Detect Map writes one file per partition), and the split candidates
  // below the rule's threshold that only the ensemble ranks (never stored).
  const alerts: Alert[] = [];
  const candidates: Alert[] = [];
  for (const part of await deps.objectStore.list(key)) {
    const list = JSON.parse(await deps.objectStore.getText(part.key)) as Alert[];
    if (part.key.startsWith(Keys.splitCandidates(input.runId))) candidates.push(...list);
    else alerts.push(...list);
  }
  const ensemble = config.ensemble.enabled
    ? budgetedEnsemble([...alerts, ...candidates], input.runId, config.ensemble.budgetPerDay)
    : [];
  await deps.resultsStore.ensureSchema();
  const written = await deps.resultsStore.upsertAlerts([...alerts, ...ensemble]);
  // The run wrote every current alert (Detect carries the unchanged keys' over): the rest are no longer current.
  const retired = await deps.resultsStore.retireAlerts(input.runId);
  step.record.reads.push({ key, rows: alerts.length });
  step.record.counts.splitCandidates = candidates.length;
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  step.record.counts.written = written;
  step.record.counts.ensemble = ensemble.length;
  step.record.counts.retired = retired;
  await step.finish();
  return { runId: input.runId, written, retired, ensemble: ensemble.length, store: deps.resultsStore.name };
}
