/**
 * `npm run fit:split` — fits the split score's weights (libs/use-cases/src/detect/split-weights.ts) on labelled
 * synthetic worlds and checks them on worlds of other seeds.
 *
 * Every window the split rule looks at (2..maxParts parts, at least minSum, anchored at each transaction of a key)
 * becomes one row of its evidence terms (SPLIT_EVIDENCE), labelled 1 when it would make a true alert that finds its
 * episode (at least half of its members from one episode, holding at least half of that episode's parts and two).
 * Two models are fitted on those rows, both class-balanced and in log2 points: a logistic regression (one weight
 * per term) and gradient-boosted trees (interactions and thresholds between the terms; each window's score still
 * splits into one contribution per term for its reason). Each is shifted so that 0 is the threshold with the best
 * mean F2 of rule:split on the training worlds, each scored out of fold (by the same model fitted on the other
 * seeds). The check worlds (other seeds) then compare the committed model with both fitted ones, same windows, same
 * run; `--write` writes the one `--model` names (default trees).
 *
 *   npm run fit:split -- [--presets default,small,nequi:30000 (the default)] [--seeds 101,102,103,104] [--check-seeds 1,7,11]
 *     [--model trees|linear] [--write]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fitBoostedTrees, fitLogisticRegression, type BoostedTreesModel } from '@splitwatch/models';
import {
  precisionAtRecall,
  SPLIT_EVIDENCE,
  SPLIT_SCORE_MODEL,
  type LinearSplitScoreModel,
  type MethodMetrics,
  type SplitScoreModel,
  type TreesSplitScoreModel,
} from '@splitwatch/use-cases';
import { fmt, log, pct } from './measure';
import {
  byModel,
  evaluateAt,
  evidenceMatrix,
  evidenceRows,
  loadWorld,
  parsePresets,
  RANKING_FLOOR,
  scoreWorld,
  TREE_OPTIONS,
  TREES_TEXT,
  type EvidenceRow,
  type World,
} from './split-worlds';

const WEIGHTS_FILE = resolve(__dirname, '../../libs/use-cases/src/detect/split-weights.ts');

function readOptions() {
  const { values } = parseArgs({
    options: {
      presets: { type: 'string', default: 'default,small,nequi:30000' },
      seeds: { type: 'string', default: '101,102,103,104' },
      'check-seeds': { type: 'string', default: '1,7,11' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench', 'fit-split') },
      write: { type: 'boolean', default: false },
      model: { type: 'string', default: 'trees' },
    },
  });
  if (values.model !== 'trees' && values.model !== 'linear') throw new Error(`--model must be trees or linear, got ${values.model}`);
  const ints = (s: string, what: string) =>
    s.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n)) throw new Error(`${what} must be integers, got ${s}`);
      return n;
    });
  const presets = parsePresets(values.presets);
  const seeds = ints(values.seeds, '--seeds');
  if (new Set(seeds).size < 2) throw new Error(`--seeds: the operating point is chosen out of fold, so at least two seeds are needed, got ${values.seeds}`);
  return {
    presets,
    seeds,
    checkSeeds: ints(values['check-seeds'], '--check-seeds'),
    dir: resolve(values.dir),
    write: values.write,
    model: values.model as 'trees' | 'linear',
  };
}

/** One check row: the alerts at the model's own threshold, then its whole ranking (see {@link RANKING_FLOOR}). */
function line(label: string, w: World, model: SplitScoreModel): string {
  const scored = scoreWorld(w, byModel(model), RANKING_FLOOR);
  const m = evaluateAt(w, scored, 0);
  const r = evaluateAt(w, scored, RANKING_FLOOR);
  return (
    `| ${label} | ${fmt(m.alerts)} | ${pct(m.precision)} | ${pct(m.recall)} | ${m.f1.toFixed(3)} | ` +
    `${[0.7, 0.8, 0.9, 0.95].map((at) => pct(precisionAtRecall(r.curve, at))).join(' | ')} | ${pct(r.recallAtGoalPrecision)} |`
  );
}

const round = (v: number) => Math.round(v * 1000) / 1000;

function fitLinear(rows: EvidenceRow[]) {
  const { X, y } = evidenceMatrix(rows);
  return fitLogisticRegression(X, y, { l2: 1e-4 });
}

function fitTrees(rows: EvidenceRow[]): BoostedTreesModel {
  const { X, y } = evidenceMatrix(rows);
  return fitBoostedTrees(X, y, TREE_OPTIONS);
}

/** The logistic regression in log2 points, shifted down by `t` (the operating point). */
function linearModel(lr: ReturnType<typeof fitLogisticRegression>, t: number, fittedOn: string): LinearSplitScoreModel {
  const weights = Object.fromEntries(SPLIT_EVIDENCE.map((name, j) => [name, round(lr.coef[j] / Math.LN2)])) as LinearSplitScoreModel['weights'];
  return { kind: 'linear', fittedOn, base: round(lr.intercept / Math.LN2 - t), weights };
}

async function main(): Promise<void> {
  const o = readOptions();
  await mkdir(o.dir, { recursive: true });
  log(`fit:split — training on ${o.presets.map((p) => p.label).join(', ')} × seeds ${o.seeds.join(', ')}; checking on seeds ${o.checkSeeds.join(', ')}`);
  const training: World[] = [];
  const seedOf: number[] = [];
  for (const p of o.presets)
    for (const s of o.seeds) {
      training.push(await loadWorld(o.dir, p, s));
      seedOf.push(s);
    }
  const perWorld = training.map((w) => evidenceRows(w));
  const all = perWorld.flat();
  let started = performance.now();
  const lr = fitLinear(all);
  log(
    `  ${fmt(all.length)} windows (${fmt(all.reduce((a, r) => a + r.y, 0))} split), logistic regression: ` +
      `${lr.iterations} Newton steps, converged ${lr.converged}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  const linearAt = (t: number, fittedOn = '') => linearModel(lr, t, fittedOn);
  started = performance.now();
  const boosted = fitTrees(all);
  log(`  ${TREES_TEXT}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const treesAt = (t: number, fittedOn = ''): TreesSplitScoreModel => ({ kind: 'trees', fittedOn, trees: inLog2Points(boosted, t) });

  // The operating points, out of fold: each training world is scored by models fitted on the other seeds' worlds.
  const folds = o.seeds.map((s) => {
    const rest = perWorld.filter((_, i) => seedOf[i] !== s).flat();
    const t0 = performance.now();
    const fold = { seed: s, lr: fitLinear(rest), trees: fitTrees(rest) };
    log(`  fold without seed ${s}: ${fmt(rest.length)} windows, both models fitted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return fold;
  });
  const foldOf = (i: number) => folds.find((f) => f.seed === seedOf[i])!;
  const describe = (what: string, t: number, p: { precision: number; recall: number }) =>
    `${o.presets.map((q) => q.label).join(', ')} worlds, seeds ${o.seeds.join(', ')} (${fmt(all.length)} windows), ${what}; operating point log2 odds ${t} (best mean F2 out of fold: precision ${pct(p.precision)}, recall ${pct(p.recall)})`;
  const linearPoint = operatingPoint('linear', training, (i) => linearModel(foldOf(i).lr, 0, ''));
  const treesPoint = operatingPoint('trees', training, (i) => ({ kind: 'trees', fittedOn: '', trees: inLog2Points(foldOf(i).trees, 0) }));
  const linear = linearAt(linearPoint.t, describe('logistic regression', linearPoint.t, linearPoint));
  const trees = treesAt(treesPoint.t, describe(TREES_TEXT, treesPoint.t, treesPoint));
  log(`  linear: base ${linear.base}; ${SPLIT_EVIDENCE.map((n) => `${n} ${linear.weights[n]}`).join(', ')}`);

  const out: string[] = [
    `\nrule:split on worlds of other seeds: committed model (${SPLIT_SCORE_MODEL.kind}, ${SPLIT_SCORE_MODEL.fittedOn.slice(0, 60)}…) vs fitted`,
    '| world, model | alerts | precision | episode recall | F1 | ranking: P at R ≥ 0.7 | P at R ≥ 0.8 | P at R ≥ 0.9 | P at R ≥ 0.95 | R at P ≥ 0.9 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of o.presets)
    for (const s of o.checkSeeds) {
      const w = await loadWorld(o.dir, p, s);
      out.push(
        line(`${w.name} committed`, w, SPLIT_SCORE_MODEL),
        line(`${w.name} linear`, w, linear),
        line(`${w.name} trees`, w, trees),
      );
    }
  console.log(out.join('\n'));

  if (o.write) {
    await writeFile(WEIGHTS_FILE, o.model === 'trees' ? treesSource(trees) : linearSource(linear));
    log(`  wrote the ${o.model} model to ${WEIGHTS_FILE}`);
  }
}

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** The boosted trees in log2 points, shifted down by `t` (the operating point): thresholds exact, values to 1e-6. */
function inLog2Points(m: BoostedTreesModel, t: number): BoostedTreesModel {
  return {
    ...m,
    base: round6(m.base / Math.LN2 - t),
    trees: m.trees.map((tree) => ({ ...tree, v: tree.v.map((v) => round6(v / Math.LN2)) })),
  };
}

/**
 * The operating point: the threshold (log2 odds) with the best mean F2 of rule:split on the training worlds —
 * recall counts twice as much as precision, as in compliance screening, where a missed split costs more than a
 * look at an ordinary busy day. Each world is scored out of fold, by `at(world, t)`: a model fitted without its seed.
 * On its own training windows a model is optimistic (the more so the deeper its trees), and a threshold chosen there
 * sits too low for worlds it has never seen.
 */
function operatingPoint(what: string, worlds: World[], modelOf: (world: number) => SplitScoreModel) {
  let best = { t: 0, f2: -1, precision: 0, recall: 0 };
  const [lowest, highest, step] = [-2, 6, 0.25];
  // Each world scored once, by its out-of-fold model at log2 odds 0, then cut at every threshold.
  const scored = worlds.map((w, i) => scoreWorld(w, byModel(modelOf(i)), lowest));
  for (let t = lowest; t <= highest + 0.001; t += step) {
    const ms = worlds.map((w, i) => evaluateAt(w, scored[i], t));
    const mean = (f: (m: MethodMetrics) => number) => ms.reduce((a, m) => a + f(m), 0) / ms.length;
    const [precision, recall] = [mean((m) => m.precision), mean((m) => m.recall)];
    const f2 = mean((m) => (m.precision + m.recall === 0 ? 0 : (5 * m.precision * m.recall) / (4 * m.precision + m.recall)));
    log(`    ${what}: log2 odds ≥ ${t.toFixed(2)}: out-of-fold precision ${pct(precision)}, recall ${pct(recall)}, F2 ${f2.toFixed(3)}`);
    if (f2 > best.f2) best = { t, f2, precision, recall };
  }
  log(`  ${what} operating point: log2 odds ≥ ${best.t} (precision ${pct(best.precision)}, recall ${pct(best.recall)})`);
  return best;
}

const HEADER = `import type { SplitScoreModel } from './split-score';

/**
 * The split score's model (see SPLIT_EVIDENCE and SplitScoreModel), in log2 points, 0 at the operating point.
 * Generated by \`npm run fit:split -- --write\`; do not edit by hand (re-run it after changing the evidence terms).
 */
`;

function linearSource(m: LinearSplitScoreModel): string {
  const body = SPLIT_EVIDENCE.map((n) => `    ${n}: ${m.weights[n]},`).join('\n');
  return `${HEADER}export const SPLIT_SCORE_MODEL: SplitScoreModel = {
  kind: 'linear',
  fittedOn: ${JSON.stringify(m.fittedOn)},
  base: ${m.base},
  weights: {
${body}
  },
};
`;
}

function treesSource(m: TreesSplitScoreModel): string {
  // One tree per line: f (feature index in SPLIT_EVIDENCE, −1 at a leaf), t (threshold), l / r (children), v (value).
  const body = m.trees.trees.map((t) => `      ${JSON.stringify(t)},`).join('\n');
  return `${HEADER}export const SPLIT_SCORE_MODEL: SplitScoreModel = {
  kind: 'trees',
  fittedOn: ${JSON.stringify(m.fittedOn)},
  trees: {
    kind: 'boosted-trees',
    version: 1,
    base: ${m.trees.base},
    trees: [
${body}
    ],
  },
};
`;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
