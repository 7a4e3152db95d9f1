/**
 * Lines of byte streams: container logs, shell histories, NDJSON artifacts. Lines are split on
 * the newline byte (0x0A never occurs inside a multi-byte UTF-8 sequence, so a chunk boundary
 * inside a character is harmless). Container log lines as the kubelet serves them with
 * timestamps=true — "2026-11-22T10:00:00.123456789Z the message" — have their timestamp split
 * from the message at the first space (splitLogLine).
 */

const NEWLINE = 0x0a;

/**
 * Lines decoded one by one: ByteLineSplitter's splitting (the one splitter), each line handed to
 * `decode` (bytes, start, end) straight from the chunk — the decode is the only copy.
 *   new LineSplitter()              → lines as UTF-8 strings (NDJSON, ingestion reads)
 *   new LineSplitter(copyBytes)     → lines as bytes (zsh's metafied history needs the bytes)
 * Holds at most one partial line.
 */
export class LineSplitter<T = string> {
  private readonly bytes = new ByteLineSplitter();

  constructor(private readonly decode: (bytes: Buffer, start: number, end: number) => T = utf8 as (bytes: Buffer, start: number, end: number) => T) {}

  /** Feed a chunk; returns the lines it completes (without their "\n"). */
  push(chunk: Buffer): T[] {
    return this.decoded(this.bytes.push(chunk));
  }

  /** The last line when the stream did not end with "\n", else undefined. */
  end(): T | undefined {
    return this.decoded(this.bytes.end())[0];
  }

  private decoded(batch: LineBatch): T[] {
    const lines = new Array<T>(batch.count);
    for (let i = 0; i < batch.count; i++) lines[i] = this.decode(batch.bytesOf(i), batch.startOf(i), batch.endOf(i));
    return lines;
  }
}

const EMPTY = Buffer.alloc(0);
const NEWLINE_BYTES = Buffer.from([NEWLINE]);

/**
 * The lines one chunk completed, as byte ranges: line i is `bytesOf(i)[startOf(i), endOf(i))`
 * (without its "\n"). The first line's bytes are a joined copy when it began in an earlier
 * chunk; the others point into the chunk. Reused by its splitter: valid until the next push.
 */
export class LineBatch {
  count = 0;
  /** The first line, joined, when it began in an earlier chunk. */
  head: Buffer | undefined;
  chunk: Buffer = EMPTY;
  starts = new Int32Array(256);
  ends = new Int32Array(256);

  bytesOf(i: number): Buffer {
    return i === 0 && this.head !== undefined ? this.head : this.chunk;
  }
  startOf(i: number): number {
    return this.starts[i]!;
  }
  endOf(i: number): number {
    return this.ends[i]!;
  }
  /** Line i as a UTF-8 string. */
  text(i: number): string {
    return this.bytesOf(i).toString('utf8', this.starts[i], this.ends[i]);
  }
  /** Every line as a string (what LineSplitter#push returns). */
  texts(): string[] {
    const out = new Array<string>(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.text(i);
    return out;
  }

  /** A new batch of some of these lines (indexes in order), their bytes copied: one chunk, a "\n" between two lines. */
  select(indexes: readonly number[]): LineBatch {
    const parts: Buffer[] = [];
    for (const i of indexes) {
      if (parts.length > 0) parts.push(NEWLINE_BYTES);
      parts.push(this.bytesOf(i).subarray(this.starts[i], this.ends[i]));
    }
    const selected = new LineBatch();
    selected.reset(Buffer.concat(parts));
    let start = 0;
    for (const i of indexes) {
      const end = start + (this.ends[i]! - this.starts[i]!);
      selected.add(start, end);
      start = end + 1;
    }
    return selected;
  }

  /** @internal */
  reset(chunk: Buffer): void {
    this.count = 0;
    this.head = undefined;
    this.chunk = chunk;
  }
  /** @internal */
  add(start: number, end: number): void {
    if (this.count === this.starts.length) {
      const starts = new Int32Array(this.count * 2);
      const ends = new Int32Array(this.count * 2);
      starts.set(this.starts);
      ends.set(this.ends);
      this.starts = starts;
      this.ends = ends;
    }
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.count++;
  }
}

/**
 * The one incremental line splitter over byte chunks: splits on the newline byte; a chunk's
 * lines come back as ranges of one reused LineBatch, so no string or array is made per line
 * (the container-log row encoder works on them as bytes; LineSplitter decodes them). Holds at
 * most one partial line.
 */
export class ByteLineSplitter {
  private pending: Buffer[] = [];
  private readonly batch = new LineBatch();

  /** Feed a chunk; returns the lines it completes (valid until the next push or end). */
  push(chunk: Buffer): LineBatch {
    const batch = this.batch;
    batch.reset(chunk);
    let start = 0;
    for (;;) {
      const index = chunk.indexOf(NEWLINE, start);
      if (index === -1) break;
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, index));
        const joined = Buffer.concat(this.pending);
        this.pending = [];
        batch.head = joined;
        batch.add(0, joined.length);
      } else {
        batch.add(start, index);
      }
      start = index + 1;
    }
    // Copy the tail: the chunk's buffer may be reused by the stream.
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
    return batch;
  }

  /** The last line when the stream did not end with "\n" (count 1), else an empty batch. */
  end(): LineBatch {
    const batch = this.batch;
    batch.reset(EMPTY);
    if (this.pending.length > 0) {
      const joined = Buffer.concat(this.pending);
      this.pending = [];
      batch.head = joined;
      batch.add(0, joined.length);
    }
    return batch;
  }
}

function utf8(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end);
}

/** Decode for LineSplitter: each line as its own copy of the bytes. */
export function copyBytes(bytes: Buffer, start: number, end: number): Buffer {
  return Buffer.from(bytes.subarray(start, end));
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

export interface SplitLogLine {
  /** UTC RFC 3339 time of the line; the kubelet's own text when it is already UTC (nanoseconds kept). */
  timestamp?: string;
  /** The line without its timestamp; the whole line when it had none. */
  message: string;
}

/** What logTimestampAt found at the start of a line. */
export const NO_TIMESTAMP = -1;
/** The line may have a timestamp the byte check does not decide (an offset other than Z, hour 24): ask splitLogLine. */
export const UNDECIDED_TIMESTAMP = -2;

/** Offsets of the digits of "YYYY-MM-DDTHH:MM:SS". */
const DATE_DIGITS = new Uint8Array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]);
const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;
const two = (bytes: Buffer, i: number): number => (bytes[i]! - 0x30) * 10 + (bytes[i + 1]! - 0x30);

/**
 * splitLogLine's decision on bytes, without making a string: for a line `bytes[start, end)`
 * returns the end of its timestamp (the index of the space, or `end`) when the line starts
 * with a UTC RFC 3339 time ("...Z", what the kubelet writes) that splitLogLine would keep as
 * it is; NO_TIMESTAMP when splitLogLine would find none; UNDECIDED_TIMESTAMP otherwise (a
 * numeric offset, or a field at the edge of its range), for the caller to ask splitLogLine.
 */
export function logTimestampAt(bytes: Buffer, start: number, end: number): number {
  const limit = Math.min(end, start + 36);
  let stop = start;
  while (stop < limit && bytes[stop] !== 0x20) stop++;
  if (stop === limit && limit < end && bytes[stop] !== 0x20) return NO_TIMESTAMP;
  const length = stop - start;
  if (length < 20 || length > 35) return NO_TIMESTAMP;
  for (let k = 0; k < DATE_DIGITS.length; k++) if (!isDigit(bytes[start + DATE_DIGITS[k]!])) return NO_TIMESTAMP;
  if (bytes[start + 4] !== 0x2d || bytes[start + 7] !== 0x2d || bytes[start + 10] !== 0x54 || bytes[start + 13] !== 0x3a || bytes[start + 16] !== 0x3a) return NO_TIMESTAMP;
  let i = start + 19;
  if (bytes[i] === 0x2e) {
    let digits = 0;
    while (i + 1 + digits < stop && isDigit(bytes[i + 1 + digits])) digits++;
    if (digits < 1 || digits > 9) return NO_TIMESTAMP;
    i += 1 + digits;
  }
  const zone = i < stop ? bytes[i] : undefined;
  if (zone === 0x5a) {
    if (i + 1 !== stop) return NO_TIMESTAMP;
  } else if (zone === 0x2b || zone === 0x2d) {
    if (i + 6 !== stop || !isDigit(bytes[i + 1]) || !isDigit(bytes[i + 2]) || bytes[i + 3] !== 0x3a || !isDigit(bytes[i + 4]) || !isDigit(bytes[i + 5])) return NO_TIMESTAMP;
    return UNDECIDED_TIMESTAMP;
  } else {
    return NO_TIMESTAMP;
  }
  const month = two(bytes, start + 5);
  const day = two(bytes, start + 8);
  const hour = two(bytes, start + 11);
  const minute = two(bytes, start + 14);
  const second = two(bytes, start + 17);
  // The ranges Date accepts for every month; anything at the edge (hour 24, day 0) is splitLogLine's call.
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return UNDECIDED_TIMESTAMP;
  return stop;
}

/** Split "timestamp message" at the first space; a line whose first word is not an RFC 3339 time has no timestamp. */
export function splitLogLine(line: string): SplitLogLine {
  const space = line.indexOf(' ');
  const candidate = space === -1 ? line : line.slice(0, space);
  if (candidate.length < 20 || candidate.length > 35 || !RFC3339.test(candidate)) return { message: line };
  const date = new Date(candidate);
  if (Number.isNaN(date.getTime())) return { message: line };
  const timestamp = candidate.endsWith('Z') ? candidate : date.toISOString();
  return { timestamp, message: space === -1 ? '' : line.slice(space + 1) };
}
