import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { Keys } from '@splitwatch/core';
import {
  evaluate,
  labelsFromRows,
  parseCsv,
  QUALITY_GOAL,
  readSplitCandidates,
  renderEvalPage,
  type Evaluation,
} from '@splitwatch/use-cases';
import { withAdapters, type StoreOptions } from './context';

/** Reads `labels.csv` (`_id,episode_id,scenario`), failing with the file and line of a bad row. */
export async function readLabels(file: string) {
  const rows: { _id: string; episode_id: string; scenario: string }[] = [];
  let header: string[] | null = null;
  for await (const rec of parseCsv(createReadStream(file))) {
    if (!header) {
      header = rec.fields.map((f) => f.trim());
      for (const c of ['_id', 'episode_id']) if (!header.includes(c)) throw new Error(`${file}: missing column ${c}; found ${header.join(',')}`);
      continue;
    }
    if (rec.error || rec.fields.length !== header.length) throw new Error(`${file}: line ${rec.line}: ${rec.error ?? 'wrong number of fields'}`);
    const get = (c: string) => rec.fields[header!.indexOf(c)] ?? '';
    rows.push({ _id: get('_id'), episode_id: get('episode_id'), scenario: header.includes('scenario') ? get('scenario') : '' });
  }
  return labelsFromRows(rows);
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`.padStart(7);

/** Prints the evaluation as a terminal table. */
export function formatEvaluation(ev: Evaluation): string[] {
  const lines = [`${ev.episodes} labelled episodes`, ''];
  lines.push(
    `${'method'.padEnd(14)} ${'alerts'.padStart(7)} ${'prec.'.padStart(7)} ${'recall'.padStart(7)} ${'F1'.padStart(6)} ` +
      `${'P@R95'.padStart(7)} ${'R@P90'.padStart(7)}   top-k precision/recall`,
  );
  for (const m of ev.methods) {
    const budgets = m.atBudget.map((b) => `@${b.k} ${(b.precision * 100).toFixed(0)}/${(b.recall * 100).toFixed(0)}`).join('  ');
    const atGoal = m.precisionAtGoalRecall === null ? '      —' : pct(m.precisionAtGoalRecall);
    lines.push(
      `${m.method.padEnd(14)} ${String(m.alerts).padStart(7)} ${pct(m.precision)} ${pct(m.recall)} ${m.f1.toFixed(3).padStart(6)} ` +
        `${atGoal} ${pct(m.recallAtGoalPrecision)}   ${budgets}`,
    );
  }
  lines.push(
    '',
    `P@R95: best precision of the ranked list once episode recall reaches ${QUALITY_GOAL.recall} (— never); ` +
      `R@P90: best recall at precision ≥ ${QUALITY_GOAL.precision}`,
  );
  const tags = [...new Set(ev.methods.flatMap((m) => Object.keys(m.recallByTag)))].sort();
  lines.push('', `recall per scenario tag (${ev.methods.map((m) => m.method).join(' | ')})`);
  for (const t of tags) {
    lines.push(`  ${t.padEnd(12)} ${ev.methods.map((m) => (m.recallByTag[t] ? pct(m.recallByTag[t].recall) : '      —')).join(' ')}`);
  }
  return lines;
}

/** `splitwatch eval --labels labels.csv`: precision and recall of every detector against a labelled world. */
export async function evalCommand(
  opts: StoreOptions & { labels: string; runId?: string; json?: string; format?: 'table' | 'json' },
  log: (s: string) => void = console.log,
): Promise<Evaluation> {
  const labels = await readLabels(resolve(opts.labels));
  return withAdapters(opts, async (a) => {
    const store = await a.resultsStore();
    await store.ensureSchema();
    const alerts = await store.listAlerts(opts.runId ? { runId: opts.runId } : undefined);
    // ensemble:all ranks the split candidates of the runs these alerts come from, as Sink did.
    const candidates = await readSplitCandidates(a.objectStore, alerts.map((x) => x.run_id));
    const ev = evaluate(alerts, labels, undefined, candidates);
    const page = renderEvalPage(ev);
    await a.objectStore.putText(Keys.reportLatest.replace('index.html', 'eval.html'), page, 'text/html');
    const compact = { ...ev, methods: ev.methods.map(({ curve: _curve, ...m }) => m) };
    if (opts.json) {
      const out = resolve(opts.json);
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, JSON.stringify(compact, null, 2));
    }
    if (opts.format === 'json') log(JSON.stringify(compact, null, 2));
    else {
      for (const l of formatEvaluation(ev)) log(l);
      log('');
      log(`evaluation page: ${join(a.objectStore.location, Keys.reportLatest.replace('index.html', 'eval.html'))}`);
    }
    return ev;
  });
}
