import type { Rng } from './prng';

/** Lowercase hex as bytes: ids are written straight into the output buffer, never built as strings per row. */
const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Writes the 8 hex digits of a 32-bit word at `pos`; returns the next position. Unrolled: it runs 4× a row. */
export function writeWordHex(buf: Uint8Array, pos: number, w: number): number {
  buf[pos] = HEX[w >>> 28];
  buf[pos + 1] = HEX[(w >>> 24) & 15];
  buf[pos + 2] = HEX[(w >>> 20) & 15];
  buf[pos + 3] = HEX[(w >>> 16) & 15];
  buf[pos + 4] = HEX[(w >>> 12) & 15];
  buf[pos + 5] = HEX[(w >>> 8) & 15];
  buf[pos + 6] = HEX[(w >>> 4) & 15];
  buf[pos + 7] = HEX[w & 15];
  return pos + 8;
}

/** The 32-hex text of a 128-bit id given as four 32-bit words. */
export function idText(a: number, b: number, c: number, d: number): string {
  const bytes = new Uint8Array(32);
  writeWordHex(bytes, writeWordHex(bytes, writeWordHex(bytes, writeWordHex(bytes, 0, a), b), c), d);
  return String.fromCharCode(...bytes);
}

/**
 * ASCII bytes of each text, as views of one shared buffer. Rows copy these with `Uint8Array#set`, which costs
 * the same ~30 ns for 32 bytes as a JS loop does for 4.
 */
export function asciiViews(texts: readonly string[]): Uint8Array[] {
  const all = Buffer.from(texts.join(''), 'latin1');
  let at = 0;
  return texts.map((t) => all.subarray(at, (at += t.length)));
}

/** A random 128-bit id as 32 lowercase hex bytes at `pos`; returns the next position. */
export function writeRandomId(buf: Uint8Array, pos: number, rng: Rng): number {
  return writeWordHex(
    buf,
    writeWordHex(buf, writeWordHex(buf, writeWordHex(buf, pos, rng.u32()), rng.u32()), rng.u32()),
    rng.u32(),
  );
}

export function viewText(view: Uint8Array): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('latin1');
}
