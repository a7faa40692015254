import { existsSync, promises as fsp, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { ObjectNotFoundError } from '@splitwatch/core';
import { InvalidObjectKeyError, LocalObjectStore } from '../src';
import { makeTempDir, removeTempDir } from './helpers/temp-dir';

async function readAll(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part));
  return Buffer.concat(parts).toString('utf8');
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((rel) =>
    statSync(path.join(dir, rel)).isFile(),
  );
}

describe('LocalObjectStore', () => {
  let base: string;
  let root: string;
  let store: LocalObjectStore;

  beforeEach(() => {
    base = makeTempDir('store');
    root = path.join(base, 'root');
    store = new LocalObjectStore({ root });
  });

  afterEach(() => removeTempDir(base));

  describe('round-trips', () => {
    it('writes text under the key layout and reads it back', async () => {
      await store.putText('runs/r1/manifest.json', '{"ok":true}', 'application/json');

      expect(await store.getText('runs/r1/manifest.json')).toBe('{"ok":true}');
      expect(existsSync(path.join(root, 'runs', 'r1', 'manifest.json'))).toBe(true);
      expect(store.localPathOf('runs/r1/manifest.json')).toBe(path.join(root, 'runs/r1/manifest.json'));
      expect(store.location).toBe(root);
    });

    it('writes only where nothing is: one of many writers at once wins, whole, and the others are told', async () => {
      expect(await store.putTextIfAbsent('runs/lock.json', 'first')).toBe(true);
      expect(await store.putTextIfAbsent('runs/lock.json', 'second')).toBe(false);
      expect(await store.getText('runs/lock.json')).toBe('first');
      const wins = await Promise.all(Array.from({ length: 16 }, (_, i) => store.putTextIfAbsent('runs/other.json', `writer ${i}`)));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await store.getText('runs/other.json')).toBe(`writer ${wins.indexOf(true)}`);
      // Nothing left beside them.
      expect((await store.list('runs/')).map((o) => o.key)).toEqual(['runs/lock.json', 'runs/other.json']);
    });

    it('reads bytes, streams and files exactly', async () => {
      const bytes = Uint8Array.from([0, 1, 2, 254, 255]);
      const local = path.join(base, 'upload.csv');
      writeFileSync(local, '_id,amount\nx,71.33346014\n');

      await store.putBytes('raw/b.bin', bytes);
      await store.putFile('raw/upload.csv', local, 'text/csv');

      expect(await store.getBytes('raw/b.bin')).toEqual(bytes);
      expect(await readAll(await store.getStream('raw/upload.csv'))).toBe('_id,amount\nx,71.33346014\n');
    });

    it('takes a local file the caller is done with instead of copying it, and copies it otherwise', async () => {
      const kept = path.join(base, 'kept.csv');
      const given = path.join(base, 'given.csv');
      writeFileSync(kept, 'a\n1\n');
      writeFileSync(given, 'b\n2\n');

      await store.putFile('raw/kept.csv', kept);
      await store.putFile('raw/given.csv', given, 'text/csv', { move: true });

      expect(await store.getText('raw/kept.csv')).toBe('a\n1\n');
      expect(await store.getText('raw/given.csv')).toBe('b\n2\n');
      expect(existsSync(kept)).toBe(true);
      expect(existsSync(given)).toBe(false); // same file system: renamed, not copied
      await expect(store.putFile('raw/x.csv', given, 'text/csv', { move: true })).rejects.toThrow(given);
    });

    it('overwrites an existing key', async () => {
      await store.putText('a.txt', 'first');
      await store.putText('a.txt', 'second');

      expect(await store.getText('a.txt')).toBe('second');
    });

    it('tells whether a key exists (a folder is not an object)', async () => {
      await store.putText('a/b.txt', 'x');

      expect(await store.exists('a/b.txt')).toBe(true);
      expect(await store.exists('a/c.txt')).toBe(false);
      expect(await store.exists('a')).toBe(false);
      expect(await store.exists('a/b.txt/c')).toBe(false);
    });

    it('copies an object and deletes keys, ignoring absent ones', async () => {
      await store.putText('src/a.txt', 'payload');

      await store.copy('src/a.txt', 'dst/deep/a.txt');
      await store.delete(['src/a.txt', 'never/was.txt']);

      expect(await store.getText('dst/deep/a.txt')).toBe('payload');
      expect(await store.exists('src/a.txt')).toBe(false);
    });

    it('leaves no empty folder behind a deleted prefix, as S3 has none, and keeps folders that still hold objects', async () => {
      await store.putText('staging/run=1/curated/src/dt=2021-01-01/part-0.parquet', 'a');
      await store.putText('staging/run=1/curated/src/dt=2021-01-02/part-0.parquet', 'b');
      await store.putText('staging/run=1/keep.json', '{}');

      await store.delete([
        'staging/run=1/curated/src/dt=2021-01-01/part-0.parquet',
        'staging/run=1/curated/src/dt=2021-01-02/part-0.parquet',
      ]);

      expect(await fsp.readdir(path.join(root, 'staging', 'run=1'))).toEqual(['keep.json']);
      await store.delete(['staging/run=1/keep.json']);
      expect(await fsp.readdir(root)).not.toContain('staging');
      // The root itself stays, and writing under a removed prefix makes its folders again.
      await store.putText('staging/run=1/again.txt', 'c');
      expect(await store.getText('staging/run=1/again.txt')).toBe('c');
    });
  });

  describe('missing objects', () => {
    it('throws ObjectNotFoundError naming the key and the path', async () => {
      const error = await store.getText('curated/none.parquet').catch((e: unknown) => e);

      expect(error).toBeInstanceOf(ObjectNotFoundError);
      expect((error as Error).name).toBe('ObjectNotFoundError');
      expect((error as Error).message).toContain('curated/none.parquet');
      expect((error as Error).message).toContain(path.join(root, 'curated', 'none.parquet'));
    });

    it('fails getStream, getBytes and copy at once when the key is absent or a folder', async () => {
      await store.putText('dir/x.txt', 'x');

      await expect(store.getStream('nope.txt')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.getStream('dir')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.getBytes('dir')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.copy('nope.txt', 'b.txt')).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await store.exists('b.txt')).toBe(false);
    });
  });

  describe('list', () => {
    it('returns every key under a prefix, recursively, sorted, with sizes', async () => {
      await store.putText('curated/transactions/dt=2021-01-02/b.parquet', '22');
      await store.putText('curated/transactions/dt=2021-01-01/z.parquet', '1');
      await store.putText('curated/transactions/dt=2021-01-01/a.parquet', '333');
      await store.putText('curated/transactions.txt', 'sibling');
      await store.putText('raw/in.csv', 'x');

      expect((await store.list('curated/transactions/')).map(({ key, size }) => ({ key, size }))).toEqual([
        { key: 'curated/transactions/dt=2021-01-01/a.parquet', size: 3 },
        { key: 'curated/transactions/dt=2021-01-01/z.parquet', size: 1 },
        { key: 'curated/transactions/dt=2021-01-02/b.parquet', size: 2 },
      ]);
    });

    it('gives each object a version that changes whenever it is written again, even with the same content', async () => {
      const versionOf = async (key: string) => (await store.list(key)).find((o) => o.key === key)?.version;
      await store.putText('curated/a.parquet', 'same');
      const first = await versionOf('curated/a.parquet');
      expect(await versionOf('curated/a.parquet')).toBe(first); // reading or listing changes nothing

      await store.putText('curated/a.parquet', 'same');
      const second = await versionOf('curated/a.parquet');
      await store.copy('curated/a.parquet', 'curated/b.parquet');
      await store.copy('curated/b.parquet', 'curated/a.parquet');

      expect(first).toEqual(expect.any(String));
      expect(second).not.toBe(first);
      expect(await versionOf('curated/a.parquet')).not.toBe(second);
    });

    it('sorts keys in plain code-unit order, as S3 does', async () => {
      for (const key of ['a/b', 'a.txt', 'a-b', 'A', 'a/a/c', 'b']) await store.putText(key, key);

      expect((await store.list('')).map((o) => o.key)).toEqual(['A', 'a-b', 'a.txt', 'a/a/c', 'a/b', 'b']);
    });

    it('matches partial names like S3 prefixes', async () => {
      await store.putText('scores/run=1/a.parquet', 'x');
      await store.putText('scores/run=12/a.parquet', 'x');
      await store.putText('scores/other.json', 'x');

      expect((await store.list('scores/run=1')).map((o) => o.key)).toEqual([
        'scores/run=1/a.parquet',
        'scores/run=12/a.parquet',
      ]);
    });

    it('returns nothing for an absent prefix or root', async () => {
      expect(await store.list('features/')).toEqual([]);
      expect(await store.list('')).toEqual([]);
    });

    it('ignores in-flight temp files', async () => {
      await store.putText('a/done.txt', 'x');
      writeFileSync(path.join(root, 'a', '.half.txt.0123.splitwatch-tmp'), 'partial');

      expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/done.txt']);
    });
  });

  describe('key validation', () => {
    const escaping = ['../outside.txt', 'a/../../outside.txt', '/etc/passwd', 'a//b', './a', 'a\\..\\b', ''];

    it.each(escaping)('rejects %j before touching the disk', async (key) => {
      await expect(store.putText(key, 'x')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store.getText(key)).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store.copy('a.txt', key)).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store.delete([key])).rejects.toBeInstanceOf(InvalidObjectKeyError);
      expect(() => store.localPathOf(key)).toThrow(InvalidObjectKeyError);
      expect(existsSync(path.join(base, 'outside.txt'))).toBe(false);
    });

    it('says why a key is rejected', () => {
      expect(() => store.localPathOf('../x')).toThrow(/Invalid object key "\.\.\/x".*inside the root/);
      expect(() => store.localPathOf('/x')).toThrow(/must not be absolute/);
    });

    it('rejects prefixes that escape the root and reserved temp names', async () => {
      await expect(store.list('../')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store.list('..')).rejects.toBeInstanceOf(InvalidObjectKeyError);
      await expect(store.putText('a/b.splitwatch-tmp', 'x')).rejects.toThrow(/reserved/);
    });

    it('validates every key before deleting any', async () => {
      await store.putText('keep.txt', 'x');

      await expect(store.delete(['keep.txt', '../bad'])).rejects.toBeInstanceOf(InvalidObjectKeyError);
      expect(await store.exists('keep.txt')).toBe(true);
    });
  });

  describe('atomic writes', () => {
    it('leaves no temp file behind', async () => {
      await store.putText('a/b/c.txt', 'x');
      await store.putBytes('a/b/d.bin', new Uint8Array(10));
      await store.copy('a/b/c.txt', 'a/b/e.txt');

      expect(allFiles(root).sort()).toEqual(
        ['a/b/c.txt', 'a/b/d.bin', 'a/b/e.txt'].map((p) => path.normalize(p)),
      );
    });

    it('lets a concurrent reader see the old or the new object, never a part', async () => {
      const oldBody = 'o'.repeat(1024);
      const newBody = Buffer.alloc(16 * 1024 * 1024, 'n');
      await store.putText('big.bin', oldBody);

      let writing = true;
      const write = store.putBytes('big.bin', newBody).finally(() => (writing = false));
      const seen = new Set<number>();
      while (writing) seen.add((await store.getBytes('big.bin')).length);
      await write;
      seen.add((await store.getBytes('big.bin')).length);

      expect([...seen].every((n) => n === oldBody.length || n === newBody.length)).toBe(true);
      expect(seen.has(newBody.length)).toBe(true);
    });

    it('keeps the previous object when an upload fails, and says which file was missing', async () => {
      await store.putText('raw/in.csv', 'previous');
      const missing = path.join(base, 'no-such-file.csv');

      await expect(store.putFile('raw/in.csv', missing)).rejects.toThrow(missing);
      expect(await store.getText('raw/in.csv')).toBe('previous');
      expect(await fsp.readdir(path.join(root, 'raw'))).toEqual(['in.csv']);
    });
  });
});
