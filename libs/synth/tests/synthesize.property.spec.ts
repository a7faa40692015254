import fc from 'fast-check';
import { join } from 'node:path';
import { synthesize } from '../src';
import { checkEpisodes, checkSummary, contractViolations, loadLog } from './helpers/check-log';
import { tempDir } from './helpers/read-log';

describe('synthesize (properties)', () => {
  it('writes a valid log with exact episode sums for any seed and small size', async () => {
    const { dir, cleanup } = await tempDir();
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.constant(Number.MIN_SAFE_INTEGER)),
          fc.integer({ min: 1, max: 40 }),
          fc.integer({ min: 1, max: 5 }),
          fc.double({ min: 0.2, max: 1, noNaN: true }),
          async (seed, users, days, episodeRate) => {
            const summary = await synthesize(
              { seed, users, days, episodeRate, txPerUserDay: 0.5 },
              join(dir, `${run++}`),
            );

            const log = await loadLog(summary);
            expect(contractViolations(log.tx)).toEqual([]);
            checkEpisodes(log);
            checkSummary(log, summary);
          },
        ),
        { numRuns: 25 },
      );
    } finally {
      await cleanup();
    }
  });
});
