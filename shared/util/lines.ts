/**
 * Container log lines as the kubelet serves them with timestamps=true:
 *   "2026-11-22T10:00:00.123456789Z the message\n"
 * Lines are split on the newline byte (0x0A never occurs inside a multi-byte UTF-8
 * sequence, so a chunk boundary inside a character is harmless), and the timestamp is
 * split from the message at the first space.
 */

const NEWLINE = 0x0a;

/**
 * Incremental line splitter over byte chunks. Holds at most one partial line. Not built on
 * ByteLineSplitter: decoding straight from the chunk saves a copy per line on the log hot path.
 */
export class LineSplitter {
  private pending: Buffer[] = [];

  /** Feed a chunk; returns the lines it completes (without their "\n"). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const index = chunk.indexOf(NEWLINE, start);
      if (index === -1) break;
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, index));
        lines.push(Buffer.concat(this.pending).toString('utf8'));
        this.pending = [];
      } else {
        lines.push(chunk.toString('utf8', start, index));
      }
      start = index + 1;
    }
    // Copy the tail: the chunk's buffer may be reused by the stream.
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
    return lines;
  }

  /** The last line when the stream did not end with "\n", else undefined. */
  end(): string | undefined {
    if (this.pending.length === 0) return undefined;
    const line = Buffer.concat(this.pending).toString('utf8');
    this.pending = [];
    return line;
  }
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

/** Like LineSplitter, but yields raw bytes per line (for formats that need the bytes, e.g. zsh's metafied history). */
export class ByteLineSplitter {
  private pending: Buffer[] = [];

  push(chunk: Buffer): Buffer[] {
    const lines: Buffer[] = [];
    let start = 0;
    for (;;) {
      const index = chunk.indexOf(NEWLINE, start);
      if (index === -1) break;
      if (this.pending.length > 0) {
        this.pending.push(chunk.subarray(start, index));
        lines.push(Buffer.concat(this.pending));
        this.pending = [];
      } else {
        lines.push(Buffer.from(chunk.subarray(start, index)));
      }
      start = index + 1;
    }
    if (start < chunk.length) this.pending.push(Buffer.from(chunk.subarray(start)));
    return lines;
  }

  end(): Buffer | undefined {
    if (this.pending.length === 0) return undefined;
    const line = Buffer.concat(this.pending);
    this.pending = [];
    return line;
  }
}
