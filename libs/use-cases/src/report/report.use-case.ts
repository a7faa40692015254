import { Keys, sqlLiteral, type Alert, type AlertSummary, type ObjectStore, type ResultsStore, type SqlEngine } from '@splitwatch/core';
import { startStep, writeManifest, type StepRecord } from '../audit/step-record';
import { registerTransactions } from '../features/build-features.use-case';
import { renderSql } from '../sql-text';
import { renderReport, REPORT_SUMMARY, type IngestManifest, type MemberTransaction } from './render-report';

export interface ReportDeps {
  objectStore: ObjectStore;
  resultsStore: ResultsStore;
  /** The lake, for the top alerts' member transactions (without it the dashboard lists their ids only). */
  sqlEngine?: SqlEngine;
}

/**
 * The member transactions of the dashboard's top alerts: their ids, read only from the days their windows cover
 * (`dt`, the partition column, so Athena reads those days' files alone).
 */
export const MEMBER_TRANSACTIONS_SQL = `SELECT tx_id, CAST(transaction_date AS VARCHAR) AS transaction_date,
       CAST(transaction_amount AS VARCHAR) AS transaction_amount, merchant_id, subsidiary, transaction_type
FROM transactions
WHERE dt IN ({{days}}) AND tx_id IN ({{ids}})`;

const DAY_MS = 86_400_000;

/** Every day from the first member's to the last member's, of every alert (`YYYY-MM-DD`). */
function daysOf(alerts: Alert[]): string[] {
  const days = new Set<string>();
  for (const a of alerts) {
    const last = Date.parse(`${a.window_end.slice(0, 10)}T00:00:00Z`);
    for (let t = Date.parse(`${a.window_start.slice(0, 10)}T00:00:00Z`); t <= last; t += DAY_MS) {
      days.add(new Date(t).toISOString().slice(0, 10));
    }
  }
  return [...days].sort();
}

/** The member transactions of `alerts` in the lake, by `_id` (those no longer curated are left out). */
export async function memberTransactions(sqlEngine: SqlEngine, alerts: Alert[]): Promise<Map<string, MemberTransaction>> {
  const ids = [...new Set(alerts.flatMap((a) => a.transaction_ids))];
  const members = new Map<string, MemberTransaction>();
  if (ids.length === 0) return members;
  await registerTransactions(sqlEngine);
  const sql = renderSql(MEMBER_TRANSACTIONS_SQL, {
    days: daysOf(alerts).map(sqlLiteral).join(', '),
    ids: ids.map(sqlLiteral).join(', '),
  });
  for (const r of await sqlEngine.query(sql)) {
    const m: MemberTransaction = {
      tx_id: String(r.tx_id),
      transaction_date: String(r.transaction_date),
      transaction_amount: String(r.transaction_amount),
      merchant_id: String(r.merchant_id),
      subsidiary: String(r.subsidiary),
      transaction_type: String(r.transaction_type),
    };
    members.set(m.tx_id, m);
  }
  return members;
}

/** The run's ingest manifests: one per file it was given (read, unchanged or withdrawn). */
export async function ingestManifests(objectStore: ObjectStore, runId: string): Promise<IngestManifest[]> {
  const out: IngestManifest[] = [];
  for (const o of await objectStore.list(`runs/${runId}/ingest/`)) {
    if (o.key.endsWith('.json')) out.push(JSON.parse(await objectStore.getText(o.key)) as IngestManifest);
  }
  return out;
}

async function stepRecords(objectStore: ObjectStore, runId: string): Promise<StepRecord[]> {
  const records: StepRecord[] = [];
  for (const o of await objectStore.list(`runs/${runId}/steps/`)) {
    records.push(JSON.parse(await objectStore.getText(o.key)) as StepRecord);
  }
  return records;
}

/**
 * The dashboard of the store's alerts with the given run's steps and files: the store's summary, the shown alerts'
 * members from the lake (with a SQL engine), the run's ingest manifests. The Report step and `splitwatch report`.
 */
export async function renderDashboard(
  deps: ReportDeps,
  runId: string | null,
  steps: StepRecord[],
): Promise<{ html: string; summary: AlertSummary; members?: Map<string, MemberTransaction> }> {
  const summary = await deps.resultsStore.summarizeAlerts(REPORT_SUMMARY);
  const members = deps.sqlEngine ? await memberTransactions(deps.sqlEngine, [...summary.latest, ...summary.top]) : undefined;
  const html = renderReport({
    title: 'splitwatch — transaction splitting alerts',
    generatedAt: new Date().toISOString(),
    runId,
    summary,
    steps,
    ...(members ? { members } : {}),
    ...(runId ? { ingest: await ingestManifests(deps.objectStore, runId) } : {}),
  });
  return { html, summary, ...(members ? { members } : {}) };
}

/**
 * Renders the dashboard from every alert in the results store (summarised by the store: counts and the top alerts,
 * not a listing of every alert), writes it for the run and as `reports/latest/index.html`, and closes the run's
 * manifest.
 */
export async function report(deps: ReportDeps, input: { runId: string }): Promise<{ runId: string; reportKey: string; alerts: number; manifestKey: string }> {
  const { objectStore, resultsStore } = deps;
  const step = startStep(objectStore, input.runId, 'report');
  const { html, summary, members } = await renderDashboard(deps, input.runId, await stepRecords(objectStore, input.runId));
  const reportKey = Keys.report(input.runId);
  await objectStore.putText(reportKey, html, 'text/html');
  await objectStore.putText(Keys.reportLatest, html, 'text/html');
  step.record.reads.push({ key: `${resultsStore.name}:splitwatch_alerts`, rows: summary.total });
  if (members) step.record.reads.push({ key: Keys.curated, rows: members.size });
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
