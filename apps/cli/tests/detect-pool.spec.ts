import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectPool, sizeInBytes, workerAdapterConfig } from '../src/detect-pool';

describe('workerAdapterConfig', () => {
  it("splits the run's memory limit and cores over the workers, each with a spill folder of its own", () => {
    const base = { dataDir: '/data', results: { kind: 'pglite' as const }, duckdbMemoryLimit: '8GB', duckdbThreads: 4 };
    const a = workerAdapterConfig(base, 2, 0, 42);
    const b = workerAdapterConfig(base, 2, 1, 42);
    expect(a.duckdbMemoryLimit).toBe(`${Math.floor(4e9 / 2 ** 20)}MiB`);
    expect(a.duckdbThreads).toBe(2);
    expect(a.dataDir).toBe('/data');
    expect(a.duckdbTempDirectory).not.toBe(b.duckdbTempDirectory);
    expect(workerAdapterConfig({ ...base, duckdbThreads: 1 }, 3, 0).duckdbThreads).toBe(1);
  });

  it('reads the sizes the CLI accepts and rejects others', () => {
    expect(sizeInBytes('448MB')).toBe(448e6);
    expect(sizeInBytes('2GiB')).toBe(2 * 2 ** 30);
    expect(sizeInBytes(' 1.5 gb ')).toBe(1.5e9);
    expect(() => sizeInBytes('lots')).toThrow(/Not a memory size: "lots"/);
  });
});

describe('DetectPool', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitwatch-pool-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('needs two or more workers', () => {
    expect(() => new DetectPool({ workers: 1, adapters: { dataDir: dir, results: { kind: 'pglite' } } })).toThrow(/2 or more workers/);
  });

  it("fails a slice with the handler's error, name and message kept (the ASL's Catch matches on the name)", async () => {
    const entries: string[] = [];
    const pool = new DetectPool({
      workers: 2,
      adapters: { dataDir: dir, results: { kind: 'pglite' } },
      logger: (e) => entries.push(`${e.step}:${e.event}`),
    });
    try {
      const err = await pool.run({ runId: 'r1', partition: 'x', partitions: 8 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe('InvalidEventError');
      expect((err as Error).message).toMatch(/numeric "partition" and "partitions"/);
      // The pool keeps serving after a failed slice.
      const again = await pool.run({ runId: 'r1', partition: 0, partitions: 'y' }).catch((e: unknown) => e);
      expect((again as Error).name).toBe('InvalidEventError');
      expect(entries).toEqual(['detect:start', 'detect:error', 'detect:start', 'detect:error']);
    } finally {
      await pool.close();
    }
    await expect(pool.run({})).rejects.toThrow(/closed/);
  });
});
