import { toRfc3339 } from './time.js';

/** Small conversions shared by the sources' row mappers. */

/** The first value that is a valid time, as UTC RFC 3339; undefined when none is. */
export function firstTime(...candidates: unknown[]): string | undefined {
  for (const candidate of candidates) {
    if (typeof candidate !== 'string' && typeof candidate !== 'number' && !(candidate instanceof Date)) continue;
    if (candidate === '') continue;
    const date = candidate instanceof Date ? candidate : new Date(candidate);
    if (!Number.isNaN(date.getTime())) return toRfc3339(date);
  }
  return undefined;
}

/** JSON of an object-valued field, "{}" when absent (KubeForenSys's convention for labels/annotations). */
export function jsonObject(value: unknown): string {
  return JSON.stringify(value && typeof value === 'object' ? value : {});
}

export function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** Safe property access on parsed JSON. */
export function obj(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function arr(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
