import type { WindowRow } from './rules';
import { median } from './window-vector';

/** Earlier amounts of the owner's other keys that its typical amount looks at. */
export const OWNER_PAST_AMOUNTS = 200;

/**
 * The amounts of one key's owner on its other keys — its other accounts, and the other direction of this one —
 * in time order: what the owner usually pays or receives elsewhere, which the key's own history does not see (a key
 * new to the log, or with few transactions, often belongs to an owner with a long history on another). The split
 * score compares a window with it ({@link SplitBaseline.ownerAmount}); only amounts strictly before a time are read.
 */
export class OtherKeysHistory {
  private medianAt = -1;
  private medianValue = Number.NaN;

  private constructor(
    private readonly ts: Float64Array,
    private readonly amounts: Float64Array,
  ) {}

  /** How many of the other keys' transactions are strictly before `ts`. */
  countBefore(ts: number): number {
    let lo = 0;
    let hi = this.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ts[mid] < ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The median of the last {@link OWNER_PAST_AMOUNTS} amounts strictly before `ts` (NaN when there is none). */
  medianBefore(ts: number): number {
    return this.medianOfFirst(this.countBefore(ts));
  }

  /**
   * The median of the last {@link OWNER_PAST_AMOUNTS} of the first `end` amounts (NaN when `end` is 0), for a caller
   * that already has {@link countBefore}'s answer; kept for the last `end` asked (it changes only as windows move on).
   */
  medianOfFirst(end: number): number {
    if (end === 0) return Number.NaN;
    if (end !== this.medianAt) {
      this.medianValue = median(this.amounts.subarray(Math.max(0, end - OWNER_PAST_AMOUNTS), end));
      this.medianAt = end;
    }
    return this.medianValue;
  }

  /**
   * For each of one owner's keys (each a list of rows of one account and direction, in time order), the history of
   * the owner's other keys, or undefined when it has no other key. Keys are compared by account and direction only:
   * hand over the keys of one owner.
   */
  static ofOwner(keys: readonly WindowRow[][]): (OtherKeysHistory | undefined)[] {
    if (keys.length < 2) return keys.map(() => undefined);
    const all: { ts: number; amount: number; key: number }[] = [];
    keys.forEach((rows, key) => {
      for (const r of rows) all.push({ ts: r.ts, amount: Number(r.amount), key });
    });
    all.sort((a, b) => a.ts - b.ts || a.key - b.key);
    return keys.map((_, key) => {
      const n = all.length - keys[key].length;
      const ts = new Float64Array(n);
      const amounts = new Float64Array(n);
      let j = 0;
      for (const t of all) {
        if (t.key === key) continue;
        ts[j] = t.ts;
        amounts[j++] = t.amount;
      }
      return new OtherKeysHistory(ts, amounts);
    });
  }

  /**
   * The histories of every key of a log, its keys grouped by owner (`user_id` of the key's first row): keys[k]'s
   * history at index k.
   */
  static ofKeys(keys: readonly WindowRow[][]): (OtherKeysHistory | undefined)[] {
    const byOwner = new Map<string, number[]>();
    keys.forEach((rows, k) => {
      const owner = rows[0]?.user_id ?? '';
      const list = byOwner.get(owner);
      if (list) list.push(k);
      else byOwner.set(owner, [k]);
    });
    const out: (OtherKeysHistory | undefined)[] = keys.map(() => undefined);
    for (const ks of byOwner.values()) {
      const histories = OtherKeysHistory.ofOwner(ks.map((k) => keys[k]));
      ks.forEach((k, i) => (out[k] = histories[i]));
    }
    return out;
  }
}
