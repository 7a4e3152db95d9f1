/**
 * Lines of byte streams: container logs, shell histories, NDJSON artifacts. Lines are split on
 * the newline byte (0x0A never occurs inside a multi-byte UTF-8 sequence, so a chunk boundary
 * inside a character is harmless). Container log lines as the kubelet serves them with
 * timestamps=true — "2026-11-22T10:00:00.123456789Z the message" — have their timestamp split
 * from the message at the first space (splitLogLine).
 */

const NEWLINE = 0x0a;

/**
 * The one incremental line splitter over byte chunks: splits on the newline byte and hands each
 * line to `decode` (bytes of the chunk, start, end) — straight from the chunk, so the log hot
 * path decodes each line once without copying it. Holds at most one partial line.
 *   new LineSplitter()              → lines as UTF-8 strings (container logs, NDJSON)
 *   new LineSplitter(copyBytes)     → lines as bytes (zsh's metafied history needs the bytes)
 */
export class LineSplitter<T = string> {
  private pending: Buffer[] = [];

  constructor(private readonly decode: (bytes: Buffer, start: number, end: number) => T = utf8 as (bytes: Buffer, start: number, end: number) => T) {}

  /** Feed a chunk; returns the lines it completes (without their "\n"). */
  push(chunk: Buffer): T[] {
    const lines: T[] = [];
    let start = 0;
    for (;;) {
      const index = chunk.indexOf(NEWLINE, start);
      if (index === -1) break;
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, index));
        const joined = Buffer.concat(this.pending);
        lines.push(this.decode(joined, 0, joined.length));
        this.pending = [];
      } else {
        lines.push(this.decode(chunk, start, index));
      }
      start = index + 1;
    }
    // Copy the tail: the chunk's buffer may be reused by the stream.
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
    return lines;
  }

  /** The last line when the stream did not end with "\n", else undefined. */
  end(): T | undefined {
    if (this.pending.length === 0) return undefined;
    const joined = Buffer.concat(this.pending);
    this.pending = [];
    return this.decode(joined, 0, joined.length);
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
