/** UTC RFC 3339 timestamp with millisecond precision, e.g. 2026-11-22T10:00:00.000Z. */
export function toRfc3339(date: Date | number | string): string {
  const d = date instanceof Date ? date : new Date(date);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a valid time: ${String(date)}`);
  return d.toISOString();
}

/** A clock that tests can replace. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();

/** Parse a duration like 90s, 15m, 24h, 7d (or a bare number of seconds) into seconds. */
export function parseDurationSeconds(text: string): number {
  const m = /^\s*(\d+)\s*([smhd]?)\s*$/i.exec(text);
  if (!m) throw new RangeError(`"${text}" is not a duration: use a number with s, m, h or d, e.g. 24h`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const factor = unit === 'd' ? 86400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : 1;
  return n * factor;
}

/**
 * Waits until a time on a clock, or until the signal aborts (then resolves: the caller looks at
 * the signal). Long-running hosts use systemSleeper; tests pass one driven by the clock they inject.
 */
export type Sleeper = (until: Date, abortSignal?: AbortSignal) => Promise<void>;

/** Sleep on real timers until the system clock reaches `until` (or the signal aborts). */
export const systemSleeper: Sleeper = (until, abortSignal) =>
  new Promise<void>((resolve) => {
    if (abortSignal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      abortSignal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, until.getTime() - Date.now()));
    abortSignal?.addEventListener('abort', done, { once: true });
  });
