import { hash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';

/**
 * The one redaction of values that must not leave the cluster's hands, for rows and raw
 * objects alike (sources build rows with it; the collect task applies it to every raw object
 * before it is written).
 *
 * - Annotations (and labels) that may carry object values — kubectl's last-applied copy of
 *   the whole object, or any value holding a serialized object (JSON or YAML object/array
 *   text) — become "sha256:<hex>" of the value. A plain value (a team name, a client id) stays.
 * - Env var `value`s anywhere in an object (pods, every pod template kind, custom resources
 *   embedding one, audit request objects) become "sha256:<hex>"; names and valueFrom
 *   references stay.
 *
 * A hash keeps what an investigator needs from a value — whether it equals a known one —
 * without copying it into a workspace many analysts can read.
 */

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** What a Secret's last-applied annotation is replaced by (its values are never hashed: a hash of a short secret can be brute-forced). */
export const REDACTED_MARKER = '<redacted by aks-evidence: may contain Secret values>';

/** How raw objects keep env values and serialized annotations: 'hash' (default) or 'keep' (in the bundle's raw artifacts only, never in rows). */
export type EnvValueHandling = 'hash' | 'keep';

/** "sha256:<hex>" of a value (crypto.hash: one call, about half the cost of createHash for short values). */
export const sha256Tag = (data: string | Buffer): string => `sha256:${hash('sha256', data, 'hex')}`;

const SHA256_TAG = /^sha256:[0-9a-f]{64}$/;

/** Already a redaction product (a hash or the Secret marker): left alone, so redaction is idempotent. */
function isRedacted(value: string): boolean {
  return value === REDACTED_MARKER || (value.length === 71 && SHA256_TAG.test(value));
}

function isCollection(value: unknown): boolean {
  return typeof value === 'object' && value !== null;
}

/**
 * Whether a string holds a serialized object: JSON or YAML flow text starting with "{" or "[",
 * or multi-line YAML, that parses to an object or array. A one-line "key: value" is prose, not
 * an object (an annotation like "note: rotated weekly" stays readable).
 */
export function holdsSerializedObject(value: string): boolean {
  const t = value.trim();
  if (t.length < 2) return false;
  const first = t[0];
  if (first === '{' || first === '[') {
    try {
      return isCollection(JSON.parse(t));
    } catch {
      // Not JSON: maybe YAML flow style ({a: b}).
    }
  } else if (!t.includes('\n')) {
    return false;
  }
  try {
    return isCollection(parseYaml(t));
  } catch {
    return false;
  }
}

/** Whether an annotation's value is replaced by its hash. */
export function redactsAnnotation(key: string, value: string): boolean {
  if (isRedacted(value)) return false;
  return key === LAST_APPLIED || holdsSerializedObject(value);
}

/**
 * An annotation (or label) map with every value that may carry object values replaced by its
 * SHA-256; the same object when nothing is replaced. Non-object input is returned as is.
 */
export function redactAnnotations<T>(map: T): T {
  if (!map || typeof map !== 'object' || Array.isArray(map)) return map;
  const m = map as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key in m) {
    const value = m[key];
    if (typeof value === 'string' && redactsAnnotation(key, value)) {
      out ??= { ...m };
      out[key] = sha256Tag(value);
    }
  }
  return (out ?? map) as T;
}

/** A row column holding an annotation or label map as JSON text ("{}" when absent): KubeForenSys's column, redacted. */
export function redactedMapJson(map: unknown): string {
  return JSON.stringify(map && typeof map === 'object' && !Array.isArray(map) ? redactAnnotations(map) : {});
}

function redactEnv(list: unknown[]): unknown[] {
  let out: unknown[] | undefined;
  list.forEach((entry, i) => {
    if (!entry || typeof entry !== 'object') return;
    const e = entry as Record<string, unknown>;
    const value = e['value'];
    if (typeof e['name'] !== 'string' || typeof value !== 'string' || value === '' || isRedacted(value)) return;
    out ??= [...list];
    out[i] = { ...e, value: sha256Tag(value) };
  });
  return out ?? list;
}

/** Copy-on-write walk: unchanged subtrees are shared, so an object without values to redact costs one pass and no copy. */
function walk(node: unknown, key: string | undefined): unknown {
  if (Array.isArray(node)) {
    const list: unknown[] = key === 'env' ? redactEnv(node) : node;
    let out: unknown[] | undefined;
    list.forEach((child, i) => {
      if (!isCollection(child)) return;
      const next = walk(child, undefined);
      if (next !== child) {
        out ??= list === node ? [...list] : list;
        out[i] = next;
      }
    });
    return out ?? list;
  }
  if (!isCollection(node)) return node;
  const record = node as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const k in record) {
    const v = record[k];
    // managedFields name fields, never values: the largest part of a real object, skipped.
    if (!isCollection(v) || k === 'managedFields') continue;
    const next = k === 'annotations' && !Array.isArray(v) ? redactAnnotations(v) : walk(v, k);
    if (next !== v) {
      out ??= { ...record };
      out[k] = next;
    }
  }
  return out ?? node;
}

/**
 * A raw object as it may be stored: with 'hash' (the default) every env value and every
 * annotation that may carry object values, at any depth, replaced by its SHA-256; with 'keep'
 * the object as served (the user chose to keep them in the bundle; rows never carry them).
 */
export function redactRawObject(object: unknown, envValues: EnvValueHandling = 'hash'): unknown {
  return envValues === 'keep' ? object : walk(object, undefined);
}
