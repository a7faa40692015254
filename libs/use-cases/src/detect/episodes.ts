import { createHash } from 'node:crypto';
import { sumDecimals, type Alert, type DetectionConfig } from '@splitwatch/core';
import { evaluateRules, type RuleHit, type WindowRow } from './rules';

interface OpenEpisode {
  hit: RuleHit;
  firstAnchorTs: number;
  lastAnchorTs: number;
}

/** Deterministic alert id: the same episode found again by a re-run gets the same id. */
export function alertIdOf(method: string, account: string, direction: string, firstTxId: string): string {
  return createHash('sha256').update(`${method}|account|${account}|${direction}|${firstTxId}`).digest('hex').slice(0, 32);
}

function mostCommon(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
}

/**
 * Turns the windows of one key (one account and direction, sorted by time) into alert episodes, one list
 * per method. Windows that fire and overlap in time merge into one episode: its members are every
 * transaction from the first firing window's start to the last firing transaction.
 */
export function buildEpisodes(rows: WindowRow[], config: DetectionConfig, runId: string): Alert[] {
  const windowSeconds = Math.round(config.windowHours * 3600);
  const open = new Map<string, OpenEpisode>();
  const closed: OpenEpisode[] = [];
  for (const row of rows) {
    for (const hit of evaluateRules(row, config)) {
      const ep = open.get(hit.method);
      if (ep && row.ts - windowSeconds <= ep.lastAnchorTs) {
        ep.lastAnchorTs = row.ts;
        if (hit.score > ep.hit.score) ep.hit = hit;
      } else {
        if (ep) closed.push(ep);
        open.set(hit.method, { hit, firstAnchorTs: row.ts, lastAnchorTs: row.ts });
      }
    }
  }
  closed.push(...open.values());
  return closed.map((ep) => {
    const members = rows.filter((r) => r.ts >= ep.firstAnchorTs - windowSeconds && r.ts <= ep.lastAnchorTs);
    const first = members[0];
    return {
      alert_id: alertIdOf(ep.hit.method, first.account_number, first.direction, first.tx_id),
      run_id: runId,
      method: ep.hit.method,
      entity_type: 'account',
      user_id: first.user_id,
      account_number: first.account_number,
      merchant_id: mostCommon(members.map((m) => m.merchant_id)),
      direction: first.direction,
      window_start: first.transaction_date,
      window_end: members[members.length - 1].transaction_date,
      n_tx: members.length,
      total_amount: sumDecimals(members.map((m) => m.amount)),
      score: Math.round(ep.hit.score * 1e6) / 1e6,
      threshold: ep.hit.threshold,
      reasons: ep.hit.reason,
      transaction_ids: members.map((m) => m.tx_id),
    } satisfies Alert;
  });
}
