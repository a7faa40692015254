import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ValidRow } from './validate-row';

/** Quoted when needed, as RFC 4180 asks. */
export function csvField(v: string): string {
  return v.indexOf('"') < 0 && v.indexOf(',') < 0 && v.indexOf('\n') < 0 && v.indexOf('\r') < 0
    ? v
    : `"${v.replace(/"/g, '""')}"`;
}

/** A row longer than this is cut in the quarantine file (the raw file keeps it whole). */
const MAX_QUARANTINE_RECORD_CHARS = 2000;
/** Text is encoded into blocks of this many bytes and written a block at a time. */
const BLOCK_BYTES = 256 << 10;

/** Where encoded text goes: a file ({@link TextSink}) or memory ({@link MemoryText}). */
export interface TextOut {
  /** Encodes text into the current block. */
  add(text: string): void;
  /** Appends text already encoded (UTF-8), after what was added before. */
  addBytes(bytes: Uint8Array): void;
  /** Writes out full blocks, if any. */
  flushIfFull(): Promise<void>;
  /** Writes out everything and closes. */
  close(): Promise<void>;
  /** Releases the output without waiting (on failure paths). */
  destroy(): void;
  /** Resolves once a file output's file is released (after {@link close} or {@link destroy}). */
  released?(): Promise<void>;
}

/** Text encoded into blocks in memory (a worker's share of a file), handed over with {@link take}. */
export class MemoryText implements TextOut {
  private block = Buffer.allocUnsafe(0);
  private used = 0;
  private readonly full: Uint8Array[] = [];
  bytes = 0;

  add(text: string): void {
    if (this.used + text.length * 3 > this.block.length) {
      this.rotate();
      this.block = Buffer.allocUnsafe(Math.max(BLOCK_BYTES, text.length * 3));
    }
    const n = this.block.write(text, this.used, 'utf8');
    this.used += n;
    this.bytes += n;
  }

  addBytes(bytes: Uint8Array): void {
    this.rotate();
    this.full.push(bytes);
    this.bytes += bytes.length;
  }

  async flushIfFull(): Promise<void> {}

  async close(): Promise<void> {}

  destroy(): void {
    this.full.length = 0;
    this.rotate();
  }

  private rotate(): void {
    if (this.used > 0) this.full.push(this.block.subarray(0, this.used));
    this.block = Buffer.allocUnsafe(0);
    this.used = 0;
  }

  /** The text so far as one byte array (its own buffer: it can be transferred to another thread); empties this. */
  take(): Uint8Array {
    this.rotate();
    const out = new Uint8Array(this.bytes);
    let at = 0;
    for (const b of this.full.splice(0)) {
      out.set(b, at);
      at += b.length;
    }
    this.bytes = 0;
    return out;
  }
}

/**
 * A local text file written in blocks. Rows are encoded into a byte block as they come (synchronously: no string
 * is kept, which would load the garbage collector); full blocks are written when {@link flushIfFull} is awaited,
 * once per parsed batch, so memory stays at a few blocks per file whatever the input size.
 */
export class TextSink implements TextOut {
  private block = Buffer.allocUnsafe(BLOCK_BYTES);
  private used = 0;
  private full: Buffer[] = [];
  private constructor(private readonly stream: WriteStream) {}

  static open(path: string, append = false): TextSink {
    return new TextSink(createWriteStream(path, { flags: append ? 'a' : 'w' }));
  }

  add(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    if (this.used + text.length * 3 > BLOCK_BYTES) {
      this.rotate();
      if (text.length * 3 > BLOCK_BYTES) {
        this.full.push(Buffer.from(text, 'utf8'));
        return;
      }
    }
    this.used += this.block.write(text, this.used, 'utf8');
  }

  addBytes(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.rotate();
    this.full.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  }

  private rotate(): void {
    if (this.used === 0) return;
    this.full.push(this.block.subarray(0, this.used));
    this.block = Buffer.allocUnsafe(BLOCK_BYTES);
    this.used = 0;
  }

  async flushIfFull(): Promise<void> {
    if (this.full.length > 0) await this.writeFull();
  }

  async flush(): Promise<void> {
    this.rotate();
    await this.writeFull();
  }

  private async writeFull(): Promise<void> {
    const blocks = this.full;
    this.full = [];
    for (const b of blocks) {
      if (!this.stream.write(b)) {
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          this.stream.once('error', onError);
          this.stream.once('drain', () => {
            this.stream.off('error', onError);
            resolve();
          });
        });
      }
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve, reject) =>
      this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * Releases the file without waiting (on failure paths). The file may still be opening: an error opening it (its
   * directory removed meanwhile) is of no interest once it is thrown away, and must not escape as an unhandled
   * 'error' event (it did, once in a CI run of the chunked-ingest property, for a file the run had just failed).
   */
  destroy(): void {
    this.stream.on('error', () => {});
    if (!this.stream.closed) this.stream.destroy();
  }

  released(): Promise<void> {
    return this.stream.closed ? Promise.resolve() : new Promise((resolve) => this.stream.once('close', () => resolve()));
  }
}

export const QUARANTINE_HEADER = 'source_key,line,column,reason,tx_id,record\n';

/** Per-file counters and the quarantine writer shared by the CSV and Parquet paths. */
export class QuarantineFile {
  rejected = 0;
  readonly rejectedByReason: Record<string, number> = {};
  private readonly sourceField: string;

  constructor(
    source: string,
    private sink: TextOut,
  ) {
    this.sourceField = csvField(source);
  }

  /** Appends rows a worker rejected and encoded ({@link QuarantineFile.reject} on its own copy), with their counts. */
  absorb(rejected: number, byReason: Record<string, number>, encoded: Uint8Array): void {
    this.rejected += rejected;
    for (const [bucket, n] of Object.entries(byReason))
      this.rejectedByReason[bucket] = (this.rejectedByReason[bucket] ?? 0) + n;
    this.sink.addBytes(encoded);
  }

  /** Records a rejected row: file, line, column and reason (and the row as read, cut when huge). */
  reject(line: number, column: string, reason: string, txId: string, record: string): void {
    this.rejected++;
    // The reason without the value it quotes, so that rows fall in a few buckets.
    const bucket = `${column}: ${reason.split(/: |, got /)[0]}`;
    this.rejectedByReason[bucket] = (this.rejectedByReason[bucket] ?? 0) + 1;
    const clipped =
      record.length > MAX_QUARANTINE_RECORD_CHARS
        ? `${record.slice(0, MAX_QUARANTINE_RECORD_CHARS)}…`
        : record;
    const id = txId.length > 200 ? `${txId.slice(0, 200)}…` : txId;
    this.sink.add(
      `${this.sourceField},${line},${csvField(column)},${csvField(reason)},${csvField(id)},${csvField(clipped)}\n`,
    );
  }

  flushIfFull(): Promise<void> {
    return this.sink.flushIfFull();
  }

  close(): Promise<void> {
    return this.sink.close();
  }

  /** Continues an already closed file (conflicts are found after every file has been read). */
  reopen(path: string): void {
    this.sink = TextSink.open(path, true);
  }

  destroy(): void {
    this.sink.destroy();
  }

  /** Resolves once its file is released (see {@link TextOut.released}). */
  async released(): Promise<void> {
    await this.sink.released?.();
  }
}

/** Staged rows of one source, one CSV file per month under `<dir>/stage_month=YYYY-MM/<name>`. */
export interface StagedMonth {
  month: string;
  path: string;
}

/**
 * Writes staged rows into one file per calendar month, so that curated Parquet can later be written a range of
 * days at a time reading only the files of those months. At most `maxOpen` files are open (least recently used
 * closed first, reopened for append), so a file spread over many months still needs bounded memory.
 */
export class MonthSinks implements MonthOutput {
  private readonly open = new Map<string, { sink: TextSink; used: number }>();
  private readonly seen = new Map<string, string>();
  private tick = 0;

  constructor(
    private readonly dir: string,
    private readonly name: string,
    private readonly header: string,
    private readonly maxOpen = 16,
  ) {}

  /** The sink of `month` (`YYYY-MM`) if its file is open, else undefined. */
  openSink(month: string): TextSink | undefined {
    const hit = this.open.get(month);
    if (hit === undefined) return undefined;
    hit.used = ++this.tick;
    return hit.sink;
  }

  /** The sink of `month` (`YYYY-MM`), opening (or reopening) its file; the least recently used file is closed first. */
  async sink(month: string): Promise<TextSink> {
    const hit = this.openSink(month);
    if (hit) return hit;
    if (this.open.size >= this.maxOpen) {
      let oldest = '';
      let min = Infinity;
      for (const [m, e] of this.open) {
        if (e.used < min) {
          min = e.used;
          oldest = m;
        }
      }
      const evicted = this.open.get(oldest)!;
      this.open.delete(oldest);
      await evicted.sink.close();
    }
    let path = this.seen.get(month);
    let sink: TextSink;
    if (path === undefined) {
      const folder = join(this.dir, `stage_month=${month}`);
      await mkdir(folder, { recursive: true });
      path = join(folder, this.name);
      this.seen.set(month, path);
      sink = TextSink.open(path);
      sink.add(this.header);
    } else sink = TextSink.open(path, true);
    this.open.set(month, { sink, used: ++this.tick });
    return sink;
  }

  async flushIfFull(): Promise<void> {
    for (const e of this.open.values()) await e.sink.flushIfFull();
  }

  async close(): Promise<StagedMonth[]> {
    for (const e of this.open.values()) await e.sink.close();
    this.open.clear();
    return [...this.seen.entries()]
      .map(([month, path]) => ({ month, path }))
      .sort((a, b) => (a.month < b.month ? -1 : 1));
  }

  destroy(): void {
    for (const e of this.open.values()) e.sink.destroy();
    this.open.clear();
  }
}

/** Where a {@link RowStager} puts each month's rows: open files, or memory. */
export interface MonthOutput {
  /** The output of `month` (`YYYY-MM`) if it can be had at once, else undefined. */
  openSink(month: string): TextOut | undefined;
  /** The output of `month`, opening it if needed. */
  sink(month: string): Promise<TextOut>;
}

/** Each month's staged rows in memory (a worker's share of a file). */
export class MemoryMonths implements MonthOutput {
  private readonly months = new Map<string, MemoryText>();

  openSink(month: string): MemoryText {
    let m = this.months.get(month);
    if (m === undefined) this.months.set(month, (m = new MemoryText()));
    return m;
  }

  async sink(month: string): Promise<MemoryText> {
    return this.openSink(month);
  }

  /** Each month's rows, in month order, each as one byte array of its own. */
  take(): { month: string; bytes: Uint8Array }[] {
    return [...this.months.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([month, text]) => ({ month, bytes: text.take() }));
  }
}

/**
 * Encodes accepted rows of one CSV file into staged CSV, one output per month, and the values of extra columns,
 * keyed by source and line, into the extras output; keeps the counts, days and time range that plan the curated
 * writes. Rejected rows go to the file's {@link QuarantineFile}.
 */
export class RowStager {
  read = 0;
  accepted = 0;
  /** Earliest and latest accepted timestamps (`YYYY-MM-DD HH:MM:SS` compares as text). */
  minTs: string | null = null;
  maxTs: string | null = null;
  /** Accepted rows per day, to plan the curated writes. */
  readonly days = new Map<string, number>();
  private readonly sourceField: string;
  private lastDay = '';
  /** The month output rows go to without a lookup (`YYYY-MM`), open until the next {@link CsvSourceStager.endBatch}. */
  protected curMonth = '';
  protected curSink: TextOut | null = null;
  /** Rows of the current batch for other months, staged at the end of the batch (opening a file is async). */
  protected pending: { month: string; text: string }[] = [];

  /**
   * @param plainValues the values come from text with no quote, so none holds a delimiter, a quote or a line break
   *   and none needs quoting (a chunk without quotes).
   */
  constructor(
    source: string,
    protected readonly staged: MonthOutput,
    protected readonly extras: TextOut | null,
    private readonly plainValues = false,
  ) {
    this.sourceField = csvField(source);
  }

  accept(row: ValidRow, line: number): void {
    this.accepted++;
    const ts = row.transaction_date;
    if (this.minTs === null || ts < this.minTs) this.minTs = ts;
    if (this.maxTs === null || ts > this.maxTs) this.maxTs = ts;
    if (this.lastDay === '' || !ts.startsWith(this.lastDay)) this.lastDay = ts.slice(0, 10);
    this.days.set(this.lastDay, (this.days.get(this.lastDay) ?? 0) + 1);
    // Timestamp, amount and type are canonical (no delimiter or quote can occur in them); ids from plain text
    // cannot hold a delimiter, quote or line break either.
    const text = this.plainValues
      ? `${row.tx_id},${row.merchant_id},${row.subsidiary},${ts},${row.account_number},` +
        `${row.user_id},${row.transaction_amount},${row.transaction_type},${this.sourceField},${line}\n`
      : `${csvField(row.tx_id)},${csvField(row.merchant_id)},${csvField(row.subsidiary)},${ts},${csvField(row.account_number)},` +
        `${csvField(row.user_id)},${row.transaction_amount},${row.transaction_type},${this.sourceField},${line}\n`;
    if (this.curSink !== null && ts.startsWith(this.curMonth)) {
      this.curSink.add(text);
      return;
    }
    const month = ts.slice(0, 7);
    const sink = this.pending.length === 0 ? this.staged.openSink(month) : undefined;
    if (sink) {
      this.curMonth = month;
      this.curSink = sink;
      sink.add(text);
    } else this.pending.push({ month, text });
  }

  extra(line: number, values: string[]): void {
    let text = `${this.sourceField},${line}`;
    for (const v of values) text += `,${csvField(v ?? '')}`;
    this.extras?.add(text + '\n');
  }
}

/** A worker's share of a CSV file, staged in memory: what {@link CsvSourceStager.absorb} appends to the file's outputs. */
export interface StagedChunk {
  read: number;
  accepted: number;
  rejected: number;
  rejectedByReason: Record<string, number>;
  minTs: string | null;
  maxTs: string | null;
  days: [string, number][];
  /** Staged rows of each month (encoded CSV lines). */
  months: { month: string; bytes: Uint8Array }[];
  /** Quarantine and extras lines (encoded). */
  quarantine: Uint8Array;
  extras: Uint8Array;
}

/**
 * Stages the rows of one CSV file: valid rows (normalised) into the staging CSV of their month, rejected rows
 * into quarantine, and the values of extra columns, keyed by source and line, into the extras file.
 */
export class CsvSourceStager extends RowStager {
  constructor(
    source: string,
    protected override readonly staged: MonthSinks,
    readonly quarantine: QuarantineFile,
    extras: TextSink | null,
  ) {
    super(source, staged, extras);
  }

  /** Appends a chunk staged elsewhere (in file order: chunks are absorbed in the order they were cut). */
  async absorb(chunk: StagedChunk): Promise<void> {
    this.read += chunk.read;
    this.accepted += chunk.accepted;
    if (chunk.minTs !== null && (this.minTs === null || chunk.minTs < this.minTs)) this.minTs = chunk.minTs;
    if (chunk.maxTs !== null && (this.maxTs === null || chunk.maxTs > this.maxTs)) this.maxTs = chunk.maxTs;
    for (const [day, n] of chunk.days) this.days.set(day, (this.days.get(day) ?? 0) + n);
    for (const m of chunk.months) (await this.staged.sink(m.month)).addBytes(m.bytes);
    this.curSink = null;
    this.quarantine.absorb(chunk.rejected, chunk.rejectedByReason, chunk.quarantine);
    this.extras?.addBytes(chunk.extras);
    await this.endBatch();
  }

  /** Called once per parsed batch: stages rows of other months, then writes out full buffers. */
  async endBatch(): Promise<void> {
    // Each row is added right after its file is fetched; a file closed later in the loop is flushed as it closes.
    for (const p of this.pending) {
      const sink = await this.staged.sink(p.month);
      sink.add(p.text);
      this.curMonth = p.month;
      this.curSink = sink;
    }
    this.pending = [];
    await this.staged.flushIfFull();
    await this.quarantine.flushIfFull();
    await this.extras?.flushIfFull();
  }

  async closeStaged(): Promise<StagedMonth[]> {
    await this.endBatch();
    const months = await this.staged.close();
    await this.extras?.close();
    return months;
  }

  destroy(): void {
    this.staged.destroy();
    this.extras?.destroy();
  }
}
