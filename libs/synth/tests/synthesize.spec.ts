import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  SYNTH_PRESETS,
  SynthOptionsError,
  TRANSACTION_COLUMNS,
  synthesize,
  UNIT_E8,
  userTraits,
  type SynthProgress,
} from '../src';
import { checkEpisodes, checkSummary, contractViolations, loadLog } from './helpers/check-log';
import { tempDir, toE8 } from './helpers/read-log';

const tiny = SYNTH_PRESETS.tiny;
let dir: string;
let cleanup: () => Promise<void>;

beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

describe('synthesize', () => {
  it('writes the input contract: header and every row', async () => {
    const summary = await synthesize(tiny, dir);

    const log = await loadLog(summary);
    expect(log.txHeader).toEqual([...TRANSACTION_COLUMNS]);
    expect(contractViolations(log.tx)).toEqual([]);
    expect(summary.files.transactions).toBe(join(dir, 'transactions.csv'));
    expect(log.tx.every((r) => r.transaction_date >= '2021-01-01' && r.transaction_date < '2021-01-08')).toBe(
      true,
    );
  });

  it('gives byte-identical files for the same seed and different files for another seed', async () => {
    const a = await synthesize(tiny, join(dir, 'a'));
    const b = await synthesize(tiny, join(dir, 'b'));
    const c = await synthesize({ ...tiny, seed: tiny.seed + 1 }, join(dir, 'c'));

    for (const file of ['transactions', 'labels', 'episodes'] as const) {
      const [bytesA, bytesB, bytesC] = await Promise.all([a, b, c].map((s) => readFile(s.files[file])));
      // Buffer#equals: Jest's deep equality walks a buffer byte by byte.
      expect(bytesB.equals(bytesA)).toBe(true);
      expect(bytesC.equals(bytesA)).toBe(false);
    }
  });

  it('labels every part of every episode, and the parts add up exactly to the episode total', async () => {
    const summary = await synthesize(tiny, dir);

    const log = await loadLog(summary);
    expect(summary.episodes).toBeGreaterThan(5);
    checkEpisodes(log);
  });

  it('repeats retried rows with the same content within one second, and the summary counts the files', async () => {
    const summary = await synthesize({ ...tiny, users: 1000 }, dir);

    const log = await loadLog(summary);
    expect(summary.duplicates).toBeGreaterThan(0);
    expect(summary.duplicates / summary.rows).toBeCloseTo(0.005, 2);
    checkSummary(log, summary);
  });

  it('writes the columns in the requested order, with the same rows', async () => {
    const columnOrder = [...TRANSACTION_COLUMNS].reverse();
    const plain = await synthesize(tiny, join(dir, 'plain'));
    const shuffled = await synthesize({ ...tiny, columnOrder }, join(dir, 'shuffled'));

    const [a, b] = await Promise.all([loadLog(plain), loadLog(shuffled)]);
    expect(b.txHeader).toEqual(columnOrder);
    expect(b.tx).toEqual(a.tx);
  });

  it('gzips the transactions when asked, with the same content', async () => {
    const plain = await synthesize(tiny, join(dir, 'plain'));
    const gz = await synthesize({ ...tiny, format: 'csv.gz' }, join(dir, 'gz'));

    expect(gz.files.transactions).toMatch(/transactions\.csv\.gz$/);
    expect(gunzipSync(await readFile(gz.files.transactions))).toEqual(
      await readFile(plain.files.transactions),
    );
    expect(await readFile(gz.files.labels)).toEqual(await readFile(plain.files.labels));
  });

  it('keeps amounts on the currency grid, between one unit and the top cap', async () => {
    const summary = await synthesize(tiny, dir);

    const { tx } = await loadLog(summary);
    const e8 = tx.map((r) => toE8(r.transaction_amount));
    const onGrid = e8.filter((v) => v % 594_445_501n === 0n).length / e8.length;
    expect(onGrid).toBeGreaterThan(0.9);
    expect(e8.every((v) => v >= 594_445_501n && v <= 778n * 594_445_501n)).toBe(true);
  });

  it('reports progress about every 100k rows and once at the end', async () => {
    const seen: SynthProgress[] = [];

    const summary = await synthesize({ users: 6000, days: 40, seed: 3, txPerUserDay: 1 }, dir, (p) =>
      seen.push(p),
    );

    expect(summary.rows).toBeGreaterThan(100_000);
    expect(seen).toHaveLength(2);
    expect(seen[0].rowsWritten).toBeGreaterThanOrEqual(100_000);
    expect(seen[0].rowsWritten).toBeLessThan(101_000);
    expect(seen[0].usersDone).toBeLessThan(6000);
    expect(seen[1]).toEqual({ rowsWritten: summary.rows, usersDone: 6000, usersTotal: 6000 });
  });

  it("tells each account's hidden traits, and the log agrees with them", async () => {
    const options = { ...tiny, users: 3000, days: 14 };
    const summary = await synthesize(options, dir);
    const log = await loadLog(summary);
    const traits = userTraits(options);

    const accountsOf = new Map<string, Set<string>>();
    for (const r of log.tx) accountsOf.set(r.user_id, (accountsOf.get(r.user_id) ?? new Set()).add(r.account_number));
    expect(new Set(log.tx.map((r) => r.account_number))).toEqual(new Set(traits.keys()));
    for (const accounts of accountsOf.values()) {
      const ts = [...accounts].map((a) => traits.get(a)!);
      expect(ts.map((t) => t.account).sort()).toEqual(ts.map((_, k) => k));
      expect(new Set(ts.map((t) => t.typical)).size).toBe(1);
    }
    // No amount passes its account's cap, and the cap is reached.
    let atCap = 0;
    for (const r of log.tx) {
      const t = traits.get(r.account_number)!;
      const cap = BigInt(t.caps[t.account] * UNIT_E8);
      expect(toE8(r.transaction_amount)).toBeLessThanOrEqual(cap);
      if (toE8(r.transaction_amount) === cap) atCap++;
    }
    expect(atCap).toBeGreaterThan(0);
    // A commuter's main account is mostly one small fare repeated.
    const fareShare = (account: string) => {
      const amounts = log.tx.filter((r) => r.account_number === account).map((r) => r.transaction_amount);
      const counts = new Map<string, number>();
      for (const a of amounts) counts.set(a, (counts.get(a) ?? 0) + 1);
      return Math.max(...counts.values()) / amounts.length;
    };
    const commuters = [...traits].filter(([, t]) => t.kind === 'commuter' && t.account === 0).map(([a]) => a);
    expect(commuters.length).toBeGreaterThan(2);
    for (const a of commuters) expect(fareShare(a)).toBeGreaterThan(0.6);
    const kinds = new Set([...traits.values()].map((t) => t.kind));
    expect(kinds).toEqual(new Set(['ordinary', 'commuter', 'busy']));
  });

  it('fails with the cause when the output directory cannot be written', async () => {
    const blocked = join(dir, 'a-file');
    await writeFile(blocked, '');

    await expect(synthesize(tiny, join(blocked, 'out'))).rejects.toThrow(/ENOTDIR|EEXIST/);
  });

  it('rejects invalid options, naming the option', async () => {
    const bad = [
      [{ ...tiny, users: 0 }, /users/],
      [{ ...tiny, days: 1.5 }, /days/],
      [{ ...tiny, startDate: '2021-02-30' }, /startDate/],
      [{ ...tiny, episodeRate: 2 }, /episodeRate/],
      [{ ...tiny, txPerUserDay: 3 }, /txPerUserDay/],
      [{ ...tiny, columnOrder: ['_id'] }, /columnOrder/],
    ] as const;
    for (const [options, message] of bad) {
      await expect(synthesize(options as never, dir)).rejects.toThrow(SynthOptionsError);
      await expect(synthesize(options as never, dir)).rejects.toThrow(message);
    }
  });
});
