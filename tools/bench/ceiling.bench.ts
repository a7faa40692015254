/**
 * `npm run bench:ceiling` — how far could any window-level split detector get on the labelled worlds, if it knew
 * what the generator drew for each user and no log shows?
 *
 * The same gradient-boosted trees as `fit:split` (same settings, same fitting windows, same labels) are fitted twice:
 * on the twenty-four evidence terms Detect computes (`observable`), and on those plus twelve terms read from each user's
 * hidden traits (`+ hidden traits`): the window's total and smallest part against the user's true typical amount,
 * its largest part against the account's true cap and whether a part sits exactly on it, the share of the parts at
 * the user's favourite amounts, its kind (commuter, busy shopper, instalment payer, micro-burst account), its true
 * activity rate and credit share, and whether it is a secondary account. Both are then scored on worlds of other
 * seeds and their whole ranked list read for the issue's two axes: recall at precision ≥ 0.9 and precision at
 * recall ≥ 0.95, beside the committed model.
 *
 * The hidden traits are what a detector estimates from a key's history (typical amount, habits, caps) or cannot
 * know at all (the kind of user), so the second model shows what is left when estimation is perfect: the overlap
 * the world itself has between split episodes and ordinary busy days. A gap between the two is what better
 * estimation from history could still win; what the second misses no window-level detector of this shape can find.
 *
 * `--groups amount,cap,favourites,kind,activity` adds one model per group of hidden terms (the observable terms and
 * that group only): which trait, known exactly, is worth most.
 *
 *   npm run bench:ceiling -- [--presets default,small,nequi:30000] [--seeds 101,102,103,104] [--check-seeds 1,7,11]
 *     [--groups amount,cap,…]
 */
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { rulesFor } from '@splitwatch/core';
import { fitBoostedTrees, predictBoostedTrees, type BoostedTreesModel } from '@splitwatch/models';
import { UNIT_E8, userTraits, type AccountTraits } from '@splitwatch/synth';
import {
  precisionAtRecall,
  SPLIT_EVIDENCE,
  SPLIT_SCORE_MODEL,
  splitEvidence,
  type MethodMetrics,
} from '@splitwatch/use-cases';
import { fmt, log, pct } from './measure';
import {
  byModel,
  CONFIG,
  evaluateAt,
  evidenceMatrix,
  evidenceRows,
  loadWorld,
  parsePresets,
  RANKING_FLOOR,
  scoreWorld,
  synthOptionsOf,
  TREE_OPTIONS,
  TREES_TEXT,
  type EvidenceRow,
  type ExtraTerms,
  type WindowScorer,
  type World,
  type WorldSpec,
} from './split-worlds';

const HIDDEN_TERMS = [
  'trueMaterial',
  'trueSmallest',
  'largestVsCap',
  'atCap',
  'favourites',
  'commuter',
  'busy',
  'instalments',
  'bursts',
  'rate',
  'creditShare',
  'secondaryAccount',
] as const;

/** `--groups`: each is fitted alone beside the observable terms, to tell which hidden trait is worth estimating. */
const GROUPS: Record<string, (typeof HIDDEN_TERMS)[number][]> = {
  amount: ['trueMaterial', 'trueSmallest'],
  cap: ['largestVsCap', 'atCap'],
  favourites: ['favourites'],
  kind: ['commuter', 'busy', 'instalments', 'bursts'],
  activity: ['rate', 'creditShare', 'secondaryAccount'],
};

const UNIT = UNIT_E8 / 1e8;
/** Amounts are read as numbers from 8-decimal text: equal amounts agree far closer than this. */
const SAME = 1e-6;

/** The hidden-trait terms of a window (see {@link HIDDEN_TERMS}), from its account's traits. */
function hiddenTerms(traits: Map<string, AccountTraits>): ExtraTerms {
  return (rows, lo, hi, e) => {
    const t = traits.get(rows[lo].account_number);
    if (!t) throw new Error(`no hidden traits for account ${rows[lo].account_number}: the world and its traits disagree`);
    const typical = t.typical * UNIT * (rows[lo].direction === 'CREDITO' ? 0.5 : 1);
    const cap = t.caps[t.account] * UNIT;
    let atCap = 0;
    let favourite = 0;
    let largest = 0;
    for (let j = lo; j <= hi; j++) {
      const a = Number(rows[j].amount);
      if (Math.abs(a - cap) < SAME) atCap++;
      if (t.favourites.some((f) => Math.abs(a - f * UNIT) < SAME)) favourite++;
      if (a > largest) largest = a;
    }
    return [
      Math.log2(e.sum / typical),
      Math.log2(e.smallest / typical),
      Math.log2(largest / cap),
      atCap > 0 ? 1 : 0,
      favourite / e.n,
      t.kind === 'commuter' ? 1 : 0,
      t.kind === 'busy' ? 1 : 0,
      t.instalments ? 1 : 0,
      t.bursts ? 1 : 0,
      Math.log2(t.rate),
      t.creditShare,
      t.account > 0 ? 1 : 0,
    ];
  };
}

/** Scores windows with trees over the evidence and `extra`'s terms, in log2 points as the committed model is. */
function byTrees(trees: BoostedTreesModel, extra?: ExtraTerms): WindowScorer {
  return (rows, win, floor) => {
    const r = rulesFor(CONFIG, rows[win.hi].merchant_id, rows[win.hi].direction).split;
    const e = splitEvidence(rows, win.lo, win.hi, win, r);
    if (!e) return null;
    const score = predictBoostedTrees(trees, extra ? [...e.x, ...extra(rows, win.lo, win.hi, e)] : e.x) / Math.LN2;
    return score >= floor ? { method: 'rule:split', score, threshold: 0, reason: '' } : null;
  };
}

/**
 * The whole ranked list of a world under a scorer, read for the goal's axes, and its episode recall per scenario tag
 * where it is cut at its deepest prefix of precision ≥ 0.9: which kinds of split a model finds without drowning
 * analysts, and which it can only reach deep in the list. The world is scored once for both.
 */
function ranking(w: World, scorer: WindowScorer, floor: number): { whole: MethodMetrics; tags: Record<string, number> } {
  const scored = scoreWorld(w, scorer, floor);
  const whole = evaluateAt(w, scored, floor);
  let cut: number | null = null;
  let best = -1;
  for (const p of whole.curve) if (p.precision >= 0.9 && p.recall > best) [best, cut] = [p.recall, p.score];
  if (cut === null) return { whole, tags: {} };
  const at = evaluateAt(w, scored, cut);
  return { whole, tags: Object.fromEntries(Object.entries(at.recallByTag).map(([tag, r]) => [tag, r.recall])) };
}

function line(label: string, m: MethodMetrics): string {
  return (
    `| ${label} | ${pct(m.recall)} | ${[0.8, 0.9, 0.95].map((at) => pct(precisionAtRecall(m.curve, at))).join(' | ')} | ` +
    `${pct(m.recallAtGoalPrecision)} |`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      presets: { type: 'string', default: 'default,small,nequi:30000' },
      seeds: { type: 'string', default: '101,102,103,104' },
      'check-seeds': { type: 'string', default: '1,7,11' },
      dir: { type: 'string', default: join(tmpdir(), 'splitwatch-bench', 'fit-split') },
      groups: { type: 'string', default: '' },
    },
  });
  const groups = values.groups ? values.groups.split(',') : [];
  for (const g of groups) if (!(g in GROUPS)) throw new Error(`--groups: unknown group ${g}; known: ${Object.keys(GROUPS).join(', ')}`);
  // Every fitting window is scanned once, its row holding the observable terms then the hidden ones; each model is
  // fitted on its own columns of those rows.
  const D = SPLIT_EVIDENCE.length;
  const H = HIDDEN_TERMS.length;
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const columnsOf = (g: string) => [...range(0, D), ...GROUPS[g].map((t) => D + HIDDEN_TERMS.indexOf(t))];
  const pick = (x: number[], cols: number[]) => cols.map((c) => x[c]);
  const ints = (s: string) => s.split(',').map(Number);
  const presets = parsePresets(values.presets);
  const dir = resolve(values.dir);
  await mkdir(dir, { recursive: true });
  const withTraits = async (spec: WorldSpec, seed: number) => {
    const world = await loadWorld(dir, spec, seed);
    const extra = hiddenTerms(userTraits(synthOptionsOf(spec, seed)));
    return { world, extra };
  };

  log(`ceiling — fitting on ${values.presets} × seeds ${values.seeds}; ${TREES_TEXT}`);
  const fitting: EvidenceRow[] = [];
  for (const spec of presets)
    for (const seed of ints(values.seeds)) {
      const { world, extra } = await withTraits(spec, seed);
      for (const r of evidenceRows(world, extra)) fitting.push(r);
    }
  const fit = (cols: number[], what: string) => {
    const started = performance.now();
    const { X, y } = evidenceMatrix(fitting, cols);
    const model = fitBoostedTrees(X, y, TREE_OPTIONS);
    log(`  ${what}: ${fmt(fitting.length)} windows (${fmt(y.reduce((a, v) => a + v, 0))} split), fitted in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return model;
  };
  const observable = fit(range(0, D), `observable (${D} terms)`);
  const hidden = fit(range(0, D + H), `+ hidden traits (${D + H} terms)`);
  const byGroup = groups.map((g) => {
    const cols = columnsOf(g);
    return { g, cols, model: fit(cols, `+ ${g} (${GROUPS[g].join(', ')})`) };
  });

  const out = [
    '\nrule:split\'s whole ranked list on worlds of other seeds (precision at episode recall ≥ r; recall at precision ≥ 0.9)',
    '| world, model | recall of the list | P at R ≥ 0.8 | P at R ≥ 0.9 | P at R ≥ 0.95 | R at P ≥ 0.9 |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const perTag: string[] = [];
  // In log2 points the committed model's floor; the fitted trees are unshifted, so the same floor reaches deeper.
  for (const spec of presets)
    for (const seed of ints(values['check-seeds'])) {
      const { world, extra } = await withTraits(spec, seed);
      const committed = ranking(world, byModel(SPLIT_SCORE_MODEL), RANKING_FLOOR);
      const withHidden = ranking(world, byTrees(hidden, extra), RANKING_FLOOR - 4);
      out.push(
        line(`${world.name} committed`, committed.whole),
        line(`${world.name} observable`, ranking(world, byTrees(observable), RANKING_FLOOR - 4).whole),
        line(`${world.name} + hidden traits`, withHidden.whole),
      );
      perTag.push(
        `| ${world.name} | ${Object.keys(committed.tags)
          .sort()
          .map((t) => `${t} ${pct(committed.tags[t])} → ${pct(withHidden.tags[t] ?? 0)}`)
          .join(' · ')} |`,
      );
      for (const { g, cols, model } of byGroup) {
        // The group's model reads the observable terms and its own hidden ones: pass only those past the evidence.
        const own = cols.slice(D).map((c) => c - D);
        const part: ExtraTerms = (rows, lo, hi, e) => pick(extra(rows, lo, hi, e), own);
        out.push(line(`${world.name} + ${g} only`, ranking(world, byTrees(model, part), RANKING_FLOOR - 4).whole));
      }
      log(`  checked ${world.name}`);
    }
  console.log(out.join('\n'));
  console.log(
    [
      '\nepisode recall per scenario where each ranked list is cut at precision ≥ 0.9: committed → + hidden traits',
      '| world | recall per tag |',
      '|---|---|',
      ...perTag,
    ].join('\n'),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
