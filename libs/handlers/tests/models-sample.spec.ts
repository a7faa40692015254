import { createHash } from 'node:crypto';
import { Keys, resolveConfig, type DetectionConfig } from '@splitwatch/core';
import {
  buildFeatures,
  fitModels,
  forEachCandidateWindow,
  ingest,
  MODEL_SAMPLE_SCAN_FACTOR,
  modelSampleBuckets,
  registerFeatures,
} from '@splitwatch/use-cases';
import { csvOf, localWorld, type Tx } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

const ACCOUNTS = 400;

/**
 * 400 accounts with hashed (hex) ids, each with three debits of 50.00 within an hour on its own day: two candidate
 * windows each (2 and 3 parts, 100.00 and 150.00), 800 in all; and one account whose windows stay under the minimum sum.
 */
function log(): Tx[] {
  const rows: Tx[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const account = createHash('sha256').update(`account ${i}`).digest('hex').slice(0, 32);
    const day = String(1 + (i % 28)).padStart(2, '0');
    for (let j = 0; j < 3; j++) rows.push({ id: `t${i}-${j}`, account, date: `2021-02-${day} 10:${j}0:00`, amount: '50.00' });
  }
  for (let j = 0; j < 3; j++) rows.push({ id: `small-${j}`, account: 'f'.repeat(32), date: `2021-02-01 10:0${j}:00`, amount: '10.00' });
  return rows;
}

/** One model only (the code path is the same for every model), on a sample small enough for this log. */
const configWith = (sampleSize: number, seed = 42): DetectionConfig =>
  resolveConfig({ models: { sampleSize, seed, lof: false, dbscan: false, gmm: false } });

async function windowsOf(w: World, config: DetectionConfig, buckets?: string[]): Promise<number> {
  let n = 0;
  await forEachCandidateWindow(w.sqlEngine, config, () => n++, undefined, buckets);
  return n;
}

describe('FitModels samples accounts by bucket on a large log', () => {
  let w: World;
  beforeAll(async () => {
    w = await localWorld();
    await w.objectStore.putText('raw/log.csv', csvOf(log()));
    await ingest(w, { runId: 'r1', sources: ['raw/log.csv'] });
    await buildFeatures(w, { runId: 'r1', config: configWith(40) });
    await registerFeatures(w.sqlEngine);
  }, 120_000);
  afterAll(() => w.dispose());

  it('counts in SQL exactly the candidate windows the window walk finds', async () => {
    const all = await modelSampleBuckets(w.sqlEngine, configWith(1_000));
    expect(all.candidateWindows).toBe(2 * ACCOUNTS);
    expect(await windowsOf(w, configWith(1_000))).toBe(2 * ACCOUNTS);
    // Few enough for the sample: every key is read.
    expect(all.buckets).toBeUndefined();
  });

  it('reads only the keys of seeded random buckets holding the scan factor times the sample, and records it', async () => {
    const config = configWith(40);
    const target = MODEL_SAMPLE_SCAN_FACTOR * 40;
    const sampled = await modelSampleBuckets(w.sqlEngine, config);
    expect(sampled.candidateWindows).toBe(2 * ACCOUNTS);
    expect(sampled.buckets).toBeDefined();
    const buckets = sampled.buckets ?? [];
    // Enough buckets to hold the target, and one fewer would not: no more is read than needed.
    expect(sampled.sampledWindows).toBeGreaterThanOrEqual(target);
    expect(sampled.sampledWindows).toBeLessThan(target + 2 * 3);
    expect(sampled.sampledWindows).toBeLessThan(sampled.candidateWindows);
    expect(await windowsOf(w, config, buckets)).toBe(sampled.sampledWindows);
    // The same seed draws the same buckets; another seed others.
    expect((await modelSampleBuckets(w.sqlEngine, config)).buckets).toEqual(buckets);
    expect((await modelSampleBuckets(w.sqlEngine, configWith(40, 7))).buckets).not.toEqual(buckets);

    const result = await fitModels(w, { runId: 'r1', config });
    expect(result.candidateWindows).toBe(2 * ACCOUNTS);
    const record = JSON.parse(await w.objectStore.getText(Keys.stepRecord('r1', 'fit-models'))) as {
      counts: Record<string, number>;
      details: Record<string, unknown>;
    };
    expect(record.counts).toMatchObject({ candidateWindows: 2 * ACCOUNTS, windowsRead: sampled.sampledWindows, sample: 40 });
    expect(record.details).toMatchObject({ accountBuckets: sampled.of, accountBucketsRead: buckets.length });
  });

  it('spreads the sample over sequential numeric ids too (buckets by their last characters, not their leading ones)', async () => {
    const numbered = await localWorld();
    try {
      // 1,000 accounts numbered 1000001…1001000 (all begin with 100): two candidate windows each.
      const rows: Tx[] = [];
      for (let i = 1; i <= 1000; i++) {
        const account = String(1_000_000 + i);
        const day = String(1 + (i % 28)).padStart(2, '0');
        for (let j = 0; j < 3; j++) rows.push({ id: `n${i}-${j}`, account, date: `2021-02-${day} 10:${j}0:00`, amount: '50.00' });
      }
      await numbered.objectStore.putText('raw/log.csv', csvOf(rows));
      await ingest(numbered, { runId: 'r1', sources: ['raw/log.csv'] });
      await buildFeatures(numbered, { runId: 'r1', config: configWith(40) });
      await registerFeatures(numbered.sqlEngine);
      const sampled = await modelSampleBuckets(numbered.sqlEngine, configWith(40));
      expect(sampled.of).toBe(1000);
      const read = (sampled.buckets ?? []).map(Number).sort((a, b) => a - b);
      // 100 of the 1,000 accounts (200 windows), from the whole range of numbers.
      expect(read).toHaveLength(100);
      expect(read[0]).toBeLessThan(100);
      expect(read[read.length - 1]).toBeGreaterThan(900);
    } finally {
      await numbered.dispose();
    }
  });
});
