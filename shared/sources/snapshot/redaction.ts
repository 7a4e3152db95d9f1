import { arr, obj, str } from '../../util/values.js';
import { LAST_APPLIED, REDACTED_MARKER, redactAnnotations, redactsAnnotation, sha256Tag } from '../../util/valueRedaction.js';

/**
 * Value handling for the snapshot: what never leaves the cluster as a value. Secrets are
 * listed as metadata only; the keys their metadata reveals are recovered; a kubectl
 * last-applied annotation (which holds the values of an applied Secret) is replaced; ConfigMap
 * values are hashed by default; any field can be hashed by path. Annotations and env values of
 * every other object go through the one redaction in util/valueRedaction.ts.
 */

export type ConfigMapValues = 'keep' | 'hash' | 'metadata';

export { LAST_APPLIED, REDACTED_MARKER };

export const sha256 = sha256Tag;

/** Keys a Secret's metadata reveals: managedFields f:data entries and the last-applied annotation's data keys. */
export function keysFromMetadata(metadata: Record<string, unknown>): string[] {
  const keys = new Set<string>();
  for (const entry of arr(metadata['managedFields'])) {
    const fields = obj(obj(entry)['fieldsV1']);
    for (const section of ['f:data', 'f:binaryData', 'f:stringData']) {
      for (const k of Object.keys(obj(fields[section]))) if (k.startsWith('f:')) keys.add(k.slice(2));
    }
  }
  const lastApplied = obj(metadata['annotations'])[LAST_APPLIED];
  if (typeof lastApplied === 'string') {
    try {
      const parsed = obj(JSON.parse(lastApplied));
      for (const section of ['data', 'binaryData', 'stringData']) for (const k of Object.keys(obj(parsed[section]))) keys.add(k);
    } catch {
      // Not JSON: no keys from it.
    }
  }
  return [...keys].sort();
}

/**
 * A Secret's metadata as it may be stored: every annotation that may carry object values (the
 * last-applied copy, which holds the values of an applied Secret, or any serialized object) is
 * replaced by a marker, not hashed: a hash of a short secret value can be brute-forced.
 */
export function redactSecretMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const annotations = metadata['annotations'];
  if (!annotations || typeof annotations !== 'object' || Array.isArray(annotations)) return metadata;
  let out: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(annotations as Record<string, unknown>)) {
    if (typeof value === 'string' && redactsAnnotation(key, value)) (out ??= { ...(annotations as Record<string, unknown>) })[key] = REDACTED_MARKER;
  }
  return out ? { ...metadata, annotations: out } : metadata;
}

/** Any other object's metadata: annotations through the one redaction (last-applied and serialized objects → SHA-256). */
export function redactMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const annotations = metadata['annotations'];
  const redacted = redactAnnotations(annotations);
  return redacted === annotations ? metadata : { ...metadata, annotations: redacted };
}

export function hashValues(map: unknown, binary: boolean): Record<string, string> | undefined {
  if (!map || typeof map !== 'object') return undefined;
  return Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([k, v]) => [k, sha256(binary ? Buffer.from(str(v), 'base64') : str(v))]));
}

/** Apply `paths` (dotted, [*] for array elements) to a copy of `value`, hashing what they reach. */
export function redactPaths(value: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out = structuredClone(value);
  for (const path of paths) {
    const segments = path.split('.').flatMap((s) => s.split(/(\[\*\])/).filter(Boolean));
    const walk = (node: unknown, i: number): void => {
      if (node === null || typeof node !== 'object') return;
      const seg = segments[i]!;
      const last = i === segments.length - 1;
      if (seg === '[*]') {
        if (!Array.isArray(node)) return;
        node.forEach((child, j) => {
          if (last) node[j] = sha256(typeof child === 'string' ? child : JSON.stringify(child));
          else walk(child, i + 1);
        });
        return;
      }
      const rec = node as Record<string, unknown>;
      if (!(seg in rec)) return;
      if (last) rec[seg] = sha256(typeof rec[seg] === 'string' ? rec[seg] : JSON.stringify(rec[seg]));
      else walk(rec[seg], i + 1);
    };
    walk(out, 0);
  }
  return out;
}
