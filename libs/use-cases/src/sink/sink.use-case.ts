import { DEFAULT_CONFIG, Keys, type Alert, type DetectionConfig, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { applyDailyBudget, ensembleAlerts } from '../detect/ensemble';
import { startStep } from '../audit/step-record';

export interface SinkDeps {
  objectStore: ObjectStore;
  resultsStore: ResultsStore;
}

/**
 * Upserts the run's alerts into the results store (by alert_id, so re-runs never duplicate them), with the
 * ensemble: every method's alerts ranked as one list, within the daily alert budget.
 */
export async function sink(
  deps: SinkDeps,
  input: { runId: string; config?: DetectionConfig },
): Promise<{ runId: string; written: number; ensemble: number; store: string }> {
  const config = input.config ?? DEFAULT_CONFIG;
  const step = startStep(deps.objectStore, input.runId, 'sink');
  const key = Keys.alerts(input.runId);
  // Every partition's alerts of the run (the Detect Map writes one file per partition).
  const alerts: Alert[] = [];
  for (const part of await deps.objectStore.list(key)) {
    alerts.push(...(JSON.parse(await deps.objectStore.getText(part.key)) as Alert[]));
  }
  const ensemble = config.ensemble.enabled
    ? applyDailyBudget(ensembleAlerts(alerts, input.runId), config.ensemble.budgetPerDay)
    : [];
  await deps.resultsStore.ensureSchema();
  const written = await deps.resultsStore.upsertAlerts([...alerts, ...ensemble]);
  step.record.reads.push({ key, rows: alerts.length });
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  step.record.counts.written = written;
  step.record.counts.ensemble = ensemble.length;
  await step.finish();
  return { runId: input.runId, written, ensemble: ensemble.length, store: deps.resultsStore.name };
}
