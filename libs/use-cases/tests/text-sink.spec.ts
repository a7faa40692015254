import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TextSink } from '../src/ingest/source-stager';

describe('TextSink on failure paths', () => {
  it('is thrown away quietly when its directory is gone before the file could open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'splitwatch-sink-'));
    await rm(dir, { recursive: true, force: true });
    const uncaught: Error[] = [];
    const onUncaught = (e: Error) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const sink = TextSink.open(join(dir, 'q.csv'), true);
      sink.add('line\n');
      sink.destroy();
      await sink.released();
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('tells when a destroyed file is released, so its directory can go', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'splitwatch-sink-'));
    const sink = TextSink.open(join(dir, 'q.csv'));
    sink.destroy();
    await sink.released();
    await rm(dir, { recursive: true });
    expect(existsSync(dir)).toBe(false);
  });

  it('writes what was added once closed, and is released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'splitwatch-sink-'));
    const sink = TextSink.open(join(dir, 'q.csv'));
    sink.add('a,b\n');
    sink.addBytes(Buffer.from('1,2\n'));
    await sink.close();
    await sink.released();
    expect(await readFile(join(dir, 'q.csv'), 'utf8')).toBe('a,b\n1,2\n');
    await rm(dir, { recursive: true });
  });
});
