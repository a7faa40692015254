/**
 * Athena's query result file (`<OutputLocation>`, the `.csv` of a SELECT): a header row, then one line per row, values
 * in double quotes (a quote inside doubled, line breaks kept inside the quotes; an unquoted value is read as written),
 * NULL as an empty field with no quotes and an empty text as `""` (as PyAthena documents from testing Athena). Parsed as a stream, whatever the chunk boundaries (a UTF-8 character, an escaped quote or a line break
 * may be cut in two): each record is its fields, `null` for NULL, `''` for an empty text.
 */
export async function* athenaResultRecords(
  body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  batchSize: number,
): AsyncGenerator<(string | null)[][]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const batch: (string | null)[][] = [];
  let record: (string | null)[] = [];
  let field = '';
  // 'start': before a field; 'quoted': inside quotes; 'quote': a quote seen inside quotes (an escape or the end);
  // 'unquoted': a field written without quotes; 'after': a closing quote seen, a separator must follow.
  let state: 'start' | 'quoted' | 'quote' | 'unquoted' | 'after' = 'start';
  let anyField = false;
  const endField = (value: string | null) => {
    record.push(value);
    field = '';
  };
  const endRecord = () => {
    batch.push(record);
    record = [];
    anyField = false;
  };
  const feed = (text: string) => {
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (state === 'quoted') {
        const q = text.indexOf('"', i);
        if (q < 0) {
          field += text.slice(i);
          return;
        }
        field += text.slice(i, q);
        i = q + 1;
        state = 'quote';
        continue;
      }
      const c = text[i++];
      anyField = true;
      if (state === 'quote') {
        if (c === '"') {
          field += '"';
          state = 'quoted';
          continue;
        }
        state = 'after';
      }
      if (state === 'after' || state === 'start' || state === 'unquoted') {
        if (c === ',') {
          endField(state === 'after' ? field : state === 'unquoted' ? field : null);
          state = 'start';
        } else if (c === '\n') {
          endField(state === 'after' ? field : state === 'unquoted' ? field : null);
          endRecord();
          state = 'start';
        } else if (c === '\r') {
          // A CRLF line end: the line feed ends the record.
        } else if (state === 'start' && c === '"') {
          state = 'quoted';
        } else if (state === 'after') {
          throw new Error(`Athena result file: a character after a closing quote (${JSON.stringify(c)})`);
        } else {
          field += c;
          state = 'unquoted';
        }
      }
    }
  };
  for await (const chunk of body) {
    feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    while (batch.length >= batchSize) yield batch.splice(0, batchSize);
  }
  feed(decoder.decode());
  // The closure changed it (TypeScript does not follow that): read it as any state.
  const last = state as typeof state | 'quoted' | 'quote' | 'unquoted' | 'after';
  if (last === 'quoted') throw new Error('Athena result file: it ends inside a quoted value');
  if (anyField) {
    endField(last === 'after' || last === 'quote' || last === 'unquoted' ? field : null);
    endRecord();
  }
  while (batch.length > 0) yield batch.splice(0, batchSize);
}
