/** Direction of a transaction relative to the account: debit = the account is the origin, credit = the destination. */
export type Direction = 'DEBITO' | 'CREDITO';

/** What an alert's key is built on. */
export type EntityType = 'account' | 'user' | 'user_merchant';

/**
 * One suspected splitting episode: the alert contract every export and the dashboard show
 * (see shared design: alert_id … transaction_ids).
 */
export interface Alert {
  alert_id: string;
  run_id: string;
  method: string;
  entity_type: EntityType;
  user_id: string;
  account_number: string | null;
  merchant_id: string | null;
  direction: Direction;
  /** Local time, `YYYY-MM-DD HH:MM:SS`, no zone (as in the source log). */
  window_start: string;
  window_end: string;
  n_tx: number;
  /** Exact decimal text with 8 decimals. */
  total_amount: string;
  score: number;
  threshold: number;
  /** Human-readable reasons, `; `-separated. */
  reasons: string;
  /** Member `_id`s in time order. */
  transaction_ids: string[];
}

/** Column order of the alert contract (CSV export, results store). */
export const ALERT_COLUMNS = [
  'alert_id',
  'run_id',
  'method',
  'entity_type',
  'user_id',
  'account_number',
  'merchant_id',
  'direction',
  'window_start',
  'window_end',
  'n_tx',
  'total_amount',
  'score',
  'threshold',
  'reasons',
  'transaction_ids',
] as const;
