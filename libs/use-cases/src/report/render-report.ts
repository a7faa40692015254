import type { AlertSummary, AlertSummaryOptions } from '@splitwatch/core';
import type { StepRecord } from '../audit/step-record';
import { ENSEMBLE_METHOD } from '../detect/ensemble';

export interface ReportData {
  title: string;
  generatedAt: string;
  runId: string | null;
  /** The store's alerts, summarised by the store with {@link REPORT_SUMMARY}. */
  summary: AlertSummary;
  steps: StepRecord[];
  /** The top alerts' member transactions from the lake, by `_id` (absent: only the ids are shown). */
  members?: ReadonlyMap<string, MemberTransaction>;
  /** The run's ingest manifests (`runs/<runId>/ingest/*.json`): what became of each file it was given. */
  ingest?: IngestManifest[];
}

/** The fields of a run's ingest manifest the dashboard shows (a read, an unchanged or a withdrawn source). */
export interface IngestManifest {
  source: string;
  status: string;
  reason?: string;
  read?: number;
  accepted?: number;
  duplicates?: number;
  rejected?: number;
  rejectedByReason?: Record<string, number>;
  quarantineKey?: string | null;
  /** Withdrawn: the curated rows removed (null when unknown). */
  rows?: number | null;
}

const count = (n: number | undefined | null) => (n === undefined || n === null ? '—' : n.toLocaleString('en-US'));

/** What the run did with each file: its accounting (read = accepted + duplicates + rejected), reasons, quarantine. */
function ingestSection(manifests: IngestManifest[] | undefined): string {
  if (!manifests?.length) return '';
  // A scheduled run given the whole input folder skips most files: they are listed together, folded.
  const unchanged = manifests.filter((m) => m.status === 'unchanged').map((m) => m.source).sort();
  const folded = unchanged.length
    ? `<tr><td colspan="8"><details><summary>${unchanged.length.toLocaleString('en-US')} file(s) unchanged since they were ingested, not read again</summary>` +
      `<div class="mono">${unchanged.map(esc).join('<br>')}</div></details></td></tr>`
    : '';
  const rows = manifests
    .filter((m) => m.status !== 'unchanged')
    .sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0))
    .map((m) => {
      const reasons = Object.entries(m.rejectedByReason ?? {})
        .sort((a, b) => b[1] - a[1])
        .map(([r, n]) => `${esc(r)} ${n.toLocaleString('en-US')}`)
        .join('<br>');
      const status = m.status === 'withdrawn' ? `withdrawn: ${count(m.rows)} curated rows removed` : m.status;
      return (
        `<tr><td class="mono">${esc(m.source)}</td><td>${esc(status)}${m.reason ? `<br><small>${esc(m.reason)}</small>` : ''}</td>` +
        `<td class="num">${count(m.read)}</td><td class="num">${count(m.accepted)}</td><td class="num">${count(m.duplicates)}</td>` +
        `<td class="num">${count(m.rejected)}</td><td>${reasons}</td><td class="mono">${esc(m.quarantineKey ?? '')}</td></tr>`
      );
    })
    .join('');
  return (
    `<section id="ingest"><h2>Files of this run</h2><table><thead><tr><th>file</th><th>status</th><th>read</th><th>accepted</th>` +
    `<th>duplicates</th><th>rejected</th><th>rejected by reason</th><th>quarantine</th></tr></thead><tbody>${rows}${folded}</tbody></table></section>`
  );
}

/** One member transaction of an alert, as the dashboard shows it (texts as the lake holds them). */
export interface MemberTransaction {
  tx_id: string;
  transaction_date: string;
  transaction_amount: string;
  merchant_id: string;
  subsidiary: string;
  transaction_type: string;
}

/** An amount as the lake's DECIMAL(24,8) text, shown with two decimals unless more are set. */
function shownAmount(amount: string): string {
  const m = /^(-?\d+)(?:\.(\d*?))0*$/.exec(amount);
  if (!m) return amount;
  const decimals = (m[2] ?? '').padEnd(2, '0');
  return `${m[1]}.${decimals}`;
}

/** The members of one alert: a table of their time, amount, merchant and branch, or their ids where unknown. */
function membersOf(ids: string[], members: ReadonlyMap<string, MemberTransaction> | undefined): string {
  const found = members ? ids.map((id) => members.get(id)) : [];
  if (!members || found.some((m) => m === undefined)) {
    const missing = members ? ` (${found.filter((m) => m === undefined).length} not in the lake)` : '';
    return `<details><summary>${ids.length} ids${missing}</summary><div class="mono">${ids.map(esc).join('<br>')}</div></details>`;
  }
  const rows = (found as MemberTransaction[])
    .map(
      (m) =>
        `<tr><td class="mono">${esc(m.transaction_date.replace(/\.0+$/, ''))}</td><td class="num">${esc(shownAmount(m.transaction_amount))}</td>` +
        `<td class="mono">${esc(m.merchant_id)}</td><td class="mono">${esc(m.subsidiary)}</td><td>${esc(m.transaction_type)}</td>` +
        `<td class="mono">${esc(m.tx_id)}</td></tr>`,
    )
    .join('');
  return (
    `<details><summary>${ids.length} transactions</summary><table class="members"><tr><th>time</th><th>amount</th>` +
    `<th>merchant</th><th>branch</th><th>type</th><th>_id</th></tr>${rows}</table></details>`
  );
}

/**
 * What the dashboard asks the results store for: the 15 merchants and clients with most alerts, and the 50 best
 * alerts of the ensemble (analysts start from its ranked list across methods), or of every method without one.
 */
export const REPORT_SUMMARY: AlertSummaryOptions = { limit: 15, topN: 50, preferMethod: ENSEMBLE_METHOD };

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function barChart(title: string, rows: [string, number][], id: string): string {
  const max = Math.max(1, ...rows.map((r) => r[1]));
  const rowH = 22;
  const labelW = 150;
  const barW = 360;
  const h = rows.length * rowH + 10;
  const bars = rows
    .map(([label, n], i) => {
      const w = Math.max(1, Math.round((n / max) * barW));
      const y = i * rowH + 5;
      const short = label.length > 20 ? `${label.slice(0, 8)}…${label.slice(-8)}` : label;
      return (
        `<text x="${labelW - 6}" y="${y + 15}" text-anchor="end"><title>${esc(label)}</title>${esc(short)}</text>` +
        `<rect x="${labelW}" y="${y + 2}" width="${w}" height="${rowH - 6}" rx="2"></rect>` +
        `<text x="${labelW + w + 6}" y="${y + 15}">${n}</text>`
      );
    })
    .join('');
  return (
    `<section class="chart" id="${id}"><h2>${esc(title)}</h2>` +
    (rows.length === 0
      ? '<p class="empty">No alerts.</p>'
      : `<svg role="img" aria-label="${esc(title)}" width="${labelW + barW + 60}" height="${h}">${bars}</svg>`) +
    `</section>`
  );
}

/**
 * Renders the analysts' dashboard as one self-contained HTML page (no scripts, no external assets):
 * run summary, alert counts by method, merchant, client and hour of day, and the top alerts with their
 * reasons and member transactions.
 */
export function renderReport(data: ReportData): string {
  const { summary } = data;
  const hours = new Map<string, number>();
  for (let h = 0; h < 24; h++) hours.set(String(h).padStart(2, '0'), 0);
  for (const [h, n] of summary.byHour) hours.set(h, n);
  const byHour = [...hours.entries()].map(([h, n]) => [`${h}:00`, n] as [string, number]);
  const steps = data.steps
    .map(
      (s) =>
        `<tr><td>${esc(s.step)}</td><td>${(s.durationMs / 1000).toFixed(1)} s</td><td>${esc(
          Object.entries(s.counts)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        )}</td></tr>`,
    )
    .join('');
  const ensembleRanked = summary.byMethod.some(([method]) => method === REPORT_SUMMARY.preferMethod);
  const alertRows = (alerts: typeof summary.top) =>
    alerts
      .map(
        (a, i) =>
          `<tr><td>${i + 1}</td><td>${esc(a.method)}</td><td class="mono" title="${esc(a.user_id)}">${esc(a.account_number ?? a.user_id).slice(0, 12)}…</td>` +
          `<td>${esc(a.direction)}</td><td>${esc(a.window_start)}<br>${esc(a.window_end)}</td><td class="num">${a.n_tx}</td>` +
          `<td class="num">${esc(a.total_amount)}</td><td class="num">${a.score.toFixed(2)}</td><td>${esc(a.reasons)}</td>` +
          `<td>${membersOf(a.transaction_ids, data.members)}</td></tr>`,
      )
      .join('');
  const kind = ensembleRanked ? 'ensemble alerts (ranked across methods)' : 'alerts';
  const head =
    '<table><thead><tr><th>#</th><th>method</th><th>account</th><th>direction</th><th>window</th><th>n</th><th>total</th><th>score</th><th>reasons</th><th>transactions</th></tr></thead>';
  const empty = '<tr><td colspan="10" class="empty">No alerts.</td></tr>';
  const latestDay = summary.latest[0]?.window_end.slice(0, 10);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fafbfc}
h1{margin:0 0 4px}h2{font-size:16px;margin:0 0 8px}.sub{color:#57606a;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:16px}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-bottom:16px}
svg text{font-size:12px;fill:#1b1f24}svg rect{fill:#cf222e}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:left;vertical-align:top}
.num{text-align:right;font-variant-numeric:tabular-nums}.mono{font-family:ui-monospace,monospace;font-size:12px}
.members td,.members th{padding:2px 6px;font-size:12px;white-space:nowrap}
.kpi{display:inline-block;margin-right:24px}.kpi b{font-size:22px;display:block}.empty{color:#57606a}
</style></head><body>
<h1>${esc(data.title)}</h1>
<div class="sub">Generated ${esc(data.generatedAt)}${data.runId ? ` · run ${esc(data.runId)}` : ''} · ${summary.total} alerts</div>
<section id="summary"><h2>Summary</h2>
<div class="kpi"><b>${summary.total}</b>alerts</div>
${summary.byDirection.map(([d, n]) => `<div class="kpi"><b>${n}</b>${esc(d)}</div>`).join('')}
${steps ? `<table><thead><tr><th>step</th><th>time</th><th>counts</th></tr></thead><tbody>${steps}</tbody></table>` : ''}
</section>
${ingestSection(data.ingest)}
<div class="grid">
${barChart('Alerts by method', summary.byMethod, 'by-method')}
${barChart(`Alerts by merchant (top ${REPORT_SUMMARY.limit})`, summary.byMerchant, 'by-merchant')}
${barChart(`Alerts by client (top ${REPORT_SUMMARY.limit})`, summary.byUser, 'by-client')}
${barChart('Alerts by hour of day (window end)', byHour, 'by-hour')}
</div>
${latestDay ? `<section id="latest-day"><h2>Latest day (${esc(latestDay)}): ${summary.latest.length} ${kind}</h2>\n${head}\n<tbody>${alertRows(summary.latest)}</tbody></table></section>` : ''}
<section id="top-alerts"><h2>Top ${summary.top.length} ${kind}, every day</h2>
${head}
<tbody>${alertRows(summary.top) || empty}</tbody></table></section>
</body></html>
`;
}
