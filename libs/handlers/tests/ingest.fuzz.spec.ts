import fc from 'fast-check';
import { InputFormatError } from '@splitwatch/core';
import { ingest, registerTransactions } from '@splitwatch/use-cases';
import { HEADER, localWorld } from './helpers';

type World = Awaited<ReturnType<typeof localWorld>>;

/** What a generated line is, and what ingest must make of it. */
type Kind =
  | { kind: 'good' }
  | { kind: 'retry'; of: number; shift: 0 | 1 }
  | { kind: 'conflict'; of: number }
  | { kind: 'broken'; how: Broken };
type Broken =
  | 'truncated'
  | 'extra field'
  | 'latin-1 bytes'
  | 'NaN amount'
  | 'negative amount'
  | 'empty amount'
  | 'impossible date'
  | 'huge id'
  | 'empty type'
  | 'random bytes';

/** The column a broken line must be quarantined under. */
const EXPECTED_COLUMN: Record<Broken, string> = {
  truncated: '*',
  'extra field': '*',
  'latin-1 bytes': '*',
  'NaN amount': 'transaction_amount',
  'negative amount': 'transaction_amount',
  'empty amount': 'transaction_amount',
  'impossible date': 'transaction_date',
  'huge id': '_id',
  'empty type': 'transaction_type',
  'random bytes': '*',
};

const broken = fc.constantFrom<Broken>(...(Object.keys(EXPECTED_COLUMN) as Broken[]));
const kinds = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.constant<Kind>({ kind: 'good' }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('retry' as const),
        of: fc.nat(),
        shift: fc.constantFrom<0 | 1>(0, 1),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('conflict' as const), of: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('broken' as const), how: broken }) },
  ),
  { minLength: 1, maxLength: 40 },
);

interface Line {
  bytes: Buffer;
  /** `accepted`, `duplicate`, or the column it is rejected under. */
  outcome: string;
}

/** Builds the file line by line, with the outcome each line must have (conflicts also mark their original). */
function buildFile(spec: Kind[], junk: number[][], prefix: string): Line[] {
  const lines: Line[] = [];
  const good: { index: number; fields: string[] }[] = [];
  spec.forEach((k, i) => {
    const second = String(i % 50).padStart(2, '0');
    const fields = [
      `${prefix}-${i}`,
      'm1',
      's1',
      `2021-03-${String(1 + (i % 28)).padStart(2, '0')} 10:00:${second}`,
      `acc${i % 4}`,
      'u1',
      `${i + 1}.5`,
      i % 3 ? 'DEBITO' : 'credito',
    ];
    let outcome = 'accepted';
    let text: Buffer;
    if (k.kind === 'retry' && good.length > 0) {
      const orig = good[k.of % good.length];
      const f = [...orig.fields];
      if (k.shift)
        f[3] = f[3].replace(/:(\d\d)$/, (_, s: string) => `:${String(Number(s) + 1).padStart(2, '0')}`);
      text = Buffer.from(f.join(','));
      outcome = lines[orig.index].outcome === '_id' ? '_id' : 'duplicate';
    } else if (k.kind === 'conflict' && good.length > 0) {
      const orig = good[k.of % good.length];
      const f = [...orig.fields];
      f[6] = `${Number(f[6]) + 1000}`;
      text = Buffer.from(f.join(','));
      outcome = '_id';
      // The original and every retry of it are conflicts now: the same _id with different content.
      for (const l of lines)
        if (l.bytes.toString('latin1').startsWith(`${orig.fields[0]},`)) l.outcome = '_id';
    } else if (k.kind === 'broken') {
      outcome = EXPECTED_COLUMN[k.how];
      const f = [...fields];
      switch (k.how) {
        case 'truncated':
          text = Buffer.from(f.join(',').slice(0, 25 + (i % 20)));
          break;
        case 'extra field':
          text = Buffer.from([...f, 'surplus'].join(','));
          break;
        case 'latin-1 bytes':
          text = Buffer.concat([
            Buffer.from(`${f[0]},Jos`),
            Buffer.from([0xe9]),
            Buffer.from(`,${f.slice(2).join(',')}`),
          ]);
          break;
        case 'NaN amount':
          f[6] = 'NaN';
          break;
        case 'negative amount':
          f[6] = `-${f[6]}`;
          break;
        case 'empty amount':
          f[6] = '';
          break;
        case 'impossible date':
          f[3] = '2021-02-30 10:00:00';
          break;
        case 'huge id':
          f[0] = 'x'.repeat(5000 + i);
          break;
        case 'empty type':
          f[7] = ' ';
          break;
        case 'random bytes': {
          // Random bytes with no line break, quote or comma: one record of one field, whatever they are.
          const b = Buffer.from(
            junk[i % junk.length].filter((x) => x !== 10 && x !== 13 && x !== 34 && x !== 44),
          );
          text = b.length > 0 ? b : Buffer.from('\x01');
          break;
        }
      }
      text ??= Buffer.from(f.join(','));
    } else {
      text = Buffer.from(fields.join(','));
      good.push({ index: lines.length, fields });
    }
    lines.push({ bytes: text, outcome });
  });
  return lines;
}

/** Parses the quarantine CSV enough to read line and column (fields may be quoted). */
function quarantineEntries(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const m of text.matchAll(/^[^,\n]*,(\d+),([^,\n]*),/gm)) out.set(Number(m[1]), m[2]);
  return out;
}

describe('ingest fuzz (embedded adapters, fast-check)', () => {
  let w: World;
  beforeAll(async () => {
    w = await localWorld();
  });
  afterAll(async () => {
    await w.dispose();
  });

  it('accounts for every generated row, and quarantines each broken one with its line and column', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        kinds,
        fc.array(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 30 }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.boolean(),
        async (spec, junk, crlf) => {
          run++;
          // Ids are unique per run: the data directory is shared, and earlier runs' rows are curated already.
          const lines = buildFile(spec, junk, `r${run}`);
          const eol = Buffer.from(crlf ? '\r\n' : '\n');
          const body = Buffer.concat([Buffer.from(HEADER), eol, ...lines.flatMap((l) => [l.bytes, eol])]);
          const key = `raw/fuzz-${run}.csv`;
          await w.objectStore.putBytes(key, body);

          const [src] = (await ingest(w, { runId: `fuzz-${run}`, sources: [key] })).sources;

          const want = (o: string) => lines.filter((l) => l.outcome === o).length;
          expect(src.read).toBe(lines.length);
          expect(src.accepted + src.duplicates + src.rejected).toBe(src.read);
          expect(src.accepted).toBe(want('accepted'));
          expect(src.duplicates).toBe(want('duplicate'));
          const q = src.quarantineKey
            ? quarantineEntries(await w.objectStore.getText(src.quarantineKey))
            : new Map();
          lines.forEach((l, i) => {
            const line = i + 2;
            if (l.outcome === 'accepted' || l.outcome === 'duplicate') expect(q.has(line)).toBe(false);
            else expect([line, q.get(line)]).toEqual([line, l.outcome]);
          });
          await registerTransactions(w.sqlEngine);
          const [{ n }] = await w.sqlEngine.query(
            `SELECT COUNT(*) AS n FROM transactions WHERE source_key = '${key}'`,
          );
          expect(Number(n)).toBe(src.accepted);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('either refuses a file of random bytes as unreadable or accounts for every record in it', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.boolean(), async (junk, withHeader) => {
        run++;
        const key = `raw/junk-${run}.csv`;
        await w.objectStore.putBytes(
          key,
          Buffer.concat([Buffer.from(withHeader ? `${HEADER}\n` : ''), Buffer.from(junk)]),
        );
        try {
          const [src] = (await ingest(w, { runId: `junk-${run}`, sources: [key] })).sources;
          expect(src.accepted + src.duplicates + src.rejected).toBe(src.read);
        } catch (err) {
          expect(err).toBeInstanceOf(InputFormatError);
          expect((err as Error).message).toMatch(new RegExp(`^raw/junk-${run}\\.csv: `));
        }
      }),
      { numRuns: 6 },
    );
  });
});
