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
 * (docs/performance.md). Rows land in the source's shared slabs (SlabPool); each encoded range
 * goes to the NDJSON writer as one 'rowsNdjson' item and is released once written (or compressed).
 */

/**
 * The output buffers every log stream of a source writes its rows into, packed: each encode
 * appends to the current slab and hands over the range it wrote; a slab goes back to the free
 * list once every range of it has been released (written, or read by zlib). One pool per
 * source, not per stream: dozens of streams each holding a mostly empty slab cost more memory
 * than the rows in flight.
 *
 * Slabs are never dropped: the pool grows to the most ever in flight (bounded by the item
 * queue and the NDJSON writer's zlib window, a few MB) and stays there. A dropped slab would be
 * an old-generation ArrayBuffer, which V8 frees only at a full GC, and its defaults do not
 * count such backing stores towards starting one: dropping them piled up hundreds of MB
 * (measured, docs/performance.md).
 */
export class SlabPool {
  private readonly free: Buffer[] = [];
  private current: { buffer: Buffer; refs: number } | undefined;
  private used = 0;
  /** Slabs made so far (the pool's high-water mark). */
  allocated = 0;

  /** @param slabBytes size of each slab (default 128 KiB) */
  constructor(readonly slabBytes = 128 * 1024) {}

  /** The current slab with at least `need` bytes free at `offset` (a fresh one when it is too full), or undefined when `need` exceeds a slab. */
  reserve(need: number): { buffer: Buffer; offset: number } | undefined {
    if (need > this.slabBytes) return undefined;
    if (!this.current || this.used + need > this.slabBytes) {
      this.retire();
      this.current = { buffer: this.free.pop() ?? this.allocate(), refs: 1 };
      this.used = 0;
    }
    return { buffer: this.current.buffer, offset: this.used };
  }

  /** Mark `[from, to)` of the current slab written; returns the range and its release (each release once). */
  claim(from: number, to: number): { bytes: Buffer; release: () => void } {
    const slab = this.current!;
    this.used = to;
    slab.refs++;
    let released = false;
    return {
      bytes: slab.buffer.subarray(from, to),
      release: () => {
        if (released) return;
        released = true;
        this.unref(slab);
      },
    };
  }

  /** Where the next write into the current slab goes. */
  get offset(): number {
    return this.used;
  }

  private retire(): void {
    const slab = this.current;
    this.current = undefined;
    if (slab) this.unref(slab);
  }

  private allocate(): Buffer {
    this.allocated++;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  private unref(slab: { buffer: Buffer; refs: number }): void {
    if (--slab.refs === 0) this.free.push(slab.buffer);
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
  /** The slab being written, where this encode's rows started in it, and how many rows. */
  private slab: Buffer | undefined;
  private from = 0;
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
   * time of lines without one. Returns the written ranges (usually one per batch), in order.
   */
  encode(lines: LineBatch, firstLineNumber: number, collectedAt: string): EncodedRows[] {
    this.out = [];
    this.slab = undefined;
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
    if (slab === undefined || stop === UNDECIDED_TIMESTAMP) {
      this.writeString(slab, lineNumber, lines.text(index), collectedAt);
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
      this.writeString(slab, lineNumber, lines.text(index), collectedAt);
      return;
    }
    p += this.middle.copy(slab, p);
    p += (stop === NO_TIMESTAMP ? PRESENT_FALSE : PRESENT_TRUE).copy(slab, p);
    p = writeDecimal(slab, p, lineNumber);
    p += this.end.copy(slab, p);
    this.used = p;
    this.rows++;
  }

  /** The string path: into the slab when the row fits the room reserved, else into a buffer of its own. */
  private writeString(slab: Buffer | undefined, lineNumber: number, line: string, collectedAt: string): void {
    const row = this.serialize(lineNumber, line, collectedAt);
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    if (slab === undefined || this.used + row.length * 3 + 1 > slab.length) {
      this.emit();
      this.out.push({ bytes: Buffer.from(`${row}\n`), rows: 1, release: () => undefined });
      return;
    }
    this.used += slab.write(row, this.used);
    slab[this.used++] = NEWLINE;
    this.rows++;
  }

  /** The slab to write a row of up to `need` bytes into, moving on to a fresh one when the current is full; undefined for a row larger than a slab. */
  private room(need: number): Buffer | undefined {
    if (this.slab && this.used + need <= this.slab.length) return this.slab;
    this.emit();
    const reserved = this.pool.reserve(need);
    if (!reserved) return undefined;
    this.slab = reserved.buffer;
    this.from = reserved.offset;
    this.used = reserved.offset;
    return this.slab;
  }

  /** Hand over the rows written since the last emit, as one range of the pool's slab. */
  private emit(): void {
    if (this.slab === undefined) return;
    this.slab = undefined;
    if (this.rows === 0) return;
    const { bytes, release } = this.pool.claim(this.from, this.used);
    this.out.push({ bytes, rows: this.rows, release });
    this.rows = 0;
  }
}
