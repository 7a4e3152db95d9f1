import { logTimestampAt, NO_TIMESTAMP, UNDECIDED_TIMESTAMP, type LineBatch } from '../../util/lines.js';
import { maxJsonStringBytes, writeJsonString } from '../../util/jsonBytes.js';

/**
 * kubelogs_CL rows written as NDJSON bytes straight from the log's bytes: no string per line,
 * no JSON.stringify, no UTF-16 round trip. Byte for byte what logRowSerializer (source.ts)
 * writes for the same line, plus the newline (tested on every kind of line: with and without
 * a timestamp, numeric offsets, control characters, quotes, non-ASCII and invalid UTF-8, lines
 * longer than a slab). Lines the byte check cannot decide go through logRowSerializer itself.
 *
 * Why: on 1 GB of logs the string path allocated ~1.2 KB of short-lived strings per 200-byte
 * line; that garbage, not the data, set the process's peak memory and a good part of its CPU
 * (docs/performance.md). Rows land in slabs from a SlabPool; each slab goes to the NDJSON
 * writer as one 'rowsNdjson' item and comes back to the pool once written (or compressed).
 */

/** Reusable output buffers. Bounded: slabs beyond `keep` are left to the garbage collector. */
export class SlabPool {
  private readonly free: Buffer[] = [];

  /**
   * @param slabBytes size of each slab (default 128 KiB: a 64 KiB chunk of 200-byte lines makes ~200 KiB of rows)
   * @param keep slabs kept for reuse (default 64)
   */
  constructor(
    readonly slabBytes = 128 * 1024,
    private readonly keep = 64,
  ) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.slabBytes);
  }

  give(slab: Buffer): void {
    if (slab.length === this.slabBytes && this.free.length < this.keep) this.free.push(slab);
  }
}

/** NDJSON bytes of `rows` rows; `release` hands the slab back once the bytes are written. */
export interface EncodedRows {
  bytes: Buffer;
  rows: number;
  release: () => void;
}

export interface LogRowColumns {
  /** `,"container_name":…,"previous":…` — the columns between message and timestamp_present ('' for none), as logRowSerializer builds them. */
  middle: string;
  /** `,"pod_uid":…,"image":…}` — the closing columns. */
  end: string;
}

const OPEN = Buffer.from('{"TimeGenerated":"');
const MESSAGE = Buffer.from('","message":');
const PRESENT_TRUE = Buffer.from(',"timestamp_present":true,"line_number":');
const PRESENT_FALSE = Buffer.from(',"timestamp_present":false,"line_number":');
const NEWLINE = 0x0a;

/** A non-negative integer's decimal digits at out[pos]; returns the position after them. */
function writeDecimal(out: Buffer, pos: number, value: number): number {
  if (value < 10) {
    out[pos] = 0x30 + value;
    return pos + 1;
  }
  let digits = 0;
  for (let v = value; v > 0; v = Math.floor(v / 10)) digits++;
  let v = value;
  for (let i = pos + digits - 1; i >= pos; i--) {
    out[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return pos + digits;
}

export class LogRowEncoder {
  private readonly middle: Buffer;
  private readonly end: Buffer;
  /** Bytes of a row besides its time, message and line number. */
  private readonly fixed: number;
  private slab: Buffer | undefined;
  private used = 0;
  private rows = 0;
  private out: EncodedRows[] = [];

  constructor(
    columns: LogRowColumns,
    /** The string path, for lines the byte check cannot decide. */
    private readonly serialize: (lineNumber: number, line: string, collectedAt: string) => string,
    private readonly pool: SlabPool,
  ) {
    this.middle = Buffer.from(columns.middle);
    this.end = Buffer.from(`${columns.end}\n`);
    this.fixed = OPEN.length + MESSAGE.length + this.middle.length + PRESENT_FALSE.length + this.end.length;
  }

  /**
   * Encode a batch of lines numbered from `firstLineNumber`; `collectedAt` stands in for the
   * time of lines without one. Returns the filled slabs (usually one per batch).
   */
  encode(lines: LineBatch, firstLineNumber: number, collectedAt: string): EncodedRows[] {
    this.out = [];
    for (let i = 0; i < lines.count; i++) {
      this.encodeLine(lines.bytesOf(i), lines.startOf(i), lines.endOf(i), firstLineNumber + i, collectedAt, lines, i);
    }
    this.emit();
    return this.out;
  }

  private encodeLine(bytes: Buffer, start: number, end: number, lineNumber: number, collectedAt: string, lines: LineBatch, index: number): void {
    const stop = logTimestampAt(bytes, start, end);
    // Room for the worst case: every message byte as \u00XX, a 35-byte time, 16 digits.
    const need = this.fixed + 40 + maxJsonStringBytes(end - start) + 16;
    const slab = this.room(need);
    if (stop === UNDECIDED_TIMESTAMP) {
      this.writeString(slab, need, lineNumber, lines.text(index), collectedAt);
      return;
    }
    const mark = this.used;
    let p = this.used;
    p += OPEN.copy(slab, p);
    let messageStart = start;
    if (stop === NO_TIMESTAMP) p += slab.write(collectedAt, p, 'latin1');
    else {
      p += bytes.copy(slab, p, start, stop);
      messageStart = stop < end ? stop + 1 : end;
    }
    p += MESSAGE.copy(slab, p);
    p = writeJsonString(bytes, messageStart, end, slab, p);
    if (p < 0) {
      // Invalid UTF-8: the string path replaces it exactly as Buffer#toString does.
      this.used = mark;
      this.writeString(slab, need, lineNumber, lines.text(index), collectedAt);
      return;
    }
    p += this.middle.copy(slab, p);
    p += (stop === NO_TIMESTAMP ? PRESENT_FALSE : PRESENT_TRUE).copy(slab, p);
    p = writeDecimal(slab, p, lineNumber);
    p += this.end.copy(slab, p);
    this.used = p;
    this.rows++;
  }

  private writeString(slab: Buffer, need: number, lineNumber: number, line: string, collectedAt: string): void {
    const row = this.serialize(lineNumber, line, collectedAt);
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    if (row.length * 3 + 1 > need) {
      this.emit();
      const own = Buffer.from(`${row}\n`);
      this.out.push({ bytes: own, rows: 1, release: () => undefined });
      return;
    }
    this.used += slab.write(row, this.used);
    slab[this.used++] = NEWLINE;
    this.rows++;
  }

  /** A slab with `need` bytes free, emitting the current one first when it is too full; oversized rows get a buffer of their own. */
  private room(need: number): Buffer {
    if (this.slab && this.used + need <= this.slab.length) return this.slab;
    this.emit();
    this.slab = need <= this.pool.slabBytes ? this.pool.take() : Buffer.allocUnsafe(need);
    this.used = 0;
    return this.slab;
  }

  private emit(): void {
    const slab = this.slab;
    if (!slab) return;
    this.slab = undefined;
    if (this.rows === 0) {
      this.pool.give(slab);
      return;
    }
    const pool = this.pool;
    let released = false;
    this.out.push({
      bytes: slab.subarray(0, this.used),
      rows: this.rows,
      release: () => {
        if (released) return;
        released = true;
        pool.give(slab);
      },
    });
    this.rows = 0;
    this.used = 0;
  }
}

