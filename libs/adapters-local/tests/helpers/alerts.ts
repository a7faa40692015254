import type { Alert } from '@splitwatch/core';

/** A valid alert with readable defaults; override what the test is about. */
export function makeAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    alert_id: 'a-0001',
    run_id: 'run-1',
    method: 'rules',
    entity_type: 'account',
    user_id: 'u'.repeat(32),
    account_number: 'c'.repeat(32),
    merchant_id: 'm'.repeat(32),
    direction: 'DEBITO',
    window_start: '2021-03-04 05:06:07',
    window_end: '2021-03-05 05:06:06',
    n_tx: 3,
    total_amount: '1234.56789012',
    score: 0.5,
    threshold: 0.4,
    reasons: 'sum above 1000; 3 parts in 24 h',
    transaction_ids: ['t1', 't2', 't3'],
    ...overrides,
  };
}
