import { asciiViews } from './hex';
import { Rng, cumulative } from './prng';

/** Stream id of the world (merchants, subsidiaries); users use their index, which stays far below it. */
const WORLD_STREAM = 0x7fffffff;

/** Transaction mix over the 3 merchants of the real extract. */
export const MERCHANT_MIX = [0.7, 0.25, 0.05] as const;

/** Share of the subsidiaries that belong to each merchant. */
const SUBSIDIARY_SPLIT = [0.6, 0.3, 0.1] as const;

/** Relative activity per hour of the day: quiet nights, a midday and an early-evening peak. */
const HOURLY = [
  0.6, 0.35, 0.2, 0.15, 0.2, 0.5, 1.5, 3, 4.5, 5.5, 6, 6.5, 7, 6.5, 6, 6, 6.2, 6.8, 7, 6.5, 5.5, 4.5, 3, 1.8,
];
export const HOUR_CDF = cumulative(HOURLY);

/** Merchants and their subsidiaries with a Zipf-like popularity (a few busy branches, a long tail). */
export interface World {
  merchantIds: string[];
  merchantCdf: Float64Array;
  subsidiaryIds: string[];
  /** ASCII of each id, for the row encoder. */
  merchantBytes: Uint8Array[];
  subsidiaryBytes: Uint8Array[];
  /** `merchant_id,subsidiary` per subsidiary (each belongs to one merchant), for the default column order. */
  merchantSubsidiaryBytes: Uint8Array[];
  /** Subsidiary indices of each merchant, in popularity order. */
  merchantSubs: Int32Array[];
  merchantSubCdf: Float64Array[];
}

/** About 17k subsidiaries at the real extract's 3.1M users, never fewer than 300. */
export function subsidiaryCount(users: number): number {
  return Math.max(300, Math.min(17_000, Math.round(10 * Math.sqrt(users))));
}

export function buildWorld(seed: number, users: number): World {
  const rng = new Rng(seed, WORLD_STREAM);
  const merchantIds = MERCHANT_MIX.map(() => rng.hex32());
  const total = subsidiaryCount(users);
  const subsidiaryIds: string[] = [];
  const pairs: string[] = [];
  const merchantSubs: Int32Array[] = [];
  const merchantSubCdf: Float64Array[] = [];
  for (let m = 0; m < MERCHANT_MIX.length; m++) {
    const n = Math.max(3, Math.round(total * SUBSIDIARY_SPLIT[m]));
    const subs = new Int32Array(n);
    const weights: number[] = [];
    for (let r = 0; r < n; r++) {
      subs[r] = subsidiaryIds.length;
      subsidiaryIds.push(rng.hex32());
      pairs.push(`${merchantIds[m]},${subsidiaryIds[subs[r]]}`);
      weights.push(1 / Math.pow(r + 1, 0.95));
    }
    merchantSubs.push(subs);
    merchantSubCdf.push(cumulative(weights));
  }
  return {
    merchantIds,
    merchantCdf: cumulative([...MERCHANT_MIX]),
    subsidiaryIds,
    merchantBytes: asciiViews(merchantIds),
    subsidiaryBytes: asciiViews(subsidiaryIds),
    merchantSubsidiaryBytes: asciiViews(pairs),
    merchantSubs,
    merchantSubCdf,
  };
}

/** A subsidiary of merchant `m` drawn by popularity. */
export function pickSubsidiary(world: World, rng: Rng, m: number): number {
  return world.merchantSubs[m][rng.pick(world.merchantSubCdf[m])];
}

/** Second of the day following the daily rhythm. */
export function secondOfDay(rng: Rng): number {
  return rng.pick(HOUR_CDF) * 3600 + rng.int(3600);
}
