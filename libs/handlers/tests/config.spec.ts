import { ConfigError } from '@splitwatch/core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { curatedChunkRowsFor } from '@splitwatch/use-cases';
import {
  adapterConfigFromEnv,
  decodeIngestInput,
  InvalidEventError,
  newRunId,
  openLocalAdapters,
  runIdOf,
} from '../src';

describe('adapter configuration from the environment', () => {
  it('requires SPLITWATCH_MODE and names it', () => {
    expect(() => adapterConfigFromEnv({})).toThrow(new ConfigError('Environment variable SPLITWATCH_MODE is required'));
    expect(() => adapterConfigFromEnv({ SPLITWATCH_MODE: 'cloud' })).toThrow(/must be "aws" or "local", got "cloud"/);
  });

  it('selects the embedded adapters with PGlite by default and PostgreSQL on request', () => {
    expect(adapterConfigFromEnv({ SPLITWATCH_MODE: 'local', SPLITWATCH_DATA_DIR: '/d' })).toEqual({
      mode: 'local',
      dataDir: '/d',
      results: { kind: 'pglite' },
    });
    expect(() => adapterConfigFromEnv({ SPLITWATCH_MODE: 'local' })).toThrow(/SPLITWATCH_DATA_DIR is required/);
    expect(
      adapterConfigFromEnv({ SPLITWATCH_MODE: 'local', SPLITWATCH_DATA_DIR: '/d', SPLITWATCH_DUCKDB_MEMORY_LIMIT: '448MB' }),
    ).toMatchObject({ duckdbMemoryLimit: '448MB' });
    expect(() =>
      adapterConfigFromEnv({ SPLITWATCH_MODE: 'local', SPLITWATCH_DATA_DIR: '/d', SPLITWATCH_RESULTS_STORE: 'postgres' }),
    ).toThrow(/DATABASE_URL is required/);
  });
});

describe("ingest's curated write statements follow the DuckDB memory limit", () => {
  it('holds one row per 2 KiB of the limit, between 250,000 and 2,000,000, and the default for a non-size', () => {
    expect(curatedChunkRowsFor('448MB')).toBe(250_000);
    expect(curatedChunkRowsFor('1GiB')).toBe(524_288);
    expect(curatedChunkRowsFor(' 1.5 gb ')).toBe(732_421);
    expect(curatedChunkRowsFor('8GB')).toBe(2_000_000);
    expect(curatedChunkRowsFor('100MB')).toBe(250_000);
    expect(curatedChunkRowsFor('75%')).toBeUndefined();
  });

  it('is what the embedded adapters hand to ingest when a memory limit is set, and nothing otherwise', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'splitwatch-adapters-'));
    try {
      const limited = await openLocalAdapters({
        dataDir,
        results: { kind: 'pglite' },
        duckdbMemoryLimit: '448MB',
      });
      expect(limited.ingestChunkRows).toBe(250_000);
      await limited.close();
      const unlimited = await openLocalAdapters({ dataDir, results: { kind: 'pglite' } });
      expect(unlimited.ingestChunkRows).toBeUndefined();
      await unlimited.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('pipeline state decoding', () => {
  it('rejects an ingest event without sources', () => {
    expect(() => decodeIngestInput({})).toThrow(InvalidEventError);
    expect(() => decodeIngestInput({ sources: [] })).toThrow(/non-empty list/);
  });

  it('keeps a given run id, creates one otherwise, and refuses unsafe ids', () => {
    expect(decodeIngestInput({ runId: 'r-1', sources: ['raw/'] })).toEqual({ runId: 'r-1', sources: ['raw/'] });
    expect(decodeIngestInput({ sources: ['raw/'] }).runId).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{1,6}$/);
    expect(() => runIdOf({ runId: '../etc' })).toThrow(/Invalid runId/);
    expect(newRunId(new Date('2021-01-02T03:04:05.678Z'))).toMatch(/^20210102T030405Z-/);
  });

  it('passes "reingest: true" on to ingest and refuses anything but a boolean', () => {
    expect(decodeIngestInput({ runId: 'r-1', sources: ['raw/'], reingest: true })).toEqual({
      runId: 'r-1',
      sources: ['raw/'],
      reingest: true,
    });
    expect(decodeIngestInput({ runId: 'r-1', sources: ['raw/'], reingest: false })).toEqual({ runId: 'r-1', sources: ['raw/'] });
    expect(() => decodeIngestInput({ sources: ['raw/'], reingest: 'yes' })).toThrow(/"reingest" of the ingest event must be true or false/);
  });

  it('passes "withdraw" on to ingest, with or without sources, and refuses anything but a list of keys', () => {
    expect(decodeIngestInput({ runId: 'r-1', withdraw: ['raw/a.csv'] })).toEqual({ runId: 'r-1', sources: [], withdraw: ['raw/a.csv'] });
    expect(decodeIngestInput({ runId: 'r-1', sources: ['raw/'], withdraw: ['raw/a.csv'] })).toEqual({
      runId: 'r-1',
      sources: ['raw/'],
      withdraw: ['raw/a.csv'],
    });
    for (const withdraw of [[], 'raw/a.csv', [''], [3]])
      expect(() => decodeIngestInput({ runId: 'r-1', withdraw })).toThrow(/"withdraw" of the ingest event must be a non-empty list/);
    expect(() => decodeIngestInput({ runId: 'r-1', sources: 'raw/' as unknown as string[], withdraw: ['raw/a.csv'] })).toThrow(/needs "sources"/);
  });
});
