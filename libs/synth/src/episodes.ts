import { UNIT_E8 } from './amounts';
import { DAY } from './calendar';
import {
  makeRow,
  rowId,
  type EpisodeRecord,
  type Pace,
  type Params,
  type Profile,
  type SplitKind,
  type SynthRow,
} from './model';
import type { Rng } from './prng';
import { cumulative } from './prng';
import { pickSubsidiary, secondOfDay } from './world';

const KINDS: SplitKind[] = ['equal', 'near-equal', 'random', 'cap-first'];
const KIND_CDF = cumulative([0.3, 0.25, 0.25, 0.2]);
const PACES: Pace[] = ['fast', 'medium', 'slow'];
const PACE_CDF = cumulative([0.4, 0.35, 0.25]);
/** Parts 2..10, fewer parts more likely. */
const PARTS_CDF = cumulative([0.24, 0.24, 0.16, 0.1, 0.08, 0.06, 0.05, 0.04, 0.03]);
const P_CREDIT = 0.25;
const P_SAME_SUB = 0.55;
const P_MIDNIGHT = 0.15;
/** Parts stay well apart from the ≤ 1 s retry duplicates so the two are never confused. */
const MIN_GAP = 30;

/** Splits `total` units into `k` parts of 1..cap units, each near total/k. Requires k ≤ total ≤ k·cap. */
function nearEqual(rng: Rng, total: number, k: number, cap: number): number[] {
  const parts: number[] = [];
  let rest = total;
  for (let i = 0; i < k - 1; i++) {
    const p = Math.round((total / k) * rng.uniform(0.85, 1.15));
    parts.push(p);
    rest -= p;
  }
  parts.push(rest);
  if (parts.every((p) => p >= 1 && p <= cap)) return parts;
  const base = Math.floor(total / k);
  return Array.from({ length: k }, (_, i) => base + (i < total - base * k ? 1 : 0));
}

/** Uniform random cut points; falls back to near-equal when a part would break the cap. */
function randomSplit(rng: Rng, total: number, k: number, cap: number): number[] {
  for (let attempt = 0; attempt < 8; attempt++) {
    const cuts = new Set<number>();
    while (cuts.size < k - 1) cuts.add(rng.range(1, total - 1));
    const sorted = [...cuts].sort((a, b) => a - b);
    const parts = sorted.map((c, i) => c - (i === 0 ? 0 : sorted[i - 1]));
    parts.push(total - sorted[sorted.length - 1]);
    if (parts.every((p) => p <= cap)) return parts;
  }
  return nearEqual(rng, total, k, cap);
}

function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Gaps between consecutive parts, in seconds. */
function gaps(rng: Rng, pace: Pace, k: number): number[] {
  if (pace === 'fast') return Array.from({ length: k }, () => rng.range(MIN_GAP, 420));
  const span = pace === 'medium' ? rng.uniform(1200, 3 * 3600) : rng.uniform(3 * 3600, 20 * 3600);
  const w = Array.from({ length: k }, () => -Math.log(1 - rng.next()));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => Math.max(MIN_GAP, Math.floor((span * x) / sum)));
}

/**
 * One labelled split episode: 2–10 parts on one account and direction within ~20 h, whose amount is material for
 * this user (several times the typical) but not necessarily large in absolute terms. Rows are appended to `rows`.
 */
export function addEpisode(
  p: Params,
  u: Profile,
  earlier: readonly EpisodeRecord[],
  rows: SynthRow[],
): EpisodeRecord {
  const { rng } = u;
  const kind = KINDS[rng.pick(KIND_CDF)];
  const pace = PACES[rng.pick(PACE_CDF)];
  const credit = rng.chance(P_CREDIT);
  const sameSub = rng.chance(P_SAME_SUB);
  const account = u.caps.length > 1 && rng.chance(0.3) ? rng.int(u.caps.length) : 0;
  const cap = u.caps[account];
  let n = 2 + rng.pick(PARTS_CDF);

  let parts: number[];
  let original: number;
  if (kind === 'cap-first') {
    const rest = Math.max(n - 1, Math.round(rng.uniform(0.15, 1) * (n - 1) * cap));
    parts = [cap, ...shuffle(rng, nearEqual(rng, rest, n - 1, cap))];
    original = cap + rest;
  } else {
    const wanted = Math.round(Math.max(u.typical * rng.uniform(3, 12), rng.uniform(15, 60)));
    original = Math.min(n * cap, Math.max(n, wanted));
    if (kind === 'equal') {
      const part = Math.round(original / n);
      parts = new Array<number>(n).fill(part);
      original = part * n;
    } else if (kind === 'near-equal') {
      // A third pay round equal parts that leave a few units of the original unpaid.
      parts = rng.chance(1 / 3)
        ? new Array<number>(n).fill(Math.floor(original / n))
        : shuffle(rng, nearEqual(rng, original, n, cap));
    } else {
      parts = randomSplit(rng, original, n, cap);
    }
  }
  n = parts.length;

  const steps = gaps(rng, pace, n - 1);
  const span = steps.reduce((a, b) => a + b, 0);
  const sod = rng.chance(P_MIDNIGHT) ? Math.floor(DAY - span * rng.uniform(0.2, 0.8)) : secondOfDay(rng);
  // A late start on the last day is pulled back so the episode stays inside the log. A user's episodes are kept a
  // day apart where the log allows it, so no 24 h window mixes the parts of two episodes.
  let t0 = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    t0 = Math.min(rng.int(p.days) * DAY + sod, p.days * DAY - 1 - span);
    if (earlier.every((e) => t0 > e.lastT + DAY || t0 + span < e.firstT - DAY)) break;
  }

  const merchant = u.mainMerchant;
  const home = rng.chance(0.7) ? u.usualSubs[0] : pickSubsidiary(p.world, rng, merchant);
  const subs = parts.map(() =>
    sameSub
      ? home
      : rng.chance(0.4)
        ? u.usualSubs[rng.int(u.usualSubs.length)]
        : pickSubsidiary(p.world, rng, merchant),
  );
  if (!sameSub && subs.every((s) => s === subs[0])) {
    const list = p.world.merchantSubs[merchant];
    const other = pickSubsidiary(p.world, rng, merchant);
    subs[n - 1] = other !== subs[0] ? other : list[list[0] === subs[0] ? 1 : 0];
  }

  let t = t0;
  let total = 0;
  const partIds: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i > 0) t += steps[i - 1];
    const e8 = parts[i] * UNIT_E8;
    total += e8;
    const row = makeRow(rng, t, account, merchant, subs[i], e8, credit);
    partIds.push(rowId(row));
    rows.push(row);
  }

  const scenario = `${kind}|${pace}|${credit ? 'credit' : 'debit'}|${sameSub ? 'same-sub' : 'diff-sub'}`;
  return {
    id: `ep-${String(u.userIndex).padStart(8, '0')}-${earlier.length + 1}`,
    scenario,
    account,
    merchant,
    credit,
    nParts: n,
    totalE8: total,
    originalE8: original * UNIT_E8,
    firstT: t0,
    lastT: t,
    pace,
    kind,
    partIds,
  };
}
