import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { constants, createGzip } from 'node:zlib';

/** Bytes gathered before a write: large enough to amortise stream overhead, small enough to keep memory flat. */
const CHUNK = 1 << 20;

const closed = (s: Writable): Promise<void> => once(s, 'close').then(() => undefined);

/**
 * An ASCII text file (optionally gzipped) written in 1 MiB chunks. Lines are copied into a Buffer one by one
 * because turning a long concatenated string into bytes costs more than generating the rows. The caller appends
 * with {@link push} and awaits {@link flush} whenever {@link full} is set, which waits for `drain`: memory stays
 * bounded however long the file.
 */
export class TextSink {
  private buf = Buffer.allocUnsafe(CHUNK);
  private pos = 0;
  private readonly ready: Buffer[] = [];
  private failure: Error | undefined;

  private constructor(
    private readonly head: Writable,
    private readonly done: Promise<void>,
  ) {
    // Remembered so the next flush rejects instead of the process dying on an unhandled 'error'.
    head.on('error', (e: Error) => (this.failure ??= e));
    done.catch((e: Error) => (this.failure ??= e));
  }

  static open(path: string, gzip: boolean): TextSink {
    // Room for a few chunks in flight, so generating the next chunk overlaps writing the previous one.
    const file = createWriteStream(path, { highWaterMark: 4 * CHUNK });
    if (!gzip) return new TextSink(file, closed(file));
    // Level 1: hex ids barely compress at any level, and higher levels cost several times the CPU.
    const z = createGzip({ level: constants.Z_BEST_SPEED });
    return new TextSink(z, pipeline(z, file));
  }

  /** True when buffered bytes should be written out before more are pushed. */
  get full(): boolean {
    return this.ready.length > 0 || this.pos >= CHUNK - 4096;
  }

  /** Appends ASCII text (no awaiting on the hot path). */
  push(text: string): void {
    this.reserve(text.length);
    this.pos += this.buf.write(text, this.pos, 'latin1');
  }

  /**
   * Appends each item, written in place by `encode(buf, pos, item)` (at most `maxBytes` bytes, returns the new end).
   * Rows go this way so that no string is built per row.
   */
  appendEach<T>(
    items: readonly T[],
    maxBytes: number,
    encode: (buf: Buffer, pos: number, item: T) => number,
  ): void {
    for (const item of items) {
      this.reserve(maxBytes);
      this.pos = encode(this.buf, this.pos, item);
    }
  }

  private reserve(n: number): void {
    if (n <= this.buf.length - this.pos) return;
    if (this.pos > 0) this.ready.push(this.buf.subarray(0, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(CHUNK, n));
    this.pos = 0;
  }

  async flush(): Promise<void> {
    if (this.pos > 0) {
      this.ready.push(this.buf.subarray(0, this.pos));
      // The stream keeps a reference to the written bytes until they reach the file: never reuse them.
      this.buf = Buffer.allocUnsafe(CHUNK);
      this.pos = 0;
    }
    for (const chunk of this.ready.splice(0)) {
      if (this.failure) throw this.failure;
      if (!this.head.write(chunk)) await once(this.head, 'drain');
    }
    if (this.failure) throw this.failure;
  }

  /** Stops writing after a failure elsewhere; the partial file is left for the caller to discard. */
  abort(): void {
    this.head.destroy();
  }

  async close(): Promise<void> {
    await this.flush();
    this.head.end();
    await this.done;
    if (this.failure) throw this.failure;
  }
}
