import { OtherKeysHistory, OWNER_PAST_AMOUNTS, type WindowRow } from '../src';

const T0 = 1609459200; // 2021-01-01 00:00:00

function row(account: string, direction: 'DEBITO' | 'CREDITO', ts: number, amount: number, user = 'u1'): WindowRow {
  return {
    tx_id: `${account}-${direction}-${ts}`,
    user_id: user,
    account_number: account,
    merchant_id: 'm',
    subsidiary: 's',
    direction,
    transaction_date: '',
    ts: T0 + ts,
    amount: amount.toFixed(8),
    n_tx: 1,
    sum_amount: amount.toFixed(8),
    z_sum: null,
    hist_days: 0,
    base_mean_daily_sum: null,
  };
}

describe("an owner's history on its other keys", () => {
  const debit = [row('a1', 'DEBITO', 0, 10), row('a1', 'DEBITO', 100, 20), row('a1', 'DEBITO', 200, 30)];
  const credit = [row('a1', 'CREDITO', 50, 1000), row('a1', 'CREDITO', 150, 3000)];
  const second = [row('a2', 'DEBITO', 120, 500)];

  it("reads only the owner's other keys, strictly before a time", () => {
    const [ofDebit, ofCredit, ofSecond] = OtherKeysHistory.ofOwner([debit, credit, second]);
    // The debit key sees the credits and the second account, never its own amounts.
    expect(ofDebit!.countBefore(T0 + 50)).toBe(0);
    expect(ofDebit!.medianBefore(T0 + 50)).toBeNaN();
    expect(ofDebit!.countBefore(T0 + 51)).toBe(1);
    expect(ofDebit!.medianBefore(T0 + 121)).toBe(750); // 1000 and 500
    expect(ofDebit!.medianBefore(T0 + 1e6)).toBe(1000); // 500, 1000, 3000
    // The credit key sees the debits of both accounts.
    expect(ofCredit!.medianBefore(T0 + 1e6)).toBe(25); // 10, 20, 30, 500
    expect(ofSecond!.countBefore(T0 + 1e6)).toBe(5);
  });

  it('keeps only the last amounts', () => {
    const many = Array.from({ length: OWNER_PAST_AMOUNTS + 50 }, (_, i) => row('a1', 'CREDITO', i, i < 50 ? 1e6 : 7));
    const [ofDebit] = OtherKeysHistory.ofOwner([debit, many]);
    expect(ofDebit!.countBefore(T0 + 1e6)).toBe(OWNER_PAST_AMOUNTS + 50);
    expect(ofDebit!.medianBefore(T0 + 1e6)).toBe(7); // the 50 large early amounts are past the last 200
    expect(ofDebit!.medianBefore(T0 + 60)).toBe(1e6);
  });

  it('gives a key without other keys of its owner no history, grouping a log by owner', () => {
    expect(OtherKeysHistory.ofOwner([debit])).toEqual([undefined]);
    const alone = [row('b1', 'DEBITO', 10, 99, 'u2'), row('b1', 'DEBITO', 20, 99, 'u2')];
    const histories = OtherKeysHistory.ofKeys([debit, alone, credit]);
    expect(histories[1]).toBeUndefined();
    expect(histories[0]!.medianBefore(T0 + 1e6)).toBe(2000);
    expect(histories[2]!.medianBefore(T0 + 1e6)).toBe(20);
  });
});
