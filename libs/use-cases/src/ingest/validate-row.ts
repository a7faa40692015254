import { INPUT_COLUMNS, InputFormatError, formatDecimalUnits, parseDecimalUnits, type InputColumn } from '@splitwatch/core';

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

/** Largest integer part DECIMAL(24,8) holds. */
const MAX_INT_DIGITS = 16;
const MAX_ID_CHARS = 128;
const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?$/;

/**
 * Maps a header to the positions of the contract's columns. Column order is free, names are matched
 * case-insensitively after trimming; extra columns are allowed and reported.
 * @throws InputFormatError naming the missing columns and the header that was found.
 */
export function mapHeader(header: string[], source: string): { positions: Record<InputColumn, number>; extra: string[] } {
  const normalised = header.map((h) => h.trim().toLowerCase());
  const positions = {} as Record<InputColumn, number>;
  const missing: string[] = [];
  for (const col of INPUT_COLUMNS) {
    const idx = normalised.indexOf(col);
    if (idx < 0) missing.push(col);
    else positions[col] = idx;
  }
  if (missing.length > 0) {
    throw new InputFormatError(
      `${source}: missing column(s) ${missing.join(', ')}; expected ${INPUT_COLUMNS.join(',')}; found ${header.join(',') || '(empty header)'}`,
    );
  }
  const extra = header.filter((_, i) => !Object.values(positions).includes(i));
  return { positions, extra };
}

function checkTimestamp(text: string): string | null {
  const m = TS_RE.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth || y < 1900 || y > 2999) return null;
  // Second resolution, no zone: fractions are dropped, the wall-clock time is kept as given.
  return `${m[1]}-${m[2]}-${m[3]} ${m[4]}:${m[5]}:${m[6]}`;
}

/**
 * Validates one row given as text values by column. Returns the normalised row or the first problem found.
 * Amounts stay exact: they are checked and re-formatted as text with 8 decimals, never parsed as floats.
 */
export function validateRow(get: (col: InputColumn) => string | null | undefined): ValidRow | RowRejection {
  const text = (col: InputColumn) => (get(col) ?? '').trim();
  const out: Partial<ValidRow> = {};
  for (const col of ['_id', 'merchant_id', 'subsidiary', 'account_number', 'user_id'] as const) {
    const v = text(col);
    if (v === '') return { column: col, reason: 'empty value' };
    if (v.length > MAX_ID_CHARS) return { column: col, reason: `longer than ${MAX_ID_CHARS} characters` };
    if (col === '_id') out.tx_id = v;
    else out[col] = v;
  }
  const rawTs = text('transaction_date');
  if (rawTs === '') return { column: 'transaction_date', reason: 'empty value' };
  const ts = checkTimestamp(rawTs);
  if (!ts) return { column: 'transaction_date', reason: `not a valid YYYY-MM-DD HH:MM:SS timestamp: ${clip(rawTs)}` };
  out.transaction_date = ts;

  const rawAmount = text('transaction_amount');
  if (rawAmount === '') return { column: 'transaction_amount', reason: 'empty value' };
  const units = /^[+]?\d*(\.\d*)?$/.test(rawAmount) ? parseDecimalUnits(rawAmount.replace(/^\+/, '')) : null;
  if (units === null) {
    const tooPrecise = /^\d*\.\d{9,}$/.test(rawAmount);
    return {
      column: 'transaction_amount',
      reason: tooPrecise ? `more than 8 decimals: ${clip(rawAmount)}` : `not a decimal number: ${clip(rawAmount)}`,
    };
  }
  if (units <= 0n) return { column: 'transaction_amount', reason: `not positive: ${clip(rawAmount)}` };
  const formatted = formatDecimalUnits(units);
  if (formatted.indexOf('.') > MAX_INT_DIGITS) {
    return { column: 'transaction_amount', reason: `does not fit DECIMAL(24,8): ${clip(rawAmount)}` };
  }
  out.transaction_amount = formatted;

  const type = text('transaction_type').toUpperCase().replace(/\s+/g, '');
  if (type !== 'DEBITO' && type !== 'CREDITO') {
    return { column: 'transaction_type', reason: `expected DEBITO or CREDITO, got ${clip(text('transaction_type')) || '(empty)'}` };
  }
  out.transaction_type = type;
  return out as ValidRow;
}

export function isRejection(v: ValidRow | RowRejection): v is RowRejection {
  return (v as RowRejection).reason !== undefined;
}

function clip(s: string): string {
  return s.length > 60 ? `${JSON.stringify(s.slice(0, 60))}…` : JSON.stringify(s);
}
