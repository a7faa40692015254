import fc from 'fast-check';
import { Readable } from 'node:stream';
import { parseCsv, parseCsvBatches, type CsvRecord } from '../src';

async function parse(chunks: Buffer[], maxRecordChars?: number): Promise<CsvRecord[]> {
  const out: CsvRecord[] = [];
  for await (const r of parseCsv(Readable.from(chunks), { maxRecordChars })) out.push(r);
  return out;
}

/** Cuts `bytes` at the given points (anywhere, also inside a multi-byte character or a CRLF). */
function cut(bytes: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...at, bytes.length]) {
    if (p > prev) chunks.push(bytes.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

const physicalLines = (bytes: Buffer) => bytes.toString('latin1').split(/\r\n|\n|\r/).length;

describe('parseCsv on broken input', () => {
  it('never throws on random bytes, and numbers records by rising physical lines', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        async (raw, points) => {
          const bytes = Buffer.from(raw);
          const recs = await parse(cut(bytes, points), 64);
          let last = 0;
          for (const r of recs) {
            expect(r.line).toBeGreaterThanOrEqual(last);
            expect(r.line).toBeLessThanOrEqual(physicalLines(bytes));
            if (r.error !== undefined) expect(r.error.length).toBeGreaterThan(0);
            last = r.line;
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('flags latin-1 bytes as invalid UTF-8 and keeps reading the following rows', async () => {
    const latin1 = Buffer.from('h1,h2\nok,1\nJos\xe9,2\nnext,3\n', 'latin1');
    const recs = await parse([latin1]);
    expect(recs.map((r) => [r.line, r.error ?? null])).toEqual([
      [1, null],
      [2, null],
      [3, 'invalid UTF-8 byte sequence'],
      [4, null],
    ]);
  });

  it('reads valid multi-byte UTF-8 the same wherever the chunks are cut, with no false encoding error', async () => {
    const cell = fc
      .array(fc.constantFrom('a', 'z', 'ñ', 'é', '€', '😀', ' ', ',', '"', '\n'), { maxLength: 6 })
      .map((cs) => cs.join(''));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(cell, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (rows, points) => {
          const text =
            rows.map((r) => r.map((f) => `"${f.replace(/"/g, '""')}"`).join(',')).join('\r\n') + '\r\n';
          const recs = await parse(cut(Buffer.from(text, 'utf8'), points));
          expect(recs.map((r) => r.fields)).toEqual(rows);
          expect(recs.every((r) => r.error === undefined)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a truncated last line (unterminated quote) with the line it started on', async () => {
    const recs = await parse([Buffer.from('a,b\n1,2\n"3,\n4')]);
    expect(recs[2]).toMatchObject({ line: 3, error: 'unterminated quoted field at end of file' });
  });

  it('cuts a huge field to the next line and carries on, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 65, max: 5000 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (size, points) => {
          const bytes = Buffer.from(`h,x\n1,${'y'.repeat(size)}\n2,ok\n`);
          const recs = await parse(cut(bytes, points), 64);
          expect(recs.map((r) => [r.line, r.error ?? r.fields.join(',')])).toEqual([
            [1, 'h,x'],
            [2, 'record longer than 64 characters'],
            [3, '2,ok'],
          ]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reads whole lines at once (its fast path) exactly as it reads them a character at a time', async () => {
    // Lines built of the characters that decide how a line reads: quotes, delimiters, line ends, a lone CR.
    const token = fc.constantFrom('"', '""', ',', '","', 'a', 'bc', ' ', '\n', '\r\n', '\r', '\ufeff');
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 40 }), fc.boolean(), async (tokens, quoteLines) => {
        // Half the time, lines quoted throughout around the tokens, the exporters' style the fast path reads.
        const text = quoteLines
          ? tokens
              .join('')
              .split('\n')
              .map((l) => `"${l}"`)
              .join('\n')
          : tokens.join('');
        const bytes = Buffer.from(text);
        const whole = await parse([bytes], 12);
        const byChar = await parse(
          cut(
            bytes,
            Array.from({ length: bytes.length }, (_, i) => i),
          ),
          12,
        );
        expect(whole).toEqual(byChar);
      }),
      { numRuns: 500 },
    );
  });

  it('yields one batch per input chunk, so the caller awaits per chunk and not per row', async () => {
    const chunk = Buffer.from('a,b\n'.repeat(500));
    const batches: number[] = [];
    for await (const b of parseCsvBatches(Readable.from([chunk, chunk]))) batches.push(b.length);
    expect(batches).toEqual([500, 500]);
  });
});
