import { parseDate } from './calendar';

/** The eight columns of the input contract, in the order written unless `columnOrder` says otherwise. */
export const TRANSACTION_COLUMNS = [
  '_id',
  'merchant_id',
  'subsidiary',
  'transaction_date',
  'account_number',
  'user_id',
  'transaction_amount',
  'transaction_type',
] as const;
export type TransactionColumn = (typeof TRANSACTION_COLUMNS)[number];

/** What to generate. Only `users`, `days` and `seed` are required. */
export interface SynthOptions {
  users: number;
  days: number;
  seed: number;
  /** First day of the log, `YYYY-MM-DD`; default `2021-01-01` like the real extract. */
  startDate?: string;
  /** Share of users with at least one labelled split episode; default 0.02. */
  episodeRate?: number;
  /** `csv.gz` gzips `transactions` only; labels and episodes stay plain CSV. Default `csv`. */
  format?: 'csv' | 'csv.gz';
  /**
   * Mean ordinary transactions per user per day, in (0, 1]. Default 0.0191, which with the hard negatives gives
   * the real extract's 21.5M rows over 3.1M users and 334 days; short demo logs use more so that users have a
   * history to compare an episode against. It saturates near 0.9: ordinary users are active on at most 92% of
   * days and mostly transact once on a day.
   */
  txPerUserDay?: number;
  /** A permutation of {@link TRANSACTION_COLUMNS}, to test readers that must not rely on column order. */
  columnOrder?: readonly TransactionColumn[];
}

/** Options are invalid; the message names the option and the value. */
export class SynthOptionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SynthOptionsError';
  }
}

export interface ResolvedOptions {
  users: number;
  days: number;
  seed: number;
  startEpochDay: number;
  startDate: string;
  episodeRate: number;
  format: 'csv' | 'csv.gz';
  txPerUserDay: number;
  columnOrder: readonly TransactionColumn[];
}

const MAX_DAYS = 3660;

/** Fills defaults and fails fast, naming the bad option. */
export function resolveOptions(o: SynthOptions): ResolvedOptions {
  const int = (name: string, v: unknown, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new SynthOptionsError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const users = int('users', o.users, 1, 100_000_000);
  const days = int('days', o.days, 1, MAX_DAYS);
  const seed = int('seed', o.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const startDate = o.startDate ?? '2021-01-01';
  const startEpochDay = parseDate(startDate);
  if (startEpochDay === undefined) {
    throw new SynthOptionsError(
      `startDate must be a calendar date YYYY-MM-DD, got ${JSON.stringify(startDate)}`,
    );
  }
  const episodeRate = o.episodeRate ?? 0.02;
  if (typeof episodeRate !== 'number' || !(episodeRate >= 0 && episodeRate <= 1)) {
    throw new SynthOptionsError(`episodeRate must be in [0, 1], got ${JSON.stringify(o.episodeRate)}`);
  }
  const txPerUserDay = o.txPerUserDay ?? 0.0191;
  if (typeof txPerUserDay !== 'number' || !(txPerUserDay > 0 && txPerUserDay <= 1)) {
    throw new SynthOptionsError(`txPerUserDay must be in (0, 1], got ${JSON.stringify(o.txPerUserDay)}`);
  }
  const format = o.format ?? 'csv';
  if (format !== 'csv' && format !== 'csv.gz') {
    throw new SynthOptionsError(`format must be "csv" or "csv.gz", got ${JSON.stringify(o.format)}`);
  }
  const columnOrder = o.columnOrder ?? TRANSACTION_COLUMNS;
  const sorted = [...columnOrder].sort().join(',');
  if (
    columnOrder.length !== TRANSACTION_COLUMNS.length ||
    sorted !== [...TRANSACTION_COLUMNS].sort().join(',')
  ) {
    throw new SynthOptionsError(
      `columnOrder must be a permutation of ${TRANSACTION_COLUMNS.join(',')}, got ${JSON.stringify(o.columnOrder)}`,
    );
  }
  return { users, days, seed, startEpochDay, startDate, episodeRate, format, txPerUserDay, columnOrder };
}

/**
 * Named sizes. `tiny` is for unit tests (well under a second); `small` and `default` are denser than the real
 * log (about 0.5 transactions per user-day instead of 0.02) so a 30-day window still gives users a history;
 * `nequi` matches the real extract's size and sparsity (≈21.5M rows, 2021-01-01 → 2021-11-30).
 */
export const SYNTH_PRESETS: Record<'tiny' | 'small' | 'default' | 'nequi', SynthOptions> = {
  tiny: { users: 400, days: 7, seed: 7, episodeRate: 0.05, txPerUserDay: 0.5 },
  small: { users: 5_000, days: 30, seed: 42, txPerUserDay: 0.5 },
  default: { users: 20_000, days: 30, seed: 42, txPerUserDay: 0.5 },
  nequi: { users: 2_990_000, days: 334, seed: 2021, startDate: '2021-01-01' },
};
