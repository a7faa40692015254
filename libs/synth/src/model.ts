import type { Clock } from './calendar';
import { idText } from './hex';
import type { Rng } from './prng';
import type { World } from './world';

/** One generated transaction of a user block; its text is produced when the block is written. */
export interface SynthRow {
  /** The `_id`, 128 bits as four 32-bit words (kept numeric: no string is built per row). */
  i0: number;
  i1: number;
  i2: number;
  i3: number;
  /** Seconds from the log's first midnight. */
  t: number;
  /** Account of the user, 0 = its main one. */
  account: number;
  merchant: number;
  subsidiary: number;
  e8: number;
  credit: boolean;
}

export type SplitKind = 'equal' | 'near-equal' | 'random' | 'cap-first';
export type Pace = 'fast' | 'medium' | 'slow';

export interface EpisodeRecord {
  id: string;
  scenario: string;
  account: number;
  merchant: number;
  credit: boolean;
  nParts: number;
  totalE8: number;
  originalE8: number;
  firstT: number;
  lastT: number;
  pace: Pace;
  kind: SplitKind;
  /** `_id`s of the parts, in time order (retry duplicates share them and are not listed again). */
  partIds: string[];
}

/** Everything one user contributes to the three files. */
export interface UserBlock {
  /** 32-hex ASCII of the user id. */
  userId: Uint8Array;
  /** 32-hex ASCII of each account number, main account first. */
  accountIds: Uint8Array[];
  /** `account_number,user_id` ASCII per account: the default column order writes both with one copy. */
  accountUserIds: Uint8Array[];
  /** Output order: by time within the user, each retry duplicate right after its original. */
  rows: SynthRow[];
  episodes: EpisodeRecord[];
  duplicates: number;
  traits: UserTraits;
}

/**
 * What the generator drew for a user and no detector can see: its habits and its kind of activity. Research tools
 * read them to measure what a detector that knew them would reach ({@link userTraits}); the log never holds them.
 */
export interface UserTraits {
  /** Typical debit amount in units (credits are half of it). */
  typical: number;
  /** Cap of each account in units, main account first. */
  caps: number[];
  /** Amounts (units) the user often pays exactly. */
  favourites: number[];
  creditShare: number;
  /** Expected ordinary transactions per day. */
  rate: number;
  /** Its hard-negative kind, when it is one. */
  kind: 'ordinary' | 'commuter' | 'busy';
  instalments: boolean;
  bursts: boolean;
}

/** Run-wide settings derived once from the options. */
export interface Params {
  seed: number;
  days: number;
  txPerUserDay: number;
  episodeRate: number;
  pCommuter: number;
  pBusy: number;
  pInstalment: number;
  burstUsers: ReadonlySet<number>;
  world: World;
  clock: Clock;
}

/** A user's habits, drawn once and reused by every kind of activity. */
export interface Profile {
  rng: Rng;
  userIndex: number;
  /** Typical debit amount in units. */
  typical: number;
  creditShare: number;
  caps: number[];
  mainMerchant: number;
  usualSubs: number[];
  favourites: number[];
}

/** A row with a fresh random `_id`. */
export function makeRow(
  rng: Rng,
  t: number,
  account: number,
  merchant: number,
  subsidiary: number,
  e8: number,
  credit: boolean,
): SynthRow {
  return {
    i0: rng.u32(),
    i1: rng.u32(),
    i2: rng.u32(),
    i3: rng.u32(),
    t,
    account,
    merchant,
    subsidiary,
    e8,
    credit,
  };
}

/** The `_id` text of a row. */
export function rowId(r: SynthRow): string {
  return idText(r.i0, r.i1, r.i2, r.i3);
}

/** A retry of `row`: same `_id` and content, at second `t` (≤ 1 s later). */
export function retryOf(row: SynthRow, t: number): SynthRow {
  const { i0, i1, i2, i3, account, merchant, subsidiary, e8, credit } = row;
  return { i0, i1, i2, i3, t, account, merchant, subsidiary, e8, credit };
}
