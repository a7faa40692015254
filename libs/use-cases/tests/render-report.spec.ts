import type { Alert, AlertSummary } from '@splitwatch/core';
import { evaluate, labelsFromRows, renderEvalPage, renderReport } from '../src';

const alert = (i: number, over: Partial<Alert> = {}): Alert => ({
  alert_id: `a${i}`,
  run_id: 'r1',
  method: 'rule:sum',
  entity_type: 'account',
  user_id: 'u',
  account_number: `acc${i}`,
  merchant_id: 'm1',
  direction: 'DEBITO',
  window_start: '2021-01-01 09:00:00',
  window_end: '2021-01-01 10:30:00',
  n_tx: 3,
  total_amount: '3000.00000000',
  score: 1.5,
  threshold: 3000,
  reasons: '3 parts <script>',
  transaction_ids: ['t1', 't2', 't3'],
  ...over,
});

const summary = (over: Partial<AlertSummary> = {}): AlertSummary => ({
  total: 0,
  byMethod: [],
  byDirection: [],
  byHour: [],
  byMerchant: [],
  byUser: [],
  top: [],
  latest: [],
  ...over,
});

/** The dashboard of a summary (empty unless given), run r1. */
const render = (data: Partial<Parameters<typeof renderReport>[0]>) =>
  renderReport({ title: 'T', generatedAt: 'now', runId: 'r1', summary: summary(), steps: [], ...data });

describe('renderReport', () => {
  it('shows counts by method, merchant, client and hour, and the top alerts, escaping text', () => {
    const html = renderReport({
      title: 'T',
      generatedAt: 'now',
      runId: 'r1',
      summary: summary({
        total: 3,
        byMethod: [['rule:sum', 2], ['rule:count', 1]],
        byDirection: [['DEBITO', 3]],
        byHour: [['10', 2], ['23', 1]],
        byMerchant: [['m1', 3]],
        byUser: [['u<b>', 2], ['u2', 1]],
        top: [alert(1), alert(2, { method: 'rule:count' }), alert(3)],
      }),
      steps: [],
    });
    expect(html).toContain('Alerts by method');
    expect(html).toContain('Alerts by merchant (top 15)');
    expect(html).toContain('Alerts by client (top 15)');
    expect(html).toContain('u&lt;b&gt;');
    const hours = html.slice(html.indexOf('id="by-hour"'), html.indexOf('</section>', html.indexOf('id="by-hour"')));
    // Every hour of the day, with the store's counts and zeros elsewhere.
    expect(hours.match(/<rect /g)).toHaveLength(24);
    expect(hours).toContain('<title>10:00</title>');
    expect(hours.match(/>2<\/text>/g)).toHaveLength(1);
    expect(html).toContain('<b>3</b>alerts');
    expect(html).toContain('3 parts &lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(html).toContain('Top 3 alerts');
    expect(html.match(/<tr><td>\d+<\/td><td>rule:/g)).toHaveLength(3);
  });

  it('titles the top list as the ensemble’s when the store holds one', () => {
    const html = renderReport({
      title: 'T',
      generatedAt: 'now',
      runId: 'r1',
      summary: summary({
        total: 2,
        byMethod: [['ensemble', 1], ['rule:sum', 1]],
        top: [alert(2, { method: 'ensemble', score: 2, reasons: 'rule:split — x' })],
      }),
      steps: [],
    });
    expect(html).toContain('Top 1 ensemble alerts (ranked across methods)');
    expect(html.match(/<tr><td>\d+<\/td><td>ensemble/g)).toHaveLength(1);
  });

  it("shows each top alert's member transactions from the lake, or their ids when some are not there", () => {
    const member = (id: string, amount: string) => ({
      tx_id: id,
      transaction_date: '2021-01-01 09:00:00',
      transaction_amount: amount,
      merchant_id: 'm<1>',
      subsidiary: 's1',
      transaction_type: 'DEBITO',
    });
    const members = new Map([
      ['t1', member('t1', '1000.50000000')],
      ['t2', { ...member('t2', '999.00000000'), transaction_date: '2021-01-01 09:05:00.000' }],
      ['t3', member('t3', '5.94445501')],
    ]);
    const html = render({
      summary: summary({ total: 2, top: [alert(1), alert(2, { transaction_ids: ['t1', 'gone'] })] }),
      members,
    });
    expect(html).toContain(
      '<details><summary>3 transactions</summary><table class="members"><tr><th>time</th><th>amount</th><th>merchant</th><th>branch</th><th>type</th><th>_id</th></tr>' +
        '<tr><td class="mono">2021-01-01 09:00:00</td><td class="num">1000.50</td><td class="mono">m&lt;1&gt;</td><td class="mono">s1</td><td>DEBITO</td><td class="mono">t1</td></tr>',
    );
    // Athena's timestamp text keeps its milliseconds; whole seconds are shown without them.
    expect(html).toContain('<tr><td class="mono">2021-01-01 09:05:00</td><td class="num">999.00</td>');
    expect(html).toContain('<td class="num">5.94445501</td>');
    expect(html).toContain('<details><summary>2 ids (1 not in the lake)</summary><div class="mono">t1<br>gone</div></details>');
  });

  it("shows what the run did with each file: its accounting, rejections by reason, quarantine, or its withdrawal", () => {
    const html = render({
      summary: summary(),
      ingest: [
        { source: 'raw/b<.csv', status: 'withdrawn', rows: 1200 },
        {
          source: 'raw/a.csv',
          status: 'ingested',
          reason: 'new source',
          read: 10_000,
          accepted: 9_990,
          duplicates: 4,
          rejected: 6,
          rejectedByReason: { 'transaction_amount: not a positive decimal': 2, 'transaction_date: unparseable timestamp': 4 },
          quarantineKey: 'quarantine/run=r1/abc.csv',
        },
        { source: 'raw/c.csv', status: 'unchanged', reason: 'unchanged since run r0' },
      ],
    });
    expect(html).toContain('<h2>Files of this run</h2>');
    expect(html).toContain(
      '<tr><td class="mono">raw/a.csv</td><td>ingested<br><small>new source</small></td><td class="num">10,000</td><td class="num">9,990</td>' +
        '<td class="num">4</td><td class="num">6</td><td>transaction_date: unparseable timestamp 4<br>transaction_amount: not a positive decimal 2</td>' +
        '<td class="mono">quarantine/run=r1/abc.csv</td></tr>',
    );
    expect(html).toContain('<tr><td class="mono">raw/b&lt;.csv</td><td>withdrawn: 1,200 curated rows removed</td><td class="num">—</td>');
    // Unchanged files (a scheduled run given the whole folder) are folded into one line.
    expect(html).toContain(
      '<tr><td colspan="8"><details><summary>1 file(s) unchanged since they were ingested, not read again</summary><div class="mono">raw/c.csv</div></details></td></tr>',
    );
    // Files in key order.
    expect(html.indexOf('raw/a.csv')).toBeLessThan(html.indexOf('raw/b&lt;.csv'));
  });

  it("puts the latest day's alerts first (what a daily run brings), then the best of every day", () => {
    const html = render({
      summary: summary({
        total: 3,
        byMethod: [['ensemble', 3]],
        top: [alert(1, { method: 'ensemble', score: 9 }), alert(2, { method: 'ensemble', score: 8 })],
        latest: [alert(3, { method: 'ensemble', score: 1, window_end: '2021-01-09 08:00:00' })],
      }),
    });
    const latest = html.indexOf('<h2>Latest day (2021-01-09): 1 ensemble alerts (ranked across methods)</h2>');
    const top = html.indexOf('<h2>Top 2 ensemble alerts (ranked across methods), every day</h2>');
    expect(latest).toBeGreaterThan(0);
    expect(top).toBeGreaterThan(latest);
    expect(html.slice(latest, top)).toContain('acc3');
    expect(html.slice(latest, top)).not.toContain('acc1');
    // No latest day without alerts.
    expect(renderReport({ title: 'T', generatedAt: 'now', runId: null, summary: summary(), steps: [] })).not.toContain('Latest day');
  });

  it('says so when there are no alerts', () => {
    const html = renderReport({ title: 'T', generatedAt: 'now', runId: null, summary: summary(), steps: [] });
    expect(html).toContain('No alerts.');
  });
});

describe('renderEvalPage', () => {
  it('shows every method with the goal axes, the budgets and the recall of each scenario tag', () => {
    const labels = labelsFromRows([
      { _id: 't1', episode_id: 'E1', scenario: 'equal|fast' },
      { _id: 't2', episode_id: 'E1', scenario: 'equal|fast' },
      { _id: 'x1', episode_id: 'E2', scenario: 'slow' },
      { _id: 'x2', episode_id: 'E2', scenario: 'slow' },
    ]);
    const ev = evaluate([alert(1, { method: 'rule:split', transaction_ids: ['t1', 't2'] }), alert(2, { transaction_ids: ['z'] })], labels, [1]);
    const html = renderEvalPage(ev);
    expect(html).toContain('<th>precision at recall ≥ 0.95</th><th>recall at precision ≥ 0.9</th>');
    // rule:split finds E1 of 2 episodes: precision 100%, recall 50%, never reaches 95% recall.
    expect(html).toContain('<tr><td>rule:split</td><td class="num">1</td><td class="num">100.0%</td><td class="num">50.0%</td><td class="num">0.667</td><td class="num">—</td><td class="num">50.0%</td>');
    expect(html).toMatch(/<tr><td>slow<\/td><td class="num">0\.0% <small>\(0\/1\)<\/small><\/td>/);
    expect(html).toContain('<tr><td>fast</td><td class="num">100.0% <small>(1/1)</small></td><td class="num">0.0% <small>(0/1)</small></td>');
  });
});
