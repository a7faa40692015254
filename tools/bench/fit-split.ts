/**
 * `npm run fit:split` — fits the split score's weights (libs/use-cases/src/detect/split-weights.ts) on labelled
 * synthetic worlds and checks them on worlds of other seeds.
 *
 * Every window the split rule looks at (2..maxParts parts, at least minSum, anchored at each transaction of a key)
 * becomes one row of its evidence terms (SPLIT_EVIDENCE), labelled 1 when it would make a true alert that finds its
 * episode (at least half of its members from one episode, holding at least half of that episode's parts and two).
 * A class-balanced logistic regression over those rows gives the weights in log2 points; the base is its intercept
 * shifted so that 0 is the threshold with the best mean F1 of rule:split on the training worlds. The check worlds
 * (other seeds) then compare the fitted weights with the committed ones, same windows, same run.
 *
 *   npm run fit:split -- [--presets default,small,nequi:30000] [--seeds 101,102] [--check-seeds 1,7,11] [--write]
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDbSqlEngine } from '@splitwatch/adapters-local';
import { resolveConfig, rulesFor, type DetectionConfig } from '@splitwatch/core';
import { fitLogisticRegression, matrix } from '@splitwatch/models';
import { SYNTH_PRESETS, synthesize, type SynthOptions } from '@splitwatch/synth';
import {
  evaluateAlerts,
  finishEpisodes,
  labelsFromRows,
  precisionAtRecall,
  scanKeyWindows,
  SEGMENT_TYPICAL_DAY_SQL,
  SPLIT_EVIDENCE,
  SPLIT_SCORE_MODEL,
  splitEvidence,
  splitHit,
  toWindowRow,
  type Labels,
  type MethodMetrics,
  type PendingEpisodes,
  type SplitScoreModel,
  type WindowRow,
} from '@splitwatch/use-cases';
import { fmt, log, pct } from './measure';

/** Only the split rule: the other rules and the models are not what is being fitted. */
const CONFIG: DetectionConfig = resolveConfig({
  rules: { count: { enabled: false }, sum: { enabled: false }, zscore: { enabled: false } },
  models: { enabled: false },
});
const WEIGHTS_FILE = resolve(__dirname, '../../libs/use-cases/src/detect/split-weights.ts');

interface WorldSpec {
  preset: keyof typeof SYNTH_PRESETS;
  users?: number;
  label: string;
}

interface World {
  name: string;
  keys: WindowRow[][];
  labels: Labels;
  segmentDay: (r: WindowRow) => number;
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      presets: { type: 'string', default: 'default,small' },
      seeds: { type: 'string', default: '101,102' },
      'check-seeds': { type: 'string', default: '1,7,11' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench', 'fit-split') },
      write: { type: 'boolean', default: false },
    },
  });
  const ints = (s: string, what: string) =>
    s.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new Error(`${what} must be integers, got ${s}`);
      return n;
    });
  // A preset, or preset:users for a fraction of it (nequi:30000 has the real log's sparsity at a hundredth of its size).
  const presets = values.presets.split(',').map((spec): WorldSpec => {
    const [p, users] = spec.split(':');
    if (!(p in SYNTH_PRESETS)) throw new Error(`--presets: unknown preset ${p}; known: ${Object.keys(SYNTH_PRESETS).join(', ')}`);
    const n = users === undefined ? undefined : Number(users);
    if (n !== undefined && !(Number.isInteger(n) && n >= 1)) throw new Error(`--presets: ${spec}: users must be a positive integer`);
    return { preset: p as keyof typeof SYNTH_PRESETS, users: n, label: spec };
  });
  return {
    presets,
    seeds: ints(values.seeds, '--seeds'),
    checkSeeds: ints(values['check-seeds'], '--check-seeds'),
    dir: resolve(values.dir),
    write: values.write,
  };
}

/** Synthesises (once, cached) and loads a world: its keys' rows in time order, as Detect reads them, and its labels. */
async function loadWorld(dir: string, spec: WorldSpec, seed: number): Promise<World> {
  const synth: SynthOptions = { ...SYNTH_PRESETS[spec.preset], seed, ...(spec.users ? { users: spec.users } : {}) };
  const name = `${spec.preset}${spec.users ? `-${spec.users}` : ''}-seed${seed}`;
  const world = join(dir, name);
  if (!existsSync(join(world, 'done.json'))) {
    await rm(world, { recursive: true, force: true });
    await synthesize(synth, world);
    await writeFile(join(world, 'done.json'), JSON.stringify(synth));
  }
  const engine = await DuckDbSqlEngine.open({ root: world });
  try {
    const csv = (f: string) => `read_csv('${join(world, f).replace(/'/g, "''")}', all_varchar = true, header = true)`;
    // Retries repeat an _id (ingest drops them): keep one row per _id.
    await engine.query(`CREATE TABLE features AS
      SELECT _id AS tx_id, user_id, account_number, merchant_id, subsidiary, upper(trim(transaction_type)) AS direction,
             CAST(transaction_date AS TIMESTAMP) AS transaction_date, CAST(transaction_amount AS DECIMAL(24,8)) AS amount
      FROM ${csv('transactions.csv')} QUALIFY row_number() OVER (PARTITION BY _id ORDER BY transaction_date) = 1`);
    const segments = new Map<string, number>();
    for (const s of await engine.query(SEGMENT_TYPICAL_DAY_SQL))
      segments.set(`${String(s.merchant_id)}|${String(s.direction)}`, Number(Number(s.typical_day).toPrecision(12)));
    const keys: WindowRow[][] = [];
    let cur: WindowRow[] = [];
    const rows = await engine.query(`SELECT tx_id, user_id, account_number, merchant_id, subsidiary, direction,
        CAST(transaction_date AS VARCHAR) AS transaction_date, epoch(transaction_date)::BIGINT AS ts, CAST(amount AS VARCHAR) AS amount,
        1 AS n_tx, CAST(amount AS VARCHAR) AS sum_amount, NULL AS z_sum, 0 AS hist_days, NULL AS base_mean_daily_sum
      FROM features ORDER BY account_number, direction, transaction_date, tx_id`);
    for (const r of rows) {
      const row = toWindowRow(r);
      const prev = cur[cur.length - 1];
      if (prev && (prev.account_number !== row.account_number || prev.direction !== row.direction)) {
        keys.push(cur);
        cur = [];
      }
      cur.push(row);
    }
    if (cur.length) keys.push(cur);
    const labelRows = (await engine.query(`SELECT _id, episode_id, scenario FROM ${csv('labels.csv')}`)).map((r) => ({
      _id: String(r._id),
      episode_id: String(r.episode_id),
      scenario: String(r.scenario),
    }));
    return {
      name,
      keys: keys.filter((k) => k.length >= 2),
      labels: labelsFromRows(labelRows),
      segmentDay: (r) => segments.get(`${r.merchant_id}|${r.direction}`) ?? Number.POSITIVE_INFINITY,
    };
  } finally {
    await engine.close();
  }
}

/** Every window the split rule scores, as evidence rows with their labels. */
function evidenceRows(w: World, out: { x: number[]; y: number }[]): void {
  for (const rows of w.keys) {
    scanKeyWindows(rows, CONFIG, w.segmentDay, (win) => {
      const r = rulesFor(CONFIG, rows[win.i].merchant_id, rows[win.i].direction).split;
      const e = splitEvidence(rows, win.lo, win.hi, win, r);
      if (!e) return;
      const count = new Map<string, number>();
      for (let j = win.lo; j <= win.hi; j++) {
        const ep = w.labels.episodeOf.get(rows[j].tx_id);
        if (ep) count.set(ep, (count.get(ep) ?? 0) + 1);
      }
      let y = 0;
      for (const [ep, c] of count) {
        const parts = w.labels.episodes.get(ep)!.parts.size;
        if (c * 2 >= e.n && c >= 2 && c * 2 >= parts) y = 1;
      }
      out.push({ x: e.x, y });
    });
  }
}

/** rule:split's alerts on a world under `model`, evaluated. */
function evaluateModel(w: World, model: SplitScoreModel, config: DetectionConfig = CONFIG): MethodMetrics {
  const alerts = w.keys.flatMap((rows) => {
    const windows: PendingEpisodes['windows'] = [];
    scanKeyWindows(rows, config, w.segmentDay, (win) => {
      const hit = splitHit(rows, win.lo, win.hi, win, config, model);
      windows.push({ w: win, hits: hit ? [hit] : [] });
    });
    return finishEpisodes({ rows, windows, candidates: [], vectors: [] }, null, config, 'fit');
  });
  return evaluateAlerts('rule:split', alerts, w.labels);
}

/** A threshold far below any operating point: the whole ranked list, to read precision at any recall off it. */
const RANKING: DetectionConfig = { ...CONFIG, rules: { ...CONFIG.rules, split: { ...CONFIG.rules.split, minScore: -12 } } };

const round = (v: number) => Math.round(v * 1000) / 1000;

/** One check row: the alerts at the model's own threshold, then its whole ranking (see {@link RANKING}). */
function line(label: string, w: World, model: SplitScoreModel): string {
  const m = evaluateModel(w, model);
  const r = evaluateModel(w, model, RANKING);
  return (
    `| ${label} | ${fmt(m.alerts)} | ${pct(m.precision)} | ${pct(m.recall)} | ${m.f1.toFixed(3)} | ` +
    `${[0.7, 0.8, 0.9, 0.95].map((at) => pct(precisionAtRecall(r.curve, at))).join(' | ')} | ${pct(r.recallAtGoalPrecision)} |`
  );
}

async function main(): Promise<void> {
  const o = readOptions();
  await mkdir(o.dir, { recursive: true });
  log(`fit:split — training on ${o.presets.map((p) => p.label).join(', ')} × seeds ${o.seeds.join(', ')}; checking on seeds ${o.checkSeeds.join(', ')}`);
  const training: World[] = [];
  for (const p of o.presets) for (const s of o.seeds) training.push(await loadWorld(o.dir, p, s));
  const data: { x: number[]; y: number }[] = [];
  for (const w of training) evidenceRows(w, data);
  const d = SPLIT_EVIDENCE.length;
  const X = matrix(data.length, d);
  data.forEach((r, i) => X.data.set(r.x, i * d));
  const y = data.map((r) => r.y);
  const started = performance.now();
  const lr = fitLogisticRegression(X, y, { l2: 1e-4 });
  log(
    `  ${fmt(data.length)} windows (${fmt(y.reduce((a, b) => a + b, 0))} split), logistic regression: ` +
      `${lr.iterations} Newton steps, converged ${lr.converged}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const weights = Object.fromEntries(SPLIT_EVIDENCE.map((name, j) => [name, round(lr.coef[j] / Math.LN2)])) as SplitScoreModel['weights'];
  const logOdds = lr.intercept / Math.LN2;
  // The operating point: the threshold (log2 odds) with the best mean F2 of rule:split on the training worlds —
  // recall counts twice as much as precision, as in compliance screening, where a missed split costs more than a
  // look at an ordinary busy day.
  let best = { t: 0, f2: -1, precision: 0, recall: 0 };
  for (let t = -2; t <= 6.001; t += 0.25) {
    const candidate: SplitScoreModel = { fittedOn: '', base: logOdds - t, weights };
    const ms = training.map((w) => evaluateModel(w, candidate));
    const mean = (f: (m: MethodMetrics) => number) => ms.reduce((a, m) => a + f(m), 0) / ms.length;
    const [precision, recall] = [mean((m) => m.precision), mean((m) => m.recall)];
    const f2 = mean((m) => (m.precision + m.recall === 0 ? 0 : (5 * m.precision * m.recall) / (4 * m.precision + m.recall)));
    log(`    log2 odds ≥ ${t.toFixed(2)}: training precision ${pct(precision)}, recall ${pct(recall)}, F2 ${f2.toFixed(3)}`);
    if (f2 > best.f2) best = { t, f2, precision, recall };
  }
  const fittedOn = `${o.presets.map((p) => p.label).join(', ')} worlds, seeds ${o.seeds.join(', ')} (${fmt(data.length)} windows); operating point log2 odds ${best.t} (best mean F2 on them: precision ${pct(best.precision)}, recall ${pct(best.recall)})`;
  const fitted: SplitScoreModel = { fittedOn, base: round(logOdds - best.t), weights };
  log(`  operating point: log2 odds ≥ ${best.t} (best mean F2 on the training worlds: precision ${pct(best.precision)}, recall ${pct(best.recall)})`);
  log(`  base ${fitted.base}; ${SPLIT_EVIDENCE.map((n) => `${n} ${weights[n]}`).join(', ')}`);

  const out: string[] = [
    `\nrule:split on worlds of other seeds: committed weights (${SPLIT_SCORE_MODEL.fittedOn.slice(0, 60)}…) vs fitted`,
    '| world, weights | alerts | precision | episode recall | F1 | ranking: P at R ≥ 0.7 | P at R ≥ 0.8 | P at R ≥ 0.9 | P at R ≥ 0.95 | R at P ≥ 0.9 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of o.presets)
    for (const s of o.checkSeeds) {
      const w = await loadWorld(o.dir, p, s);
      out.push(line(`${w.name} committed`, w, SPLIT_SCORE_MODEL), line(`${w.name} fitted`, w, fitted));
    }
  console.log(out.join('\n'));

  if (o.write) {
    const body = SPLIT_EVIDENCE.map((n) => `    ${n}: ${weights[n]},`).join('\n');
    await writeFile(
      WEIGHTS_FILE,
      `import type { SplitScoreModel } from './split-score';

/**
 * The split score's weights, in log2 points per unit of each evidence term (see SPLIT_EVIDENCE), and its base.
 * Generated by \`npm run fit:split -- --write\`; do not edit by hand (re-run it after changing the evidence terms).
 */
export const SPLIT_SCORE_MODEL: SplitScoreModel = {
  fittedOn: ${JSON.stringify(fittedOn)},
  base: ${fitted.base},
  weights: {
${body}
  },
};
`,
    );
    log(`  wrote ${WEIGHTS_FILE}`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
