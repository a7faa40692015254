import fc from 'fast-check';
import { Readable } from 'node:stream';
import { parseCsv, type CsvRecord } from '../src';

async function parse(chunks: (string | Buffer)[], maxRecordChars?: number): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const r of parseCsv(
    Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))),
    { maxRecordChars },
  ))
    out.push(r);
  return out;
}

describe('parseCsv', () => {
  it('reads quoted fields with delimiters, escaped quotes and line breaks', async () => {
    const recs = await parse(['a,b,c\n"x,1","say ""hi""","two\nlines"\nlast,,\n']);
    expect(recs.map((r) => r.fields)).toEqual([
      ['a', 'b', 'c'],
      ['x,1', 'say "hi"', 'two\nlines'],
      ['last', '', ''],
    ]);
    expect(recs.map((r) => r.line)).toEqual([1, 2, 4]);
  });

  it('accepts CRLF, a byte-order mark and a missing final line break', async () => {
    const recs = await parse([
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('h1,h2\r\n1,2\r\n3,4')]),
    ]);
    expect(recs.map((r) => r.fields)).toEqual([
      ['h1', 'h2'],
      ['1', '2'],
      ['3', '4'],
    ]);
  });

  it('skips blank lines but keeps counting physical lines', async () => {
    const recs = await parse(['h\n\n1\n\r\n2\n']);
    expect(recs.map((r) => [r.line, r.fields[0]])).toEqual([
      [1, 'h'],
      [3, '1'],
      [5, '2'],
    ]);
  });

  it('reports an unterminated quote and stray quotes as record errors', async () => {
    const recs = await parse(['h\nab"c,d\n"open,x\n']);
    expect(recs[1].error).toBe('quote inside an unquoted field');
    expect(recs[2].error).toBe('unterminated quoted field at end of file');
  });

  it('flags invalid UTF-8 instead of silently replacing it', async () => {
    const recs = await parse([Buffer.from('h\n'), Buffer.from([0x61, 0xff, 0x62, 0x0a])]);
    expect(recs[1].error).toBe('invalid UTF-8 byte sequence');
  });

  it('skips an over-long record to the next line and carries on', async () => {
    const recs = await parse([`h\n${'x'.repeat(500)}\nok\n`], 100);
    expect(recs[1]).toEqual({ line: 2, fields: [], error: 'record longer than 100 characters' });
    expect(recs[2]).toEqual({ line: 3, fields: ['ok'] });
  });

  it('keeps a record of exactly the longest length, quoted or not, and the line after it', async () => {
    for (const chunks of [
      ['"ab","cd,ef"\r\nabcdefghijkl\nok\n'],
      ['"ab","cd', ',ef"\r', '\nabcdefghijkl', '\nok\n'],
    ]) {
      const recs = await parse(chunks, 12);
      expect(recs).toEqual([
        { line: 1, fields: ['ab', 'cd,ef'] },
        { line: 2, fields: ['abcdefghijkl'] },
        { line: 3, fields: ['ok'] },
      ]);
    }
    const over = await parse(['abcdefghijklm\nok\n'], 12);
    expect(over).toEqual([
      { line: 1, fields: [], error: 'record longer than 12 characters' },
      { line: 2, fields: ['ok'] },
    ]);
  });

  it('gives the same records however the bytes are split into chunks', async () => {
    const field = fc.oneof(
      fc.stringMatching(/^[a-z0-9 ]{0,6}$/),
      fc.string({ maxLength: 6 }).map((s) => s.replace(/\r/g, '')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(field, { minLength: 2, maxLength: 2 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        async (rows, cuts, crlf) => {
          const text =
            rows.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join(crlf ? '\r\n' : '\n') +
            '\n';
          const bytes = Buffer.from(text);
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let prev = 0;
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.subarray(prev, p));
            prev = p;
          }
          const recs = await parse(chunks.filter((c) => c.length > 0));
          expect(recs.map((r) => r.fields)).toEqual(rows);
          expect(recs.every((r) => r.error === undefined)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
