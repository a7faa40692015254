import { QUALITY_GOAL, type Evaluation } from '../eval/evaluate';

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const COLORS = ['#cf222e', '#0969da', '#1a7f37', '#8250df', '#bf8700', '#57606a', '#e16f24'];

function prChart(ev: Evaluation): string {
  const W = 420;
  const H = 300;
  const pad = 40;
  const x = (r: number) => pad + r * (W - pad - 10);
  const y = (p: number) => H - pad - p * (H - pad - 10);
  const lines = ev.methods
    .map((m, i) => {
      const pts = m.curve.filter((_, j) => j % Math.max(1, Math.floor(m.curve.length / 400)) === 0 || j === m.curve.length - 1);
      const d = pts.map((p, j) => `${j ? 'L' : 'M'}${x(p.recall).toFixed(1)},${y(p.precision).toFixed(1)}`).join('');
      return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"><title>${esc(m.method)}</title></path>`;
    })
    .join('');
  const legend = ev.methods
    .map((m, i) => `<text x="${W + 10}" y="${20 + i * 18}" fill="${COLORS[i % COLORS.length]}">${esc(m.method)}</text>`)
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<text x="${x(t)}" y="${H - pad + 16}" text-anchor="middle">${t}</text><text x="${pad - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>` +
        `<line x1="${x(t)}" y1="${y(0)}" x2="${x(t)}" y2="${y(1)}" stroke="#eaeef2"/><line x1="${x(0)}" y1="${y(t)}" x2="${x(1)}" y2="${y(t)}" stroke="#eaeef2"/>`,
    )
    .join('');
  return (
    `<svg role="img" aria-label="precision-recall curves" width="${W + 160}" height="${H}">${ticks}${lines}${legend}` +
    `<text x="${x(0.5)}" y="${H - 4}" text-anchor="middle">episode recall</text>` +
    `<text x="12" y="${y(0.5)}" transform="rotate(-90 12 ${y(0.5)})" text-anchor="middle">precision</text></svg>`
  );
}

/** The evaluation page of the report: metrics per method and for the ensemble, PR curves, recall per scenario tag. */
export function renderEvalPage(ev: Evaluation, title = 'splitwatch — detector evaluation'): string {
  const tags = [...new Set(ev.methods.flatMap((m) => Object.keys(m.recallByTag)))].sort();
  const rows = ev.methods
    .map(
      (m) =>
        `<tr><td>${esc(m.method)}</td><td class="num">${m.alerts}</td><td class="num">${pct(m.precision)}</td>` +
        `<td class="num">${pct(m.recall)}</td><td class="num">${m.f1.toFixed(3)}</td>` +
        `<td class="num">${m.precisionAtGoalRecall === null ? '—' : pct(m.precisionAtGoalRecall)}</td>` +
        `<td class="num">${pct(m.recallAtGoalPrecision)}</td>` +
        m.atBudget.map((b) => `<td class="num">${pct(b.precision)} / ${pct(b.recall)}</td>`).join('') +
        `</tr>`,
    )
    .join('');
  const budgetHead = (ev.methods[0]?.atBudget ?? []).map((b) => `<th>top ${b.k} P / R</th>`).join('');
  const tagRows = tags
    .map(
      (t) =>
        `<tr><td>${esc(t)}</td>${ev.methods
          .map((m) => {
            const r = m.recallByTag[t];
            return `<td class="num">${r ? `${pct(r.recall)} <small>(${r.found}/${r.episodes})</small>` : '—'}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}section{border:1px solid #d0d7de;border-radius:6px;padding:12px 16px;margin-bottom:16px}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eaeef2;padding:4px 8px;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}svg text{font-size:12px}</style></head><body>
<h1>${esc(title)}</h1><p>${ev.episodes} labelled episodes, ${ev.labelledTransactions} labelled transactions. An alert is true when at least half of its
transactions belong to one episode; an episode is found when one alert holds at least half of its parts, and at least two.</p>
<section><h2>Metrics</h2><table><thead><tr><th>method</th><th>alerts</th><th>precision</th><th>episode recall</th><th>F1</th><th>precision at recall ≥ ${QUALITY_GOAL.recall}</th><th>recall at precision ≥ ${QUALITY_GOAL.precision}</th>${budgetHead}</tr></thead><tbody>${rows}</tbody></table>
<p>The goal: precision ≥ ${QUALITY_GOAL.precision} at episode recall ≥ ${QUALITY_GOAL.recall}, read off each method's ranked list (— : the list never reaches that recall).</p></section>
<section><h2>Precision–recall by alert budget</h2>${prChart(ev)}</section>
<section><h2>Recall per scenario tag</h2><table><thead><tr><th>tag</th>${ev.methods.map((m) => `<th>${esc(m.method)}</th>`).join('')}</tr></thead><tbody>${tagRows}</tbody></table></section>
</body></html>
`;
}
