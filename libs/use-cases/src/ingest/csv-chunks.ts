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
}

/**
 * A chunk staged, or `plain: false` when the chunk holds a quote or a carriage return that does not end a line:
 * a quoted field may hold a line break, so such a chunk may not start or end on a record boundary, and only
 * reading the file in one stream from there on stages it right.
 */
export type CsvChunkOutcome = { plain: true; staged: StagedChunk } | { plain: false };

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

/** True when no record can span the chunk's ends: no quote, and every CR is part of a CRLF. */
export function isPlainChunk(bytes: Uint8Array): boolean {
  const b = asBuffer(bytes);
  if (b.indexOf(QUOTE) >= 0) return false;
  for (let at = b.indexOf(CR); at >= 0; at = b.indexOf(CR, at + 1)) {
    if (b[at + 1] !== LF) return false;
  }
  return true;
}

/** Line breaks (LF) in a chunk: how far its first line is from the next chunk's. */
export function countLines(bytes: Uint8Array): number {
  const b = asBuffer(bytes);
  let n = 0;
  for (let at = b.indexOf(LF); at >= 0; at = b.indexOf(LF, at + 1)) n++;
  return n;
}

/**
 * Parses, validates and stages one plain chunk in memory, exactly as the one-stream path would stage the same
 * lines (same parser, same {@link stageRecords}); the caller appends the result to the file's outputs in order.
 */
export function stageCsvChunk(job: CsvChunkJob): CsvChunkOutcome {
  if (!isPlainChunk(job.bytes)) return { plain: false };
  // Text inside a file keeps a U+FEFF it may hold; invalid bytes become U+FFFD, which the parser reports.
  const text = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(job.bytes);
  const parser = createCsvParser({ firstLine: job.firstLine });
  const months = new MemoryMonths();
  const extras = new MemoryText();
  const quarantineText = new MemoryText();
  const quarantine = new QuarantineFile(job.source, quarantineText);
  const stager = new RowStager(
    job.source,
    months,
    job.layout.extraPositions.length > 0 ? extras : null,
    true,
  );
  stageRecords(parser.push(text), job.layout, stager, quarantine);
  stageRecords(parser.end(), job.layout, stager, quarantine);
  return {
    plain: true,
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
   * when fewer are held, or no line break follows them yet.
   */
  take(min: number, atEnd: boolean): Uint8Array | null {
    if (this.size === 0 || (this.size < min && !atEnd)) return null;
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
