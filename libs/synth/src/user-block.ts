import { CAP_CDF, CAP_UNITS, ordinaryAmountE8 } from './amount-model';
import { UNIT_E8 } from './amounts';
import { DAY } from './calendar';
import { addEpisode } from './episodes';
import { writeRandomId } from './hex';
import {
  makeRow,
  retryOf,
  type EpisodeRecord,
  type Params,
  type Profile,
  type SynthRow,
  type UserBlock,
  type UserTraits,
} from './model';
import { Rng, cumulative } from './prng';
import { MERCHANT_MIX, pickSubsidiary, secondOfDay } from './world';

/** Transactions on an active day of an ordinary user: 1 most of the time (89% of real user-days). */
const COUNT_CDF = cumulative([0.915, 0.06, 0.016, 0.006, 0.003]);
const MEAN_COUNT = 1.105;
const MAX_ACTIVE = 0.92;
/** Spread of activity between users (log-normal sigma): most are occasional, a few very active. */
const ACTIVITY_SIGMA = 1.1;
const P_RETRY = 0.005;
const P_TOP_UP_FIRST = 0.5;
/** Amount habits, tuned so the quantiles land near the real extract's (see README). */
const TYPICAL_MEDIAN = 22;
const TYPICAL_SIGMA = 1.0;
const TX_SIGMA = 0.95;
const CREDIT_FACTOR = 0.5;
/** Share of tiny amounts (1–4 units: fares, small top-ups) that give the low quantiles their weight. */
const P_TINY = 0.04;
const MERCHANT_CDF = cumulative([...MERCHANT_MIX]);

/** Mean transactions per day of a commuter and a busy shopper, used to turn row shares into user shares. */
export const COMMUTER_RATE = 2.2;
export const BUSY_RATE = 5.5;
export const INSTALMENT_ROWS = 4;

/** `n` items made by `f`; a plain loop, as `Array.from` with a mapper is slow on this per-user path. */
function times<T>(n: number, f: () => T): T[] {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(f());
  return out;
}

/** User and account ids laid out as `account,user` pairs, so both fields can also be copied at once. */
function newIds(rng: Rng, accounts: number): Pick<UserBlock, 'userId' | 'accountIds' | 'accountUserIds'> {
  const buf = Buffer.allocUnsafe(65 * accounts);
  writeRandomId(buf, 33, rng);
  const accountIds: Uint8Array[] = [];
  const accountUserIds: Uint8Array[] = [];
  for (let k = 0; k < accounts; k++) {
    const at = 65 * k;
    writeRandomId(buf, at, rng);
    buf[at + 32] = 44;
    if (k > 0) buf.copy(buf, at + 33, 33, 65);
    accountIds.push(buf.subarray(at, at + 32));
    accountUserIds.push(buf.subarray(at, at + 65));
  }
  return { userId: buf.subarray(33, 65), accountIds, accountUserIds };
}

function makeProfile(p: Params, userIndex: number, rng: Rng): Profile {
  const r = rng.next();
  const nAccounts = r < 0.965 ? 1 : r < 0.995 ? 2 : 3;
  const caps = times(nAccounts, () => CAP_UNITS[rng.pick(CAP_CDF)]);
  const typical = Math.min(caps[0] / 2, Math.max(1, TYPICAL_MEDIAN * Math.exp(TYPICAL_SIGMA * rng.normal())));
  const creditShare = Math.min(0.9, 0.18 * Math.exp(0.6 * rng.normal() - 0.18));
  const mainMerchant = rng.pick(MERCHANT_CDF);
  const usualSubs = times(rng.range(1, 3), () => pickSubsidiary(p.world, rng, mainMerchant));
  const favourites = times(rng.range(1, 2), () =>
    Math.max(1, Math.round(typical * Math.exp(0.5 * rng.normal()))),
  );
  return { rng, userIndex, typical, creditShare, caps, mainMerchant, usualSubs, favourites };
}

function pickAccount(u: Profile): number {
  if (u.caps.length === 1 || u.rng.chance(0.7)) return 0;
  return 1 + u.rng.int(u.caps.length - 1);
}

/** An everyday purchase, top-up or transfer following the user's habits. */
function ordinary(
  p: Params,
  u: Profile,
  t: number,
  varied: boolean,
  account = pickAccount(u),
  credit = u.rng.chance(varied ? 0.08 : u.creditShare),
): SynthRow {
  const { rng } = u;
  const cap = u.caps[account];
  let merchant = u.mainMerchant;
  let subsidiary: number;
  if (!varied && rng.chance(0.85)) {
    subsidiary = rng.chance(0.8)
      ? u.usualSubs[rng.int(u.usualSubs.length)]
      : pickSubsidiary(p.world, rng, merchant);
  } else {
    merchant = rng.pick(MERCHANT_CDF);
    subsidiary = pickSubsidiary(p.world, rng, merchant);
  }
  let x: number;
  if (rng.chance(0.012)) x = cap;
  else if (rng.chance(P_TINY)) x = rng.uniform(0.6, 4.4);
  else if (!credit && !varied && rng.chance(0.25)) x = u.favourites[rng.int(u.favourites.length)];
  else x = u.typical * (credit ? CREDIT_FACTOR : 1) * Math.exp((varied ? 1.0 : TX_SIGMA) * rng.normal());
  return makeRow(rng, t, account, merchant, subsidiary, ordinaryAmountE8(rng, x, cap), credit);
}

/** Appends the user's ordinary days and returns its activity rate (transactions per day). */
function regularActivity(p: Params, u: Profile, rows: SynthRow[]): number {
  const { rng } = u;
  const rate =
    p.txPerUserDay * Math.exp(ACTIVITY_SIGMA * rng.normal() - (ACTIVITY_SIGMA * ACTIVITY_SIGMA) / 2);
  // Capped: even the busiest ordinary users mostly transact once on a day (busy shoppers are a separate kind).
  const active = Math.min(MAX_ACTIVE, rate / MEAN_COUNT);
  for (let day = rng.geometric(active); day < p.days; day += 1 + rng.geometric(active)) {
    const n = 1 + rng.pick(COUNT_CDF);
    if (n === 1) {
      rows.push(ordinary(p, u, day * DAY + secondOfDay(rng), false));
      continue;
    }
    // Busy days often start with money coming in that is then spent: mixed directions, as in the real log.
    const topUpFirst = rng.chance(P_TOP_UP_FIRST);
    const seconds = times(n, () => secondOfDay(rng)).sort((a, b) => a - b);
    for (let i = 0; i < n; i++) {
      const credit = topUpFirst ? i === 0 : undefined;
      rows.push(ordinary(p, u, day * DAY + seconds[i], false, pickAccount(u), credit));
    }
  }
  return rate;
}

/** Hard negative: the same small fare several times a day, most weekdays. */
function commuter(p: Params, u: Profile, rows: SynthRow[]): void {
  const { rng } = u;
  const fare = rng.range(1, 3) * UNIT_E8;
  const subsidiary = pickSubsidiary(p.world, rng, u.mainMerchant);
  const windows: [number, number][] = [
    [6 * 3600, 9.5 * 3600],
    [16 * 3600, 20 * 3600],
    [11 * 3600, 15 * 3600],
    [19 * 3600, 22 * 3600],
    [9 * 3600, 11 * 3600],
    [21 * 3600, 23.5 * 3600],
  ];
  for (let day = 0; day < p.days; day++) {
    const weekday = p.clock.weekday[day];
    if (!rng.chance(weekday === 0 || weekday === 6 ? 0.25 : 0.85)) continue;
    const rides = [2, 2, 2, 3, 4, 4, 5, 6][rng.int(8)];
    for (let i = 0; i < rides; i++) {
      const [a, b] = windows[i];
      const t = day * DAY + Math.floor(rng.uniform(a, b));
      rows.push(makeRow(rng, t, 0, u.mainMerchant, subsidiary, fare, false));
    }
  }
}

/** Hard negative: many varied purchases on most days, at many branches. */
function busyShopper(p: Params, u: Profile, rows: SynthRow[]): void {
  const { rng } = u;
  for (let day = 0; day < p.days; day++) {
    if (!rng.chance(0.85)) continue;
    const n = rng.range(3, 10);
    for (let i = 0; i < n; i++) rows.push(ordinary(p, u, day * DAY + secondOfDay(rng), true));
  }
}

/** Hard negative: a bill paid in equal instalments at one branch, always more than 24 h apart. */
function instalments(p: Params, u: Profile, rows: SynthRow[]): void {
  const { rng } = u;
  const cap = u.caps[0];
  const amount = Math.min(cap, Math.max(10, Math.round(u.typical * rng.uniform(2, 5)))) * UNIT_E8;
  const every = [1, 7, 7, 14, 30, 30][rng.int(6)] * DAY;
  const count = rng.range(3, 6);
  const subsidiary = pickSubsidiary(p.world, rng, u.mainMerchant);
  let t = rng.int(p.days) * DAY + secondOfDay(rng);
  for (let i = 0; i < count && t < p.days * DAY; i++) {
    rows.push(makeRow(rng, t, 0, u.mainMerchant, subsidiary, amount, false));
    // Daily instalments drift later each day, so two are never inside one 24 h window.
    t += every + (every === DAY ? rng.range(1200, 3 * 3600) : rng.range(-3600, 3600));
  }
}

/** Hard negative: hundreds of one-unit credits a day into one account at one merchant. */
function microBursts(p: Params, u: Profile, rows: SynthRow[]): void {
  const { rng } = u;
  const merchant = rng.pick(MERCHANT_CDF);
  const subsidiary = pickSubsidiary(p.world, rng, merchant);
  const days = Array.from({ length: p.days }, (_, d) => d).filter(() => rng.chance(0.1));
  if (days.length === 0) days.push(rng.int(p.days));
  for (const day of days) {
    const n = rng.range(200, 400);
    for (let i = 0; i < n; i++) {
      const t = day * DAY + secondOfDay(rng);
      rows.push(makeRow(rng, t, 0, merchant, subsidiary, UNIT_E8, true));
    }
  }
}

/**
 * Generates every row of user `userIndex`, from its own random stream: the same (seed, index) always gives the
 * same block whatever was generated before it.
 */
export function generateUserBlock(p: Params, userIndex: number): UserBlock {
  const rng = new Rng(p.seed, userIndex);
  const u = makeProfile(p, userIndex, rng);
  const ids = newIds(rng, u.caps.length);
  const rows: SynthRow[] = [];
  const episodes: EpisodeRecord[] = [];

  const r = rng.next();
  const kind = r < p.pCommuter ? 'commuter' : r < p.pCommuter + p.pBusy ? 'busy' : 'ordinary';
  if (kind === 'commuter') commuter(p, u, rows);
  else if (kind === 'busy') busyShopper(p, u, rows);
  const withInstalments = rng.chance(p.pInstalment);
  if (withInstalments) instalments(p, u, rows);
  const bursts = p.burstUsers.has(userIndex);
  if (bursts) microBursts(p, u, rows);
  const rate = regularActivity(p, u, rows);
  const traits: UserTraits = {
    typical: u.typical,
    caps: u.caps,
    favourites: u.favourites,
    creditShare: u.creditShare,
    rate,
    kind,
    instalments: withInstalments,
    bursts,
  };
  if (rng.chance(p.episodeRate)) {
    const r = rng.next();
    const count = r < 0.85 ? 1 : r < 0.97 ? 2 : 3;
    for (let k = 0; k < count; k++) episodes.push(addEpisode(p, u, episodes, rows));
  }

  // Everyone in a transaction log has transacted: an account without rows would be a phantom in the summary.
  const used = new Uint8Array(u.caps.length);
  for (const row of rows) used[row.account] = 1;
  for (let k = 0; k < used.length; k++) {
    if (!used[k]) rows.push(ordinary(p, u, rng.int(p.days) * DAY + secondOfDay(rng), false, k));
  }

  rows.sort((a, b) => a.t - b.t);
  let duplicates = 0;
  const out: SynthRow[] = [];
  const end = p.days * DAY - 1;
  for (const row of rows) {
    out.push(row);
    if (rng.chance(P_RETRY)) {
      out.push(retryOf(row, Math.min(end, row.t + rng.int(2))));
      duplicates++;
    }
  }
  // Fields listed, not spread: a spread here cost more than the rest of the block assembly.
  const { userId, accountIds, accountUserIds } = ids;
  return { userId, accountIds, accountUserIds, rows: out, episodes, duplicates, traits };
}
