import { DEFAULT_CONFIG, Keys, type Alert, type DetectionConfig, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { budgetedEnsemble, ENSEMBLE_METHOD } from '../detect/ensemble';
import type { AlertChanges } from '../detect/detect.use-case';
import { getTextIfPresent } from '../optional-object';
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
): Promise<{ runId: string; written: number; carried: number; retired: number; ensemble: number; store: string }> {
  const config = input.config ?? DEFAULT_CONFIG;
  const step = startStep(deps.objectStore, input.runId, 'sink');
  const key = Keys.alerts(input.runId);
  // Every partition's alerts of the run (the Detect Map writes one file per partition), and the split candidates
  // below the rule's threshold that only the ensemble ranks (never stored).
  const alerts: Alert[] = [];
  const candidates: Alert[] = [];
  let parts = 0;
  for (const part of await deps.objectStore.list(key)) {
    const list = JSON.parse(await deps.objectStore.getText(part.key)) as Alert[];
    if (part.key.startsWith(Keys.splitCandidates(input.runId))) candidates.push(...list);
    else {
      alerts.push(...list);
      parts++;
    }
  }
  const changes: AlertChanges[] = [];
  for (const part of await deps.objectStore.list(Keys.alertChanges(input.runId))) {
    changes.push(JSON.parse(await deps.objectStore.getText(part.key)) as AlertChanges);
  }
  const ensemble = config.ensemble.enabled
    ? budgetedEnsemble([...alerts, ...candidates], input.runId, config.ensemble.budgetPerDay)
    : [];
  await deps.resultsStore.ensureSchema();
  const stored = new Set([...alerts, ...ensemble].map((a) => a.alert_id)).size;
  const base = await incrementalBase(deps, input.runId, changes, parts);
  let written: number;
  let carried = 0;
  if (base) {
    // The store holds exactly the previous run's alerts: write the fresh ones and the ensemble, delete those scored
    // again and not found again, and move the carried ones to this run.
    const freshIds = new Set(changes.flatMap((c) => c.fresh));
    written = await deps.resultsStore.upsertAlerts([...alerts.filter((a) => freshIds.has(a.alert_id)), ...ensemble]);
    const dropped = changes.flatMap((c) => c.dropped).filter((id) => !freshIds.has(id));
    if (dropped.length) await deps.resultsStore.deleteAlerts(dropped);
    carried = await deps.resultsStore.restampAlerts(base, input.runId, ENSEMBLE_METHOD);
  } else written = await deps.resultsStore.upsertAlerts([...alerts, ...ensemble]);
  // The run wrote every current alert (Detect carries the unchanged keys' over): the rest are no longer current.
  const retired = await deps.resultsStore.retireAlerts(input.runId);
  step.record.reads.push({ key, rows: alerts.length });
  step.record.counts.splitCandidates = candidates.length;
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  Object.assign(step.record.counts, { written, carried, stored, ensemble: ensemble.length, retired });
  step.record.details = { mode: base ? 'incremental' : 'full', ...(base ? { carriedFrom: base } : {}) };
  await step.finish();
  return { runId: input.runId, written, carried, retired, ensemble: ensemble.length, store: deps.resultsStore.name };
}

/**
 * The run the store can be brought forward from, or undefined (then every alert is upserted): every Detect slice
 * carried its alerts from the same earlier run, whose sink recorded how many alerts it left in the store, and the
 * store holds exactly that many, all of that run (nothing failed or ran in between).
 */
async function incrementalBase(deps: SinkDeps, runId: string, changes: AlertChanges[], parts: number): Promise<string | undefined> {
  if (changes.length === 0 || changes.length !== parts) return undefined;
  const base = changes[0].previousRunId;
  if (base === runId || changes.some((c) => c.previousRunId !== base)) return undefined;
  const record = await getTextIfPresent(deps.objectStore, Keys.stepRecord(base, 'sink'));
  if (record === undefined) return undefined;
  const stored = (JSON.parse(record) as { counts?: Record<string, unknown> }).counts?.stored;
  if (typeof stored !== 'number') return undefined;
  const { total, ofRun } = await deps.resultsStore.alertCounts(base);
  return total === stored && ofRun === stored ? base : undefined;
}
