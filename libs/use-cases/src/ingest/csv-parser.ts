import type { Readable } from 'node:stream';

/** One parsed CSV record: its fields, the physical line it starts on (1-based), or why it is unreadable. */
export interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

export interface CsvParserOptions {
  delimiter?: string;
  /** A record longer than this many characters is reported as an error and skipped to the next line. */
  maxRecordChars?: number;
  /**
   * The line number of the text's first line (default 1), for text that starts inside a file (after a line break);
   * a byte-order mark is dropped only at line 1.
   */
  firstLine?: number;
}

/** The synchronous parser: text goes in as it comes, records come out as soon as they are whole. */
export interface CsvParser {
  /** Parses more text; returns the records it completes. */
  push(text: string): CsvRecord[];
  /** Ends the input (with the decoder's last characters, if any); returns the last record, if any. */
  end(tail?: string): CsvRecord[];
  /**
   * True when the text pushed so far ends exactly where a record may start: after a line break that is not inside
   * a quoted field, with nothing of a next record begun.
   */
  atRecordStart(): boolean;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Streams RFC 4180 CSV records from a byte stream: quoted fields (with `""` escapes and line breaks
 * inside), CRLF or LF, a UTF-8 byte-order mark. Bytes that are not valid UTF-8 mark their record with
 * an error instead of being silently replaced.
 */
export async function* parseCsv(
  input: Readable | AsyncIterable<Buffer | string>,
  options: CsvParserOptions = {},
): AsyncGenerator<CsvRecord> {
  for await (const batch of parseCsvBatches(input, options)) yield* batch;
}

/**
 * {@link parseCsv} yielding the records of each input chunk as one array: one await per chunk (a few hundred
 * records) instead of one per record, which is what makes the ingest hot path fast.
 */
export async function* parseCsvBatches(
  input: Readable | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: CsvParserOptions = {},
): AsyncGenerator<CsvRecord[]> {
  // The parser drops a byte-order mark at line 1 only: text that starts inside a file keeps whatever it holds.
  const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  const parser = createCsvParser(options);
  for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
    const out = parser.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (out.length > 0) yield out;
  }
  const last = parser.end(decoder.decode());
  if (last.length > 0) yield last;
}

/**
 * The fields of a whole line when it is a record on its own that reads the same split as parsed: no quote at all, or
 * every field quoted with no quote inside (`"a","b, c"`: an exporter's quote-everything style). Null otherwise (an
 * escaped quote, a field quoted and one not, a quoted field that goes on past the line): the parser reads it.
 */
function splitWholeLine(lineText: string, delim: string, quotedSep: string): string[] | null {
  if (lineText.indexOf('"') < 0) return lineText.split(delim);
  if (
    lineText.length < 2 ||
    lineText.charCodeAt(0) !== QUOTE ||
    lineText.charCodeAt(lineText.length - 1) !== QUOTE
  )
    return null;
  const fields = lineText.slice(1, -1).split(quotedSep);
  for (const f of fields) if (f.indexOf('"') >= 0) return null;
  return fields;
}

/** A {@link CsvParser}: the state of one input, fed with {@link CsvParser.push} and closed with {@link CsvParser.end}. */
export function createCsvParser(options: CsvParserOptions = {}): CsvParser {
  const delimChar = options.delimiter ?? ',';
  const delim = delimChar.charCodeAt(0);
  const maxChars = options.maxRecordChars ?? 1 << 20;
  const quotedSep = `"${delimChar}"`;

  let fields: string[] = [];
  let field = '';
  let inQuotes = false;
  let afterQuote = false; // just closed a quoted field; only a delimiter or line end may follow
  let justClosed = false; // the last character read closed a quoted field: a quote right after makes it an escape
  let line = options.firstLine ?? 1;
  let atFileStart = line === 1; // a byte-order mark is dropped there, once
  let recordLine = line;
  let recordChars = 0;
  let recordError: string | undefined;
  let skipping = false; // an over-long record: drop characters until the next line break
  let pendingCR = false;
  let started = false; // any character seen in the current record

  const endRecord = (): CsvRecord => {
    fields.push(field);
    const rec: CsvRecord = { line: recordLine, fields };
    if (recordError) rec.error = recordError;
    fields = [];
    field = '';
    afterQuote = false;
    recordError = undefined;
    recordChars = 0;
    started = false;
    return rec;
  };

  const push = (input: string): CsvRecord[] => {
    let text = input;
    if (atFileStart && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      atFileStart = false;
    }
    const out: CsvRecord[] = [];
    let segStart = 0; // start of the pending unquoted slice of `text` for the current field
    const flushSeg = (end: number) => {
      if (end > segStart) field += text.slice(segStart, end);
    };
    for (let i = 0; i < text.length; i++) {
      // Fast path: a whole line at a record start, unquoted or quoted throughout (no stray CR, no replacement char),
      // is split at once; a CRLF line end is plain too.
      if (
        !started &&
        !inQuotes &&
        !afterQuote &&
        !skipping &&
        !pendingCR &&
        segStart === i &&
        field.length === 0 &&
        fields.length === 0
      ) {
        const nl = text.indexOf('\n', i);
        const end = nl > i && text.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
        if (end > i && end - i <= maxChars) {
          const lineText = text.slice(i, end);
          if (lineText.indexOf('\r') < 0 && lineText.indexOf('\ufffd') < 0) {
            const fields = splitWholeLine(lineText, delimChar, quotedSep);
            if (fields !== null) {
              out.push({ line, fields });
              line++;
              recordLine = line;
              i = nl;
              segStart = nl + 1;
              continue;
            }
          }
        }
      }
      const c = text.charCodeAt(i);
      const escape = justClosed;
      justClosed = false;
      if (pendingCR) {
        pendingCR = false;
        if (c === LF) {
          segStart = i + 1;
          continue;
        }
      }
      if (skipping) {
        if (c === LF || c === CR) {
          skipping = false;
          pendingCR = c === CR;
          line++;
          out.push({ line: recordLine, fields: [], error: `record longer than ${maxChars} characters` });
          fields = [];
          field = '';
          recordError = undefined;
          recordChars = 0;
          started = false;
          inQuotes = false;
          afterQuote = false;
          recordLine = line;
        }
        segStart = i + 1;
        continue;
      }
      // A record's length counts its characters, not the line break that ends it.
      if (++recordChars > maxChars && (inQuotes || (c !== LF && c !== CR))) {
        skipping = true;
        segStart = i + 1;
        continue;
      }
      if (c === 0xfffd && !recordError) recordError = 'invalid UTF-8 byte sequence';
      if (inQuotes) {
        if (c === QUOTE) {
          // A close, or the first half of an escaped quote (`""`): the next character decides, in this text or the next.
          flushSeg(i);
          inQuotes = false;
          afterQuote = true;
          justClosed = true;
          segStart = i + 1;
        } else if (c === LF) {
          line++;
        }
        continue;
      }
      if (c === QUOTE) {
        if (escape) {
          // `""`: the previous quote was an escape, not a close.
          field += '"';
          inQuotes = true;
          afterQuote = false;
          segStart = i + 1;
          continue;
        }
        flushSeg(i);
        if (field.length === 0 && segStart === i) {
          inQuotes = true;
        } else if (!recordError) {
          recordError = 'quote inside an unquoted field';
        }
        segStart = i + 1;
        started = true;
        continue;
      }
      if (c === delim) {
        flushSeg(i);
        fields.push(field);
        field = '';
        afterQuote = false;
        segStart = i + 1;
        started = true;
        continue;
      }
      if (c === LF || c === CR) {
        flushSeg(i);
        if (started || fields.length > 0 || field.length > 0) out.push(endRecord());
        else {
          // A blank line: nothing of it counts toward the next record's length.
          afterQuote = false;
          recordChars = 0;
        }
        line++;
        recordLine = line;
        pendingCR = c === CR;
        segStart = i + 1;
        continue;
      }
      if (afterQuote && !recordError) recordError = 'characters after a closing quote';
      started = true;
    }
    if (!skipping) flushSeg(text.length);
    return out;
  };

  const end = (tail = ''): CsvRecord[] => {
    if (tail) field += tail;
    if (tail && !recordError && tail.indexOf('\ufffd') >= 0) recordError = 'invalid UTF-8 byte sequence';
    // An over-long record is reported as such even when the file ends inside its quotes (what it held is dropped).
    if (skipping)
      return [{ line: recordLine, fields: [], error: `record longer than ${maxChars} characters` }];
    if (inQuotes) {
      recordError = recordError ?? 'unterminated quoted field at end of file';
      return [endRecord()];
    }
    if (started || fields.length > 0 || field.length > 0) return [endRecord()];
    return [];
  };
  const atRecordStart = () =>
    !inQuotes &&
    !afterQuote &&
    !skipping &&
    !pendingCR &&
    !started &&
    fields.length === 0 &&
    field.length === 0;
  return { push, end, atRecordStart };
}
