import { DEFAULT_CONFIG, Keys, type Alert, type DetectionConfig, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { BudgetedEnsemble, ENSEMBLE_METHOD } from '../detect/ensemble';
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
  const slices = await alertSlices(deps.objectStore, input.runId);
  const parts = [...slices.values()].filter((s) => s.alerts !== undefined).length;
  const changes: AlertChanges[] = [];
  for (const part of await deps.objectStore.list(Keys.alertChanges(input.runId))) {
    changes.push(JSON.parse(await deps.objectStore.getText(part.key)) as AlertChanges);
  }
  await deps.resultsStore.ensureSchema();
  const base = await incrementalBase(deps, input.runId, changes, parts);
  // With a base, the store holds exactly the previous run's alerts: only the fresh ones are written (then those
  // scored again and not found again are deleted, and the carried ones moved to this run); else every alert is.
  const freshIds = base ? new Set(changes.flatMap((c) => c.fresh)) : undefined;
  const ranking = config.ensemble.enabled ? new BudgetedEnsemble(input.runId, config.ensemble.budgetPerDay) : undefined;
  let written = 0;
  let read = 0;
  let candidates = 0;
  let stored = 0;
  // One Detect partition at a time (it holds whole accounts, so whole episodes): its alerts are written and ranked,
  // with the split candidates below the rule's threshold that only the ensemble ranks (never stored), and let go
  // before the next is read — the sink holds one partition and each day's best episodes, not the whole run.
  for (const [, slice] of [...slices.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const alerts = slice.alerts === undefined ? [] : await readAlerts(deps.objectStore, slice.alerts);
    const below = slice.candidates === undefined ? [] : await readAlerts(deps.objectStore, slice.candidates);
    read += alerts.length;
    candidates += below.length;
    stored += new Set(alerts.map((a) => a.alert_id)).size;
    const toWrite = freshIds ? alerts.filter((a) => freshIds.has(a.alert_id)) : alerts;
    if (toWrite.length) written += await deps.resultsStore.upsertAlerts(toWrite);
    ranking?.add(below.length ? alerts.concat(below) : alerts);
  }
  const ensemble = ranking?.result() ?? [];
  written += await deps.resultsStore.upsertAlerts(ensemble);
  stored += ensemble.length;
  let carried = 0;
  if (base) {
    const dropped = changes.flatMap((c) => c.dropped).filter((id) => !freshIds?.has(id));
    if (dropped.length) await deps.resultsStore.deleteAlerts(dropped);
    carried = await deps.resultsStore.restampAlerts(base, input.runId, ENSEMBLE_METHOD);
  }
  // The run wrote every current alert (Detect carries the unchanged keys' over): the rest are no longer current.
  const retired = await deps.resultsStore.retireAlerts(input.runId);
  step.record.reads.push({ key, rows: read });
  step.record.counts.splitCandidates = candidates;
  step.record.writes.push({ key: `${deps.resultsStore.name}:splitwatch_alerts`, rows: written });
  Object.assign(step.record.counts, { written, carried, stored, ensemble: ensemble.length, retired });
  step.record.details = { mode: base ? 'incremental' : 'full', ...(base ? { carriedFrom: base } : {}) };
  await step.finish();
  return { runId: input.runId, written, carried, retired, ensemble: ensemble.length, store: deps.resultsStore.name };
}

/** A Detect partition's files of the run: its alerts and its split candidates (either may be missing). */
interface AlertSlice {
  alerts?: string;
  candidates?: string;
}

/** The run's alert files by Detect partition (`…/part=<partition>.json`; another name is a slice of its own). */
async function alertSlices(objectStore: ObjectStore, runId: string): Promise<Map<string, AlertSlice>> {
  const slices = new Map<string, AlertSlice>();
  const candidatesPrefix = Keys.splitCandidates(runId);
  for (const part of await objectStore.list(Keys.alerts(runId))) {
    const name = /\/part=([^/]+)\.json$/.exec(part.key)?.[1] ?? part.key;
    const slice = slices.get(name) ?? {};
    slices.set(name, slice);
    if (part.key.startsWith(candidatesPrefix)) slice.candidates = part.key;
    else slice.alerts = part.key;
  }
  return slices;
}

async function readAlerts(objectStore: ObjectStore, key: string): Promise<Alert[]> {
  return JSON.parse(await objectStore.getText(key)) as Alert[];
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
