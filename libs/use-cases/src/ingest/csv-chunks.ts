import { createCsvParser, type CsvRecord } from './csv-parser';
import { MemoryMonths, MemoryText, QuarantineFile, RowStager, type StagedChunk } from './source-stager';
import { isRejection, validateValues } from './validate-row';

/** Where a CSV file's values sit, fixed by its header. */
export interface CsvLayout {
  /** Position of each contract column, in contract order. */
  positions: number[];
  /** Fields per record (the header's). */
  width: number;
  /** Positions of the columns kept aside as extras. */
  extraPositions: number[];
}

/**
 * Validates parsed records and stages each: accepted (normalised, with its line), or rejected into quarantine with
 * its line, column and reason; values of extra columns go aside. The one place a CSV record's fate is decided,
 * whether the file is read in one stream or in chunks on worker threads.
 */
export function stageRecords(
  records: CsvRecord[],
  layout: CsvLayout,
  stager: RowStager,
  quarantine: QuarantineFile,
): void {
  const { positions: p, width, extraPositions } = layout;
  for (const rec of records) {
    stager.read++;
    const f = rec.fields;
    if (rec.error) {
      quarantine.reject(rec.line, '*', rec.error, '', f.join(','));
      continue;
    }
    if (f.length !== width) {
      quarantine.reject(rec.line, '*', `expected ${width} fields, found ${f.length}`, '', f.join(','));
      continue;
    }
    const row = validateValues(f[p[0]], f[p[1]], f[p[2]], f[p[3]], f[p[4]], f[p[5]], f[p[6]], f[p[7]]);
    if (isRejection(row)) quarantine.reject(rec.line, row.column, row.reason, f[p[0]], f.join(','));
    else stager.accept(row, rec.line);
    if (extraPositions.length > 0)
      stager.extra(
        rec.line,
        extraPositions.map((i) => f[i]),
      );
  }
}

/** One chunk of a CSV file for a worker: whole lines, cut after a line break (the last chunk may end without one). */
export interface CsvChunkJob {
  /** The file's key (staged rows and quarantine lines name it). */
  source: string;
  layout: CsvLayout;
  /** The line number of the chunk's first line. */
  firstLine: number;
  /** The chunk's bytes (UTF-8). */
  bytes: Uint8Array;
  /** The chunk ends where the file ends (it may then end without a line break, or inside a quoted field). */
  last?: boolean;
}

/**
 * A chunk staged, or `aligned: false` when its lines may not be records of their own: either its end is inside a
 * quoted field (a record spans the cut: `longer`, a chunk extended further may end on a boundary), or it holds a
 * carriage return that does not end a line (which the parser counts as a line break where a byte count sees none: only
 * reading the file in one stream from the chunk's first line stages it right).
 */
export type CsvChunkOutcome = { aligned: true; staged: StagedChunk } | { aligned: false; longer: boolean };

/** Runs {@link stageCsvChunk} somewhere (worker threads): ingest keeps `concurrency` chunks in flight. */
export interface CsvChunkRunner {
  /** Chunks in flight at once (one per worker; one more is cut while they run). */
  readonly concurrency: number;
  /** Bytes per chunk (default 1 MiB); the chunk is cut after the last line break past this size. */
  readonly chunkBytes?: number;
  run(job: CsvChunkJob): Promise<CsvChunkOutcome>;
  /** Called when every CSV file of a run is staged: the workers' memory can go before the SQL engine's work. */
  release?(): Promise<void>;
}

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * The same bytes as a Buffer, whose search runs natively (memchr): a chunk arrives in a worker as a plain typed array,
 * whose own `indexOf` is several times slower.
 */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** True when every CR of the bytes is part of a CRLF, so that their lines are counted by their LFs. */
function onlyCrlf(b: Buffer): boolean {
  for (let at = b.indexOf(CR); at >= 0; at = b.indexOf(CR, at + 1)) {
    if (b[at + 1] !== LF) return false;
  }
  return true;
}

/**
 * Decodes whole lines of a file: text inside a file keeps a U+FEFF it may hold; invalid bytes become U+FFFD, which the
 * parser reports.
 */
function decodeLines(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
}

/**
 * True when the bytes, read from a record's start on line `firstLine` (1: a byte-order mark is dropped), are whole
 * records: they end outside any quoted field, after a line break, and every CR ends a line (a file's header line,
 * say, before its chunks are cut).
 */
export function isWholeRecords(bytes: Uint8Array, firstLine: number): boolean {
  const b = asBuffer(bytes);
  if (b.length === 0 || b[b.length - 1] !== LF || !onlyCrlf(b)) return false;
  if (b.indexOf(QUOTE) < 0) return true;
  const parser = createCsvParser({ firstLine });
  parser.push(decodeLines(b));
  return parser.atRecordStart();
}

/** Line breaks (LF) in a chunk: how far its first line is from the next chunk's. */
export function countLines(bytes: Uint8Array): number {
  const b = asBuffer(bytes);
  let n = 0;
  for (let at = b.indexOf(LF); at >= 0; at = b.indexOf(LF, at + 1)) n++;
  return n;
}

/**
 * Parses, validates and stages one chunk in memory, exactly as the one-stream path would stage the same lines (same
 * parser, same {@link stageRecords}); the caller appends the result to the file's outputs in order. The chunk starts
 * where a record starts (the file's chunks before it were aligned); it is staged when it also ends where one ends,
 * for then the one stream's parser would be in the very state this one starts in at each end, and reads the same
 * records. A quoted field may hold delimiters and quotes (then staged values are quoted as needed) and even line
 * breaks, as long as the chunk is not cut inside it.
 */
export function stageCsvChunk(job: CsvChunkJob): CsvChunkOutcome {
  const b = asBuffer(job.bytes);
  if (!onlyCrlf(b)) return { aligned: false, longer: false };
  const quoted = b.indexOf(QUOTE) >= 0;
  const parser = createCsvParser({ firstLine: job.firstLine });
  const records = parser.push(decodeLines(b));
  // The file's last chunk ends where the file does, and `end()` reads its end as the one stream's would.
  if (job.last !== true && !parser.atRecordStart()) return { aligned: false, longer: true };
  const months = new MemoryMonths();
  const extras = new MemoryText();
  const quarantineText = new MemoryText();
  const quarantine = new QuarantineFile(job.source, quarantineText);
  const stager = new RowStager(
    job.source,
    months,
    job.layout.extraPositions.length > 0 ? extras : null,
    !quoted,
  );
  stageRecords(records, job.layout, stager, quarantine);
  stageRecords(parser.end(), job.layout, stager, quarantine);
  return {
    aligned: true,
    staged: {
      read: stager.read,
      accepted: stager.accepted,
      rejected: quarantine.rejected,
      rejectedByReason: quarantine.rejectedByReason,
      minTs: stager.minTs,
      maxTs: stager.maxTs,
      days: [...stager.days.entries()],
      months: months.take(),
      quarantine: quarantineText.take(),
      extras: extras.take(),
    },
  };
}

/** The byte arrays of a staged chunk, to hand to postMessage's transfer list. */
export function transferablesOf(chunk: StagedChunk): ArrayBuffer[] {
  const arrays = [chunk.quarantine, chunk.extras, ...chunk.months.map((m) => m.bytes)];
  return arrays
    .map((a) => a.buffer)
    .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
}

/**
 * Holds the bytes of a stream as they come and cuts them into chunks that end after a line break. A chunk is a copy
 * of its own (not a slice of a pooled buffer), so that posting it to a worker copies only its bytes, and it can still
 * be given back to the one-stream path. (Shared memory would save that copy, but V8 copies into it a byte at a time.)
 */
export class LineCutter {
  private held: Buffer[] = [];
  size = 0;

  add(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.held.push(asBuffer(bytes));
    this.size += bytes.length;
  }

  /** The bytes up to the first line break (or all of them at the end of the stream); null if there is none yet. */
  firstLine(atEnd: boolean): Uint8Array | null {
    let before = 0;
    for (const b of this.held) {
      const at = b.indexOf(LF);
      if (at >= 0) return this.cutAt(before + at + 1);
      before += b.length;
    }
    return atEnd && this.size > 0 ? this.cutAt(this.size) : null;
  }

  /**
   * At least `min` bytes (or all of them at the end of the stream), cut after the first line break past them; null
   * when fewer are held, or no line break follows them yet. `balanced`: only after a line break preceded by an even
   * number of quotes since the first byte held (outside any quoted field, when that byte starts a record and the
   * quoting is well formed) — for files whose quoted fields hold line breaks.
   */
  take(min: number, atEnd: boolean, balanced = false): Uint8Array | null {
    if (this.size === 0 || (this.size < min && !atEnd)) return null;
    if (balanced) {
      const end = this.balancedLineEnd(min);
      if (end >= 0) return this.cutAt(end);
      return atEnd ? this.cutAt(this.size) : null;
    }
    let before = 0;
    for (const b of this.held) {
      if (before + b.length >= min) {
        const at = b.indexOf(LF, Math.max(0, min - 1 - before));
        if (at >= 0) return this.cutAt(before + at + 1);
      }
      before += b.length;
    }
    return atEnd ? this.cutAt(this.size) : null;
  }

  /** Just past the first line break at or after byte `min - 1` with an even number of quotes before it; -1 if none. */
  private balancedLineEnd(min: number): number {
    let even = true;
    let before = 0;
    for (const b of this.held) {
      let pos = 0;
      for (;;) {
        const quote = b.indexOf(QUOTE, pos);
        const from = Math.max(pos, min - 1 - before);
        const lf = from < b.length ? b.indexOf(LF, from) : -1;
        if (even && lf >= 0 && (quote < 0 || lf < quote)) return before + lf + 1;
        if (quote < 0) break;
        even = !even;
        pos = quote + 1;
      }
      before += b.length;
    }
    return -1;
  }

  /** Puts bytes cut earlier back in front of those held, in the order given. */
  putBack(bytes: Uint8Array[]): void {
    const back = bytes.filter((b) => b.length > 0).map(asBuffer);
    this.held = [...back, ...this.held];
    for (const b of back) this.size += b.length;
  }

  /** Everything not cut yet, as it came; empties this. */
  drain(): Uint8Array[] {
    const held = this.held;
    this.held = [];
    this.size = 0;
    return held;
  }

  /** The first `n` bytes held, as one buffer of its own; the rest stays held. */
  private cutAt(n: number): Uint8Array {
    const out = Buffer.allocUnsafeSlow(n);
    let at = 0;
    while (at < n) {
      const b = this.held[0];
      const want = n - at;
      if (b.length <= want) {
        b.copy(out, at);
        at += b.length;
        this.held.shift();
      } else {
        b.copy(out, at, 0, want);
        this.held[0] = b.subarray(want);
        at += want;
      }
    }
    this.size -= n;
    return out;
  }
}
