import { DAY, type Clock } from './calendar';
import { asciiViews, writeWordHex } from './hex';
import type { SynthRow, UserBlock } from './model';
import type { TransactionColumn } from './options';
import type { World } from './world';

/** Upper bound of one encoded row, to reserve buffer space before encoding. */
export const MAX_ROW_BYTES = 512;

const COMMA = 44;
const NEWLINE = 10;
const [DEBITO, CREDITO] = asciiViews(['DEBITO', 'CREDITO']);
const FIELD: Record<TransactionColumn, number> = {
  _id: 0,
  merchant_id: 1,
  subsidiary: 2,
  transaction_date: 3,
  account_number: 4,
  user_id: 5,
  transaction_amount: 6,
  transaction_type: 7,
};
/** Adjacent columns that are copied as one pre-joined piece. */
const MERCHANT_SUBSIDIARY = 8;
const ACCOUNT_USER = 9;

function two(buf: Uint8Array, pos: number, n: number): void {
  buf[pos] = 48 + ((n / 10) | 0);
  buf[pos + 1] = 48 + (n % 10);
}

/** `YYYY-MM-DD HH:MM:SS` of log-relative second `t`. */
function writeTimestamp(buf: Uint8Array, pos: number, clock: Clock, t: number): number {
  const day = Math.floor(t / DAY);
  const s = t - day * DAY;
  buf.set(clock.dateBytes[day], pos);
  pos += 10;
  buf[pos] = 32;
  two(buf, pos + 1, (s / 3600) | 0);
  buf[pos + 3] = 58;
  two(buf, pos + 4, ((s / 60) | 0) % 60);
  buf[pos + 6] = 58;
  two(buf, pos + 7, s % 60);
  return pos + 9;
}

/**
 * Exact decimal text of an integer count of 1e-8, with 8 decimals (same text as `formatE8`). Both halves fit in
 * int32 for every amount a row can hold (< 21 474 836.48), which keeps the digit loops on integer maths.
 */
function writeE8(buf: Uint8Array, pos: number, v: number): number {
  let whole = Math.floor(v / 100_000_000) | 0;
  let frac = (v - whole * 100_000_000) | 0;
  let digits = 1;
  for (let x = whole; x >= 10; x = (x / 10) | 0) digits++;
  for (let i = digits - 1; i >= 0; i--) {
    buf[pos + i] = 48 + (whole % 10);
    whole = (whole / 10) | 0;
  }
  pos += digits;
  buf[pos++] = 46;
  for (let i = 7; i >= 0; i--) {
    buf[pos + i] = 48 + (frac % 10);
    frac = (frac / 10) | 0;
  }
  return pos + 8;
}

/** Writes transaction rows as CSV bytes in the given column order. */
export class RowEncoder {
  private readonly fields: Uint8Array;

  constructor(
    order: readonly TransactionColumn[],
    private readonly world: World,
    private readonly clock: Clock,
  ) {
    const codes: number[] = [];
    for (let i = 0; i < order.length; i++) {
      const pair = `${order[i]},${order[i + 1]}`;
      if (pair === 'merchant_id,subsidiary' || pair === 'account_number,user_id') {
        codes.push(pair === 'merchant_id,subsidiary' ? MERCHANT_SUBSIDIARY : ACCOUNT_USER);
        i++;
      } else {
        codes.push(FIELD[order[i]]);
      }
    }
    this.fields = Uint8Array.from(codes);
  }

  /** Encodes `row` at `pos` (at least {@link MAX_ROW_BYTES} free) and returns the position after its newline. */
  encode(buf: Uint8Array, pos: number, block: UserBlock, row: SynthRow): number {
    const f = this.fields;
    for (let k = 0; k < f.length; k++) {
      if (k > 0) buf[pos++] = COMMA;
      switch (f[k]) {
        case 0:
          pos = writeWordHex(
            buf,
            writeWordHex(buf, writeWordHex(buf, writeWordHex(buf, pos, row.i0), row.i1), row.i2),
            row.i3,
          );
          break;
        case 1:
          buf.set(this.world.merchantBytes[row.merchant], pos);
          pos += 32;
          break;
        case 2:
          buf.set(this.world.subsidiaryBytes[row.subsidiary], pos);
          pos += 32;
          break;
        case 3:
          pos = writeTimestamp(buf, pos, this.clock, row.t);
          break;
        case 4:
          buf.set(block.accountIds[row.account], pos);
          pos += 32;
          break;
        case 5:
          buf.set(block.userId, pos);
          pos += 32;
          break;
        case 6:
          pos = writeE8(buf, pos, row.e8);
          break;
        case MERCHANT_SUBSIDIARY:
          buf.set(this.world.merchantSubsidiaryBytes[row.subsidiary], pos);
          pos += 65;
          break;
        case ACCOUNT_USER:
          buf.set(block.accountUserIds[row.account], pos);
          pos += 65;
          break;
        default: {
          const word = row.credit ? CREDITO : DEBITO;
          buf.set(word, pos);
          pos += word.length;
        }
      }
    }
    buf[pos] = NEWLINE;
    return pos + 1;
  }
}
