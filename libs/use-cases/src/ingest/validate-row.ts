import { INPUT_COLUMNS, InputFormatError, type InputColumn } from '@splitwatch/core';
import type { ColumnMap } from './column-map';

/** A row that passed validation, normalised to the curated form. */
export interface ValidRow {
  tx_id: string;
  merchant_id: string;
  subsidiary: string;
  transaction_date: string;
  account_number: string;
  user_id: string;
  transaction_amount: string;
  transaction_type: 'DEBITO' | 'CREDITO';
}

/** Why a row was rejected: the column at fault (or `*` for the whole row) and a readable reason. */
export interface RowRejection {
  column: string;
  reason: string;
}

/** Where each contract column sits in a file's records, and what else the file carries. */
export interface HeaderMapping {
  /** Position of each contract column in a record. */
  positions: Record<InputColumn, number>;
  /** Header names of the columns that are not mapped to the contract (kept aside, never fatal). */
  extra: string[];
  /** Their positions, in the same order as `extra`. */
  extraPositions: number[];
}

/** Largest integer part DECIMAL(24,8) holds. */
export const MAX_INT_DIGITS = 16;
/** Longest id kept; anything longer is not an id but a broken row. */
export const MAX_ID_CHARS = 128;
const MAX_SHOWN_HEADER_CHARS = 300;

/**
 * Maps a header to the positions of the contract's columns. Column order is free, names are matched
 * case-insensitively after trimming; `columnMap` renames (contract column → the file's header name) for logs
 * with another schema. Columns not mapped are returned as extra, to be kept aside.
 * @throws InputFormatError naming the missing columns, what was expected and the header that was found.
 * @example mapHeader(['id', 'amount', …], 'raw/x.csv', { _id: 'id', transaction_amount: 'amount' })
 */
export function mapHeader(header: string[], source: string, columnMap: ColumnMap = {}): HeaderMapping {
  const normalised = header.map((h) => h.trim().toLowerCase());
  const positions = {} as Record<InputColumn, number>;
  const missing: string[] = [];
  const expected: string[] = [];
  for (const col of INPUT_COLUMNS) {
    const name = columnMap[col] ?? col;
    expected.push(name === col ? col : `${name} (as ${col})`);
    const idx = normalised.indexOf(name.trim().toLowerCase());
    if (idx < 0) missing.push(name === col ? col : `${name} (for ${col})`);
    else if (normalised.indexOf(normalised[idx], idx + 1) >= 0) {
      throw new InputFormatError(
        `${source}: column ${name} appears more than once in the header; found ${shownHeader(header)}`,
      );
    } else positions[col] = idx;
  }
  if (missing.length > 0) {
    throw new InputFormatError(
      `${source}: missing column(s) ${missing.join(', ')}; expected ${expected.join(',')}; found ${shownHeader(header)}`,
    );
  }
  const used = new Set<number>(Object.values(positions));
  const extra: string[] = [];
  const extraPositions: number[] = [];
  header.forEach((h, i) => {
    if (!used.has(i)) {
      extra.push(h);
      extraPositions.push(i);
    }
  });
  return { positions, extra, extraPositions };
}

function shownHeader(header: string[]): string {
  const text = header.join(',');
  if (text === '') return '(empty header)';
  return text.length > MAX_SHOWN_HEADER_CHARS
    ? `${text.slice(0, MAX_SHOWN_HEADER_CHARS)}… (${header.length} fields)`
    : text;
}

const D0 = 48;
const isDigit = (c: number) => c >= D0 && c <= D0 + 9;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function digits2(s: string, at: number): number {
  const a = s.charCodeAt(at) - D0;
  const b = s.charCodeAt(at + 1) - D0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * `YYYY-MM-DD HH:MM:SS` (or `T` between date and time, optional fraction of up to 9 digits) → the wall-clock
 * time at second resolution, as given (no zone, never shifted; fractions are dropped). Null when not a real time.
 */
export function normaliseTimestamp(text: string): string | null {
  const n = text.length;
  if (n < 19 || n > 29) return null;
  if (
    text.charCodeAt(4) !== 45 ||
    text.charCodeAt(7) !== 45 ||
    text.charCodeAt(13) !== 58 ||
    text.charCodeAt(16) !== 58
  )
    return null;
  const sep = text.charCodeAt(10);
  if (sep !== 32 && sep !== 84) return null;
  const hi = digits2(text, 0);
  const lo = digits2(text, 2);
  const mo = digits2(text, 5);
  const d = digits2(text, 8);
  const h = digits2(text, 11);
  const mi = digits2(text, 14);
  const se = digits2(text, 17);
  if (
    hi < 0 ||
    lo < 0 ||
    mo < 1 ||
    mo > 12 ||
    d < 1 ||
    h < 0 ||
    h > 23 ||
    mi < 0 ||
    mi > 59 ||
    se < 0 ||
    se > 59
  )
    return null;
  const y = hi * 100 + lo;
  if (y < 1900 || y > 2999) return null;
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  if (d > DAYS_IN_MONTH[mo] + (leap ? 1 : 0)) return null;
  if (n > 19) {
    if (text.charCodeAt(19) !== 46 || n === 20) return null;
    for (let i = 20; i < n; i++) if (!isDigit(text.charCodeAt(i))) return null;
  }
  return n === 19 && sep === 32 ? text : `${text.slice(0, 10)} ${text.slice(11, 19)}`;
}

/**
 * Checks decimal text and returns it in the curated form (`<integer>.<8 decimals>`) without ever going through a
 * float, or why it is not a positive DECIMAL(24,8).
 * @example normaliseAmount('71.3') === '71.30000000'; normaliseAmount('-5') → { reason: 'not positive: "-5"' }
 */
export function normaliseAmount(text: string): string | { reason: string } {
  const n = text.length;
  let i = 0;
  let negative = false;
  const sign = text.charCodeAt(0);
  if (sign === 43 || sign === 45) {
    negative = sign === 45;
    i = 1;
  }
  const intStart = i;
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < n && text.charCodeAt(i) === 46) {
    fracStart = ++i;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
    fracEnd = i;
  }
  if (i !== n || (intEnd === intStart && fracEnd === fracStart))
    return { reason: `not a decimal number: ${clip(text)}` };
  if (fracEnd - fracStart > 8) return { reason: `more than 8 decimals: ${clip(text)}` };
  let lead = intStart;
  while (lead < intEnd && text.charCodeAt(lead) === D0) lead++;
  let nonZero = lead < intEnd;
  for (let k = fracStart; !nonZero && k < fracEnd; k++) nonZero = text.charCodeAt(k) !== D0;
  if (!nonZero || negative) return { reason: `not positive: ${clip(text)}` };
  if (intEnd - lead > MAX_INT_DIGITS) return { reason: `does not fit DECIMAL(24,8): ${clip(text)}` };
  const int = lead < intEnd ? text.slice(lead, intEnd) : '0';
  const frac = text.slice(fracStart, fracEnd);
  return `${int}.${frac.length === 8 ? frac : (frac + '00000000').slice(0, 8)}`;
}

function normaliseType(raw: string): 'DEBITO' | 'CREDITO' | null {
  if (raw === 'DEBITO' || raw === 'CREDITO') return raw;
  const t = raw.toUpperCase().replace(/\s+/g, '');
  return t === 'DEBITO' || t === 'CREDITO' ? t : null;
}

type Text = string | null | undefined;

function checkId(value: Text, column: InputColumn): string | RowRejection {
  const v = value == null ? '' : value.trim();
  if (v === '') return { column, reason: 'empty value' };
  if (v.length > MAX_ID_CHARS) return { column, reason: `longer than ${MAX_ID_CHARS} characters` };
  return v;
}

/**
 * Validates the eight contract values of one row (positional, in contract order) and returns the normalised row
 * or the first problem found, checking columns in contract order. The hot path of ingest: no regular
 * expressions, no BigInt, no allocation beyond the output for a clean row.
 */
export function validateValues(
  id: Text,
  merchant: Text,
  subsidiary: Text,
  date: Text,
  account: Text,
  user: Text,
  amount: Text,
  type: Text,
): ValidRow | RowRejection {
  const tx_id = checkId(id, '_id');
  if (typeof tx_id !== 'string') return tx_id;
  const merchant_id = checkId(merchant, 'merchant_id');
  if (typeof merchant_id !== 'string') return merchant_id;
  const sub = checkId(subsidiary, 'subsidiary');
  if (typeof sub !== 'string') return sub;
  const account_number = checkId(account, 'account_number');
  if (typeof account_number !== 'string') return account_number;
  const user_id = checkId(user, 'user_id');
  if (typeof user_id !== 'string') return user_id;

  const rawTs = date == null ? '' : date.trim();
  if (rawTs === '') return { column: 'transaction_date', reason: 'empty value' };
  const transaction_date = normaliseTimestamp(rawTs);
  if (transaction_date === null) {
    return {
      column: 'transaction_date',
      reason: `not a valid YYYY-MM-DD HH:MM:SS timestamp: ${clip(rawTs)}`,
    };
  }

  const rawAmount = amount == null ? '' : amount.trim();
  if (rawAmount === '') return { column: 'transaction_amount', reason: 'empty value' };
  const transaction_amount = normaliseAmount(rawAmount);
  if (typeof transaction_amount !== 'string')
    return { column: 'transaction_amount', reason: transaction_amount.reason };

  const rawType = type == null ? '' : type;
  const transaction_type = normaliseType(rawType);
  if (transaction_type === null) {
    const shown = rawType.trim();
    if (shown === '') return { column: 'transaction_type', reason: 'empty value' };
    return { column: 'transaction_type', reason: `expected DEBITO or CREDITO, got ${clip(shown)}` };
  }
  return {
    tx_id,
    merchant_id,
    subsidiary: sub,
    transaction_date,
    account_number,
    user_id,
    transaction_amount,
    transaction_type,
  };
}

/**
 * Validates one row given as text values by column. Returns the normalised row or the first problem found.
 * Amounts stay exact: they are checked and re-formatted as text with 8 decimals, never parsed as floats.
 */
export function validateRow(get: (col: InputColumn) => string | null | undefined): ValidRow | RowRejection {
  return validateValues(
    get('_id'),
    get('merchant_id'),
    get('subsidiary'),
    get('transaction_date'),
    get('account_number'),
    get('user_id'),
    get('transaction_amount'),
    get('transaction_type'),
  );
}

export function isRejection(v: ValidRow | RowRejection): v is RowRejection {
  return (v as RowRejection).reason !== undefined;
}

/** A value shown in a reason: JSON-quoted, so empty strings, spaces and control bytes are visible; long ones cut. */
export function clip(s: string): string {
  return s.length > 60 ? `${JSON.stringify(s.slice(0, 60))}…` : JSON.stringify(s);
}
