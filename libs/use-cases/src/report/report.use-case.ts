import { Keys, type ObjectStore, type ResultsStore } from '@splitwatch/core';
import { startStep, writeManifest, type StepRecord } from '../audit/step-record';
import { renderReport, REPORT_SUMMARY } from './render-report';

export interface ReportDeps {
  objectStore: ObjectStore;
  resultsStore: ResultsStore;
}

async function stepRecords(objectStore: ObjectStore, runId: string): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  for (const o of await objectStore.list(`runs/${runId}/steps/`)) {
    records.push(JSON.parse(await objectStore.getText(o.key)) as StepRecord);
  }
  return records;
}

/**
 * Renders the dashboard from every alert in the results store (summarised by the store: counts and the top alerts,
 * not a listing of every alert), writes it for the run and as `reports/latest/index.html`, and closes the run's
 * manifest.
 */
export async function report(deps: ReportDeps, input: { runId: string }): Promise<{ runId: string; reportKey: string; alerts: number; manifestKey: string }> {
  const { objectStore, resultsStore } = deps;
  const step = startStep(objectStore, input.runId, 'report');
  const summary = await resultsStore.summarizeAlerts(REPORT_SUMMARY);
  const html = renderReport({
    title: 'splitwatch — transaction splitting alerts',
    generatedAt: new Date().toISOString(),
    runId: input.runId,
    summary,
    steps: await stepRecords(objectStore, input.runId),
  });
  const reportKey = Keys.report(input.runId);
  await objectStore.putText(reportKey, html, 'text/html');
  await objectStore.putText(Keys.reportLatest, html, 'text/html');
  step.record.reads.push({ key: `${resultsStore.name}:splitwatch_alerts`, rows: summary.total });
  step.record.writes.push({ key: reportKey }, { key: Keys.reportLatest });
  step.record.counts.alerts = summary.total;
  await step.finish();
  await writeManifest(objectStore, input.runId, 'SUCCEEDED');
  return { runId: input.runId, reportKey, alerts: summary.total, manifestKey: Keys.manifest(input.runId) };
}

/** Records a failed run: the error caught by the state machine goes to `runs/<runId>/failure.json` and the manifest. */
export async function recordFailure(
  deps: { objectStore: ObjectStore },
  input: { runId: string; error: { Error?: string; Cause?: string } },
): Promise<{ runId: string; failureKey: string }> {
  const failure = { error: input.error.Error ?? 'Unknown', cause: input.error.Cause ?? '' };
  const failureKey = `runs/${input.runId}/failure.json`;
  await deps.objectStore.putText(failureKey, JSON.stringify({ ...failure, at: new Date().toISOString() }, null, 2), 'application/json');
  await writeManifest(deps.objectStore, input.runId, 'FAILED', failure);
  return { runId: input.runId, failureKey };
}
