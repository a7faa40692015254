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
    ? applyDailyBudget(ensembleAlerts([...alerts, ...candidates], input.runId), config.ensemble.budgetPerDay)
    : [];
  await deps.resultsStore.ensureSchema();
  const written = await deps.resultsStore.upsertAlerts([...alerts, ...ensemble]);
  step.record.reads.push({ key, rows: alerts.length });
  step.record.counts.splitCandidates = candidates.length;
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  step.record.counts.written = written;
  step.record.counts.ensemble = ensemble.length;
  await step.finish();
  return { runId: input.runId, written, ensemble: ensemble.length, store: deps.resultsStore.name };
}
