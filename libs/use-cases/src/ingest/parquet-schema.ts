import { InputFormatError } from '@splitwatch/core';

/**
 * Reads the column list of a Parquet file from its footer, engine-independently (the same check runs before
 * Athena or DuckDB is asked to read the file), so a file with missing or mistyped columns fails with a message
 * naming what was expected and what was found instead of an engine error about casts.
 *
 * Only the footer's schema is decoded (Thrift compact protocol, FileMetaData field 2); row groups are skipped.
 */

/** What a top-level Parquet column holds, as far as ingest cares. */
export type ParquetKind =
  | { kind: 'text' }
  | { kind: 'integer'; bits: number }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'timestamp'; adjustedToUtc: boolean }
  | { kind: 'date' }
  | { kind: 'float' }
  | { kind: 'boolean' }
  | { kind: 'binary' }
  | { kind: 'nested' }
  | { kind: 'other'; what: string };

export interface ParquetColumn {
  name: string;
  type: ParquetKind;
  /** The type as a reader would name it, for messages: `DECIMAL(24,8)`, `TIMESTAMP`, `VARCHAR`, `DOUBLE`… */
  label: string;
}

export interface ParquetSchema {
  columns: ParquetColumn[];
  numRows: number;
}

const MAGIC = 'PAR1';
const PHYSICAL = [
  'BOOLEAN',
  'INT32',
  'INT64',
  'INT96',
  'FLOAT',
  'DOUBLE',
  'BYTE_ARRAY',
  'FIXED_LEN_BYTE_ARRAY',
];

/** Compact protocol type ids. */
const CT = {
  TRUE: 1,
  FALSE: 2,
  BYTE: 3,
  I16: 4,
  I32: 5,
  I64: 6,
  DOUBLE: 7,
  BINARY: 8,
  LIST: 9,
  SET: 10,
  MAP: 11,
  STRUCT: 12,
};

class ThriftReader {
  pos = 0;
  constructor(private readonly buf: Uint8Array) {}

  byte(): number {
    if (this.pos >= this.buf.length) throw new RangeError('Parquet footer ends early');
    return this.buf[this.pos++];
  }

  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new RangeError('Parquet footer has a malformed varint');
  }

  zigzag(): number {
    const n = this.varint();
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  binary(): Uint8Array {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new RangeError('Parquet footer ends early');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  /** Calls `onField` for each field of a struct; `onField` returns false to have the value skipped. */
  struct(onField: (id: number, type: number) => boolean): void {
    let last = 0;
    for (;;) {
      const header = this.byte();
      if (header === 0) return;
      const type = header & 0x0f;
      const delta = header >> 4;
      const id = delta === 0 ? this.zigzag() : last + delta;
      last = id;
      if (!onField(id, type)) this.skip(type);
    }
  }

  list(): { size: number; type: number } {
    const header = this.byte();
    const size = header >> 4 === 15 ? this.varint() : header >> 4;
    return { size, type: header & 0x0f };
  }

  bool(type: number): boolean {
    return type === CT.TRUE;
  }

  skip(type: number): void {
    switch (type) {
      case CT.TRUE:
      case CT.FALSE:
        return;
      case CT.BYTE:
        this.byte();
        return;
      case CT.I16:
      case CT.I32:
      case CT.I64:
        this.varint();
        return;
      case CT.DOUBLE:
        this.pos += 8;
        return;
      case CT.BINARY:
        this.binary();
        return;
      case CT.LIST:
      case CT.SET: {
        const { size, type: el } = this.list();
        for (let i = 0; i < size; i++) {
          if (el === CT.TRUE || el === CT.FALSE) this.byte();
          else this.skip(el);
        }
        return;
      }
      case CT.MAP: {
        const size = this.varint();
        if (size === 0) return;
        const kv = this.byte();
        for (let i = 0; i < size; i++) {
          this.skip(kv >> 4);
          this.skip(kv & 0x0f);
        }
        return;
      }
      case CT.STRUCT:
        this.struct(() => false);
        return;
      default:
        throw new RangeError(`Parquet footer has an unknown Thrift type ${type}`);
    }
  }
}

interface SchemaElement {
  type?: number;
  name: string;
  numChildren: number;
  convertedType?: number;
  scale?: number;
  precision?: number;
  logical?: { id: number; scale?: number; precision?: number; adjusted?: boolean; bits?: number };
}

function readLogicalType(r: ThriftReader): SchemaElement['logical'] {
  let out: SchemaElement['logical'];
  r.struct((id) => {
    out = { id };
    // DECIMAL(5): {1: scale, 2: precision}; TIMESTAMP(8) / TIME(7): {1: isAdjustedToUTC, 2: unit}; INTEGER(10): {1: bitWidth, 2: isSigned}
    r.struct((fid, ftype) => {
      if (id === 5 && fid === 1) out!.scale = r.zigzag();
      else if (id === 5 && fid === 2) out!.precision = r.zigzag();
      else if ((id === 8 || id === 7) && fid === 1) out!.adjusted = r.bool(ftype);
      else if (id === 10 && fid === 1) out!.bits = r.byte();
      else return false;
      return true;
    });
    return true;
  });
  return out;
}

function readSchemaElement(r: ThriftReader): SchemaElement {
  const el: SchemaElement = { name: '', numChildren: 0 };
  r.struct((id) => {
    if (id === 1) el.type = r.zigzag();
    else if (id === 4) el.name = new TextDecoder().decode(r.binary());
    else if (id === 5) el.numChildren = r.zigzag();
    else if (id === 6) el.convertedType = r.zigzag();
    else if (id === 7) el.scale = r.zigzag();
    else if (id === 8) el.precision = r.zigzag();
    else if (id === 10) el.logical = readLogicalType(r);
    else return false;
    return true;
  });
  return el;
}

function kindOf(el: SchemaElement): ParquetColumn {
  const { name } = el;
  const physical = el.type === undefined ? 'GROUP' : (PHYSICAL[el.type] ?? `type ${el.type}`);
  const lt = el.logical;
  const ct = el.convertedType;
  const col = (type: ParquetKind, label: string): ParquetColumn => ({ name, type, label });
  if (el.numChildren > 0 || el.type === undefined) return col({ kind: 'nested' }, 'STRUCT/LIST/MAP');
  if (lt?.id === 5 || ct === 5) {
    const precision = lt?.precision ?? el.precision ?? 0;
    const scale = lt?.scale ?? el.scale ?? 0;
    return col({ kind: 'decimal', precision, scale }, `DECIMAL(${precision},${scale})`);
  }
  if (lt?.id === 8 || ct === 9 || ct === 10 || physical === 'INT96') {
    const adjustedToUtc = lt?.adjusted ?? physical !== 'INT96';
    return col(
      { kind: 'timestamp', adjustedToUtc },
      adjustedToUtc ? 'TIMESTAMP WITH TIME ZONE' : 'TIMESTAMP',
    );
  }
  if (lt?.id === 6 || ct === 6) return col({ kind: 'date' }, 'DATE');
  if (lt?.id === 7 || ct === 7 || ct === 8) return col({ kind: 'other', what: 'TIME' }, 'TIME');
  if (lt?.id === 1 || lt?.id === 4 || lt?.id === 12 || ct === 0 || ct === 4 || ct === 19)
    return col({ kind: 'text' }, 'VARCHAR');
  switch (physical) {
    case 'BOOLEAN':
      return col({ kind: 'boolean' }, 'BOOLEAN');
    case 'INT32':
    case 'INT64': {
      const bits = lt?.bits ?? (physical === 'INT32' ? 32 : 64);
      return col({ kind: 'integer', bits }, bits > 32 ? 'BIGINT' : 'INTEGER');
    }
    case 'FLOAT':
      return col({ kind: 'float' }, 'FLOAT');
    case 'DOUBLE':
      return col({ kind: 'float' }, 'DOUBLE');
    case 'BYTE_ARRAY':
      // Plain BYTE_ARRAY without a logical type: Spark and older writers store strings this way.
      return col({ kind: 'binary' }, 'BLOB');
    default:
      return col({ kind: 'other', what: physical }, physical);
  }
}

/**
 * Parses the schema of a Parquet file from its last bytes (at least the footer and the 8-byte trailer).
 * @throws InputFormatError when the bytes are not the end of a Parquet file.
 */
export function readParquetSchema(
  tail: Uint8Array,
  source: string,
  fileBytes: number = tail.length,
): ParquetSchema {
  const n = tail.length;
  const magic = n >= 4 ? new TextDecoder().decode(tail.subarray(n - 4)) : '';
  if (fileBytes < 12 || magic !== MAGIC) {
    throw new InputFormatError(
      `${source}: not a Parquet file (expected the PAR1 trailer, found ${fileBytes < 4 ? `${fileBytes} bytes` : JSON.stringify(magic)})`,
    );
  }
  const len = tail[n - 8] | (tail[n - 7] << 8) | (tail[n - 6] << 16) | (tail[n - 5] * 2 ** 24);
  if (len <= 0 || len + 8 > fileBytes)
    throw new InputFormatError(
      `${source}: not a Parquet file (footer length ${len} does not fit a ${fileBytes}-byte file)`,
    );
  if (len + 8 > n)
    throw new InputFormatError(
      `${source}: Parquet footer of ${len} bytes is larger than ingest reads (${n - 8})`,
    );
  const r = new ThriftReader(tail.subarray(n - 8 - len, n - 8));
  const elements: SchemaElement[] = [];
  let numRows = 0;
  try {
    r.struct((id, type) => {
      if (id === 2 && type === CT.LIST) {
        const { size } = r.list();
        for (let i = 0; i < size; i++) elements.push(readSchemaElement(r));
        return true;
      }
      if (id === 3) {
        numRows = r.zigzag();
        return true;
      }
      return false;
    });
  } catch (err) {
    throw new InputFormatError(`${source}: unreadable Parquet footer (${(err as Error).message})`, {
      cause: err,
    });
  }
  if (elements.length === 0) throw new InputFormatError(`${source}: Parquet footer has no schema`);
  // elements[0] is the root; its children follow depth-first. Top-level columns are the root's direct children.
  const columns: ParquetColumn[] = [];
  let i = 1;
  const skipSubtree = (): void => {
    const el = elements[i++];
    for (let c = 0; c < (el?.numChildren ?? 0); c++) skipSubtree();
  };
  for (let c = 0; c < elements[0].numChildren && i < elements.length; c++) {
    const el = elements[i];
    columns.push(kindOf(el));
    skipSubtree();
  }
  return { columns, numRows };
}

/** Keeps the last `limit` bytes of a stream that is read anyway (for its checksum): enough for any footer ingest accepts. */
export class TailKeeper {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.chunks.length > 1 && this.size - this.chunks[0].length >= this.limit)
      this.size -= this.chunks.shift()!.length;
  }
  bytes(): Uint8Array {
    const all = Buffer.concat(this.chunks);
    return all.length > this.limit ? all.subarray(all.length - this.limit) : all;
  }
}
