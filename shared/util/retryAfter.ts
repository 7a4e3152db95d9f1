/** Parse a Retry-After header (delta-seconds or HTTP date) into ms; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The wait a response asks for, in ms: Azure's retry-after-ms / x-ms-retry-after-ms first, then
 * the standard Retry-After. `header` reads one response header by name.
 */
export function retryAfterFromHeaders(header: (name: string) => string | null | undefined, now: number = Date.now()): number | undefined {
  const ms = header('retry-after-ms') ?? header('x-ms-retry-after-ms');
  if (ms !== undefined && ms !== null && /^\d+$/.test(ms.trim())) return Number(ms);
  return parseRetryAfter(header('retry-after'), now);
}
