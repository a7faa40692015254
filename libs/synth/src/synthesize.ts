import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatE8 } from './amounts';
import { viewText } from './hex';
import { Clock } from './calendar';
import type { EpisodeRecord, Params, UserBlock, UserTraits } from './model';
import { resolveOptions, type SynthOptions } from './options';
import { MAX_ROW_BYTES, RowEncoder } from './row-encoder';
import { TextSink } from './text-sink';
import { BUSY_RATE, COMMUTER_RATE, INSTALMENT_ROWS, generateUserBlock } from './user-block';
import { buildWorld, type World } from './world';

/** Counts and paths of one synthesised log. `rows` includes the retry duplicates. */
export interface SynthSummary {
  rows: number;
  users: number;
  accounts: number;
  episodes: number;
  labelledTransactions: number;
  duplicates: number;
  files: { transactions: string; labels: string; episodes: string };
}

export interface SynthProgress {
  rowsWritten: number;
  usersDone: number;
  usersTotal: number;
}

/** Target shares of all rows for each hard-negative kind; user shares follow from the activity rate. */
const ROW_SHARE = { commuter: 0.015, busy: 0.02, instalment: 0.01 };
/** One micro-burst account per 100k users (about 31 in the real extract's population), at least one. */
const USERS_PER_BURST = 100_000;
const PROGRESS_EVERY = 100_000;

const EPISODE_HEADER =
  'episode_id,scenario,user_id,account_number,merchant_id,direction,n_parts,total_amount,original_amount,' +
  'first_tx,last_tx,pace,split_kind\n';

function episodeLine(e: EpisodeRecord, block: UserBlock, world: World, clock: Clock): string {
  const fields = [
    e.id,
    e.scenario,
    viewText(block.userId),
    viewText(block.accountIds[e.account]),
    world.merchantIds[e.merchant],
    e.credit ? 'CREDITO' : 'DEBITO',
    e.nParts,
    formatE8(e.totalE8),
    formatE8(e.originalE8),
    clock.format(e.firstT),
    clock.format(e.lastT),
    e.pace,
    e.kind,
  ];
  return fields.join(',') + '\n';
}

function burstUsers(users: number): Set<number> {
  const n = Math.max(1, Math.round(users / USERS_PER_BURST));
  return new Set(Array.from({ length: n }, (_, k) => Math.floor(((k + 0.5) * users) / n)));
}

function paramsOf(o: ReturnType<typeof resolveOptions>): Params {
  const clamp = (x: number) => Math.min(0.05, x);
  return {
    seed: o.seed,
    days: o.days,
    txPerUserDay: o.txPerUserDay,
    episodeRate: o.episodeRate,
    pCommuter: clamp((ROW_SHARE.commuter * o.txPerUserDay) / COMMUTER_RATE),
    pBusy: clamp((ROW_SHARE.busy * o.txPerUserDay) / BUSY_RATE),
    pInstalment: Math.min(0.2, (ROW_SHARE.instalment * o.txPerUserDay * o.days) / INSTALMENT_ROWS),
    burstUsers: burstUsers(o.users),
    world: buildWorld(o.seed, o.users),
    clock: new Clock(o.startEpochDay, o.days),
  };
}

/** A user's hidden traits, as seen from one of its accounts. */
export interface AccountTraits extends UserTraits {
  /** The account's position among the user's accounts (0: its main one). */
  account: number;
}

/**
 * The hidden traits of every user of the log `synthesize(options, …)` writes, by account number: what the generator
 * drew and the log does not show (typical amount, caps, favourite amounts, kind of activity). For research only —
 * measuring how far a detector that knew them would get (`npm run bench:ceiling`); no detector reads them. The
 * users are generated again, so this costs about as much CPU as synthesising the log, without writing it.
 */
export function userTraits(options: SynthOptions): Map<string, AccountTraits> {
  const o = resolveOptions(options);
  const params = paramsOf(o);
  const out = new Map<string, AccountTraits>();
  for (let i = 0; i < o.users; i++) {
    const block = generateUserBlock(params, i);
    block.accountIds.forEach((id, account) => out.set(viewText(id), { ...block.traits, account }));
  }
  return out;
}

/**
 * Writes a labelled synthetic transaction log into `outDir`: `transactions.csv[.gz]` (the input contract),
 * `labels.csv` (`_id,episode_id,scenario` for every part of every split episode) and `episodes.csv`. Same options,
 * same bytes. Users are generated and written one at a time, so memory does not grow with the log; rows are in
 * user order (time order within a user), not globally sorted by time, like the real extract.
 *
 * @example
 * const summary = await synthesize(SYNTH_PRESETS.tiny, '/tmp/tiny', (p) => console.log(p.rowsWritten));
 */
export async function synthesize(
  options: SynthOptions,
  outDir: string,
  onProgress?: (p: SynthProgress) => void,
): Promise<SynthSummary> {
  const o = resolveOptions(options);
  const dir = resolve(outDir);
  await mkdir(dir, { recursive: true });

  const params = paramsOf(o);
  const { world } = params;

  const files = {
    transactions: resolve(dir, o.format === 'csv.gz' ? 'transactions.csv.gz' : 'transactions.csv'),
    labels: resolve(dir, 'labels.csv'),
    episodes: resolve(dir, 'episodes.csv'),
  };
  const tx = TextSink.open(files.transactions, o.format === 'csv.gz');
  const labels = TextSink.open(files.labels, false);
  const episodes = TextSink.open(files.episodes, false);
  const encoder = new RowEncoder(o.columnOrder, world, params.clock);

  const summary: SynthSummary = {
    rows: 0,
    users: o.users,
    accounts: 0,
    episodes: 0,
    labelledTransactions: 0,
    duplicates: 0,
    files,
  };
  const sinks = [tx, labels, episodes];
  try {
    tx.push(o.columnOrder.join(',') + '\n');
    labels.push('_id,episode_id,scenario\n');
    episodes.push(EPISODE_HEADER);
    let nextReport = PROGRESS_EVERY;
    for (let i = 0; i < o.users; i++) {
      const block = generateUserBlock(params, i);
      tx.appendEach(block.rows, MAX_ROW_BYTES, (buf, pos, row) => encoder.encode(buf, pos, block, row));
      for (const e of block.episodes) {
        for (const id of e.partIds) labels.push(`${id},${e.id},${e.scenario}\n`);
        episodes.push(episodeLine(e, block, world, params.clock));
        summary.labelledTransactions += e.partIds.length;
      }
      for (const sink of sinks) if (sink.full) await sink.flush();
      summary.rows += block.rows.length;
      summary.accounts += block.accountIds.length;
      summary.episodes += block.episodes.length;
      summary.duplicates += block.duplicates;
      if (onProgress && summary.rows >= nextReport) {
        onProgress({ rowsWritten: summary.rows, usersDone: i + 1, usersTotal: o.users });
        nextReport = summary.rows + PROGRESS_EVERY;
      }
    }
    await Promise.all(sinks.map((s) => s.close()));
  } catch (e) {
    for (const sink of sinks) sink.abort();
    throw e;
  }
  onProgress?.({ rowsWritten: summary.rows, usersDone: o.users, usersTotal: o.users });
  return summary;
}
