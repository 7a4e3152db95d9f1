import { splitLogLine, type LineBatch } from '../util/lines.js';

/**
 * Resuming a container log after a cut: where to ask from, and which lines of the resumed
 * stream were already delivered.
 *
 * The resumed request asks for `sinceTime` = the time of the last complete line delivered.
 * sinceTime is inclusive, and the API server hands it to the kubelet as RFC 3339 without a
 * fraction, so the resumed stream starts at the beginning of that line's second (or at the
 * line's exact time, on a server that keeps the fraction). Either way its first lines are
 * lines already delivered: the tail of the delivered lines since the start of that second.
 * Those are dropped by exact match (timestamp and text), in order; several lines can share
 * one timestamp, so time alone cannot tell them apart.
 */

/** The UTC second of a log line's timestamp ("2026-03-01T10:00:00"), or undefined when the line has none. */
function secondOf(timestamp: string): string {
  return timestamp.slice(0, 19);
}

/** A timestamp as text that sorts by time: the fraction padded to nanoseconds. */
export function timeKey(timestamp: string): string {
  const dot = timestamp.indexOf('.', 19);
  const fraction = dot === -1 ? '' : timestamp.slice(dot + 1, timestamp.length - 1);
  return `${timestamp.slice(0, 19)}.${fraction.padEnd(9, '0')}`;
}

/** The UTC timestamp of a line (splitLogLine's normalization), or undefined. */
function timestampOf(line: string): string | undefined {
  return splitLogLine(line).timestamp;
}

export interface ResumePoint {
  /** The sinceTime to ask for: the last timestamped line's own time text. */
  sinceTime: string;
  /** Lines delivered since the start of that line's second, in order: the resumed stream repeats them. */
  delivered: string[];
}

/**
 * Remembers the tail of a delivered log cheaply: the batches that may hold lines of the last
 * line's second, looked at only once per batch on the healthy path (one timestamp parse per
 * batch); the exact tail is cut out only when a resume needs it.
 */
export class DeliveredTail {
  /** Delivered lines of the current second (and a little before): string batches, or newline-joined bytes. */
  private segments: (readonly string[] | Buffer)[] = [];
  private size = 0;
  private second: string | undefined;
  private last: string | undefined;

  /**
   * @param maxChars Upper bound of line text kept for matching (default 256 Ki characters or
   *   bytes, per stream being read): a container that writes more than that within one second
   *   keeps only the newest part, and older resumed lines are recognized by time instead
   *   (BoundaryFilter).
   */
  constructor(private readonly maxChars = 256 * 1024) {}

  /** Note a batch of lines just delivered (not copied: the strings are shared). */
  note(batch: readonly string[]): void {
    const lastLine = batch[batch.length - 1];
    if (lastLine === undefined) return;
    if (!this.advance(lastLine)) return;
    let size = 0;
    for (const line of batch) size += line.length;
    this.keep(batch, size);
  }

  /**
   * Note a batch of lines just delivered as byte ranges (the container-log hot path): one string
   * is made per batch (its last line, for its time); the lines are kept as references to the
   * chunk's bytes, joined by the newlines they were split on, and become strings only when a
   * resume needs them.
   */
  noteBytes(batch: LineBatch): void {
    if (batch.count === 0) return;
    if (!this.advance(batch.text(batch.count - 1))) return;
    let first = 0;
    if (batch.head !== undefined) {
      const head = batch.bytesOf(0).subarray(batch.startOf(0), batch.endOf(0));
      this.keep(head, head.length);
      first = 1;
    }
    if (first < batch.count) {
      // Lines first..count-1 lie next to each other in the chunk, one "\n" between two.
      const joined = batch.chunk.subarray(batch.startOf(first), batch.endOf(batch.count - 1));
      this.keep(joined, joined.length);
    }
  }

  /** Takes note of a batch's last line; false while nothing timestamped has been delivered (no resume point). */
  private advance(lastLine: string): boolean {
    const ts = timestampOf(lastLine);
    if (ts !== undefined && (this.second === undefined || secondOf(ts) !== this.second)) {
      // A new second: earlier batches cannot hold lines of it, except at the start of this one.
      this.segments = [];
      this.size = 0;
      this.second = secondOf(ts);
    }
    if (ts !== undefined) this.last = ts;
    return this.second !== undefined;
  }

  private keep(segment: readonly string[] | Buffer, size: number): void {
    this.segments.push(segment);
    this.size += size;
    while (this.segments.length > 1 && this.size > this.maxChars) {
      const dropped = this.segments.shift()!;
      this.size -= Buffer.isBuffer(dropped) ? dropped.length : dropped.reduce((n, line) => n + line.length, 0);
    }
  }

  /** Where a resumed stream should start and what it will repeat; undefined when no delivered line carries a timestamp. */
  resumePoint(): ResumePoint | undefined {
    if (this.last === undefined || this.second === undefined) return undefined;
    const second = this.second;
    const lines: string[] = [];
    for (const segment of this.segments) {
      if (Buffer.isBuffer(segment)) for (const line of segment.toString('utf8').split('\n')) lines.push(line);
      else for (const line of segment) lines.push(line);
    }
    // Keep the suffix from the first timestamped line of the last second onwards (the untimed
    // lines after it included; those before it belong to an earlier second).
    let start = lines.length;
    for (let i = lines.length - 1; i >= 0; i--) {
      const ts = timestampOf(lines[i]!);
      if (ts === undefined) continue;
      if (secondOf(ts) < second) break;
      start = i;
    }
    return { sinceTime: this.last, delivered: lines.slice(start) };
  }
}

/**
 * Drops, from the start of a resumed stream, the lines already delivered. Matching is exact and
 * in order; a line not among them is new unless it is older than every remembered line (a server
 * that ignored sinceTime, or a second with more lines than were remembered). The first line
 * newer than the resume point ends the matching: everything after it is new.
 */
export class BoundaryFilter {
  private next = 0;
  private done: boolean;
  private readonly oldestKey: string | undefined;
  private readonly lastKey: string;
  /** Lines dropped as already delivered. */
  dropped = 0;

  constructor(private readonly point: ResumePoint) {
    this.done = point.delivered.length === 0;
    const first = point.delivered.map(timestampOf).find((t) => t !== undefined);
    this.oldestKey = first === undefined ? undefined : timeKey(first);
    this.lastKey = timeKey(point.sinceTime);
  }

  /** True once the resumed stream has moved past what was delivered. */
  get matched(): boolean {
    return this.done;
  }

  /** The lines of `batch` not delivered before (the batch itself once matching is over). */
  filter(batch: string[]): string[] {
    if (this.done) return batch;
    return this.keep(batch).map((i) => batch[i]!);
  }

  /** The indexes of the lines of `batch` not delivered before, in order. */
  keep(batch: readonly string[]): number[] {
    const delivered = this.point.delivered;
    const kept: number[] = [];
    for (let i = 0; i < batch.length; i++) {
      const line = batch[i]!;
      if (this.done) {
        kept.push(i);
        continue;
      }
      if (delivered[this.next] === line) {
        this.drop();
        continue;
      }
      const later = delivered.indexOf(line, this.next + 1);
      if (later !== -1) {
        // The lines in between never came back (the server started later than asked): skip them.
        this.next = later;
        this.drop();
        continue;
      }
      const ts = timestampOf(line);
      const key = ts === undefined ? undefined : timeKey(ts);
      if (key !== undefined && this.oldestKey !== undefined && key < this.oldestKey) {
        // Older than anything remembered: delivered before the remembered tail.
        this.dropped++;
        continue;
      }
      kept.push(i);
      if (key !== undefined && key > this.lastKey) this.done = true;
    }
    return kept;
  }

  private drop(): void {
    this.dropped++;
    this.next++;
    if (this.next >= this.point.delivered.length) this.done = true;
  }
}
