import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageInput } from '../src/commands/run.command';

describe('stageInput (splitwatch run --input)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'splitwatch-stage-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies a directory under raw/, leaves an unchanged file as it is and copies a changed one again', async () => {
    const logs = join(dir, 'logs');
    await mkdir(join(logs, '2021'), { recursive: true });
    await writeFile(join(logs, '2021', 'a.csv'), 'a,1\n');
    // A modification time past the half millisecond: a Date of it would round up.
    await utimes(join(logs, '2021', 'a.csv'), 1_796_072_480.1147, 1_796_072_480.1147);
    await writeFile(join(logs, 'notes.txt'), 'not an input');
    const data = join(dir, 'data');

    expect(await stageInput(logs, data)).toEqual(['raw/logs/2021/a.csv']);
    const staged = join(data, 'raw', 'logs', '2021', 'a.csv');
    const first = await stat(staged);
    // The copy keeps the input's modification time, so the object version ingest compares stays the same.
    expect(Math.abs(first.mtimeMs - (await stat(join(logs, '2021', 'a.csv'))).mtimeMs)).toBeLessThan(1);

    await stageInput(logs, data);
    const second = await stat(staged);
    expect([second.ino, second.mtimeMs, second.ctimeMs]).toEqual([first.ino, first.mtimeMs, first.ctimeMs]);

    // Same size, new content and time: copied again.
    await writeFile(join(logs, '2021', 'a.csv'), 'b,2\n');
    await utimes(join(logs, '2021', 'a.csv'), new Date('2030-01-01'), new Date('2030-01-01'));
    await stageInput(logs, data);
    expect(await readFile(staged, 'utf8')).toBe('b,2\n');
  });
});
