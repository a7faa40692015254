import type { Alert } from '@splitwatch/core';
import { describeAlert } from '../src/commands/show.command';

const alert: Alert = {
  alert_id: 'a1',
  run_id: 'r1',
  method: 'rule:split',
  entity_type: 'account',
  user_id: 'u1',
  account_number: 'acc1',
  merchant_id: null,
  direction: 'DEBITO',
  window_start: '2021-01-01 09:00:00',
  window_end: '2021-01-01 09:20:00',
  n_tx: 2,
  total_amount: '600.00000000',
  score: 3.76,
  threshold: 0,
  reasons: 'base -12.30; 2 parts totalling 600.00 (+0.93); likely original amount 600.00 in 2 parts',
  transaction_ids: ['t1', 't2'],
};

describe('alerts show', () => {
  it('prints who, when and how much, one reason a line, and each member from the lake or says it is not there', () => {
    const member = { tx_id: 't1', transaction_date: '2021-01-01 09:00:00', transaction_amount: '300.00000000', merchant_id: 'm1', subsidiary: 's1', transaction_type: 'DEBITO' };
    const lines = describeAlert(alert, new Map([['t1', member]]));
    expect(lines.slice(0, 8)).toEqual([
      'alert a1 (rule:split), score 3.76 (threshold 0), written by run r1',
      '  account acc1, user u1, DEBITO, merchant —',
      '  2 parts totalling 600.00000000, 2021-01-01 09:00:00 → 2021-01-01 09:20:00',
      '  reasons:',
      '    base -12.30',
      '    2 parts totalling 600.00 (+0.93)',
      '    likely original amount 600.00 in 2 parts',
      '  transactions:',
    ]);
    expect(lines[8]).toMatch(/^ {4}time +amount +merchant +branch +type +_id/);
    expect(lines[10]).toMatch(/^ {4}2021-01-01 09:00:00 +300\.00000000 +m1 +s1 +DEBITO +t1/);
    expect(lines[11]).toMatch(/^ {4}\(not in the lake\) +t2/);
    expect(lines).toHaveLength(12);
  });
});
