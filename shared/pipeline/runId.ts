import { randomBytes } from 'node:crypto';

/**
 * A run id: sortable UTC time plus randomness, safe in paths, blob names and Durable
 * instance ids (no / \ ? #), e.g. 20261122T101500Z-3f9a1c2b.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Case ids and run ids become path segments: letters, digits, . _ - only. */
export function isSafeId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}
