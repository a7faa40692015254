import { athenaResultRecords } from '../src/athena-result-csv';

async function parse(chunks: (string | Uint8Array)[], batchSize = 1000): Promise<(string | null)[][]> {
  const out: (string | null)[][] = [];
  for await (const batch of athenaResultRecords(chunks, batchSize)) out.push(...batch);
  return out;
}

/** Athena's result file: every value quoted (quotes doubled, line breaks kept), NULL as an empty unquoted field. */
const FILE =
  '"tx_id","note","amount","z"\n' +
  '"t1","plain","10.50000000","1.5"\n' +
  '"t2","with, comma and ""quotes""","7.00000000",\n' +
  '"t3","two\nlines","0.10000000","-2.0"\n' +
  '"t4","","1.00000000",\n' +
  '"t5","ñandú €","3.00000000","0.0"\n';

const EXPECTED = [
  ['tx_id', 'note', 'amount', 'z'],
  ['t1', 'plain', '10.50000000', '1.5'],
  ['t2', 'with, comma and "quotes"', '7.00000000', null],
  ['t3', 'two\nlines', '0.10000000', '-2.0'],
  ['t4', '', '1.00000000', null],
  ['t5', 'ñandú €', '3.00000000', '0.0'],
];

describe("Athena's result file", () => {
  it('reads quoted values, doubled quotes, line breaks inside quotes, empty texts and NULLs', async () => {
    expect(await parse([FILE])).toEqual(EXPECTED);
  });

  it('reads the same whatever byte the stream is cut at (inside a UTF-8 character, an escaped quote, a line end)', async () => {
    const bytes = new TextEncoder().encode(FILE);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(await parse([bytes.slice(0, cut), bytes.slice(cut)])).toEqual(EXPECTED);
    }
    // One byte at a time.
    expect(await parse([...bytes].map((b) => Uint8Array.of(b)))).toEqual(EXPECTED);
  });

  it('reads a last line without a line break, CRLF line ends and a trailing NULL', async () => {
    expect(await parse(['"a","b"\r\n"1",\r\n"2","x"'])).toEqual([['a', 'b'], ['1', null], ['2', 'x']]);
  });

  it('hands the records over in batches of the size asked for', async () => {
    const batches: number[] = [];
    for await (const batch of athenaResultRecords([FILE], 4)) batches.push(batch.length);
    expect(batches).toEqual([4, 2]);
  });

  it('refuses a file cut inside a quoted value or with text after a closing quote', async () => {
    await expect(parse(['"a","b\n'])).rejects.toThrow('Athena result file: it ends inside a quoted value');
    await expect(parse(['"a"x,"b"\n'])).rejects.toThrow('Athena result file: a character after a closing quote ("x")');
  });
});
