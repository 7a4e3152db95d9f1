import { createHash } from 'node:crypto';
import { arr, obj, str } from '../../util/values.js';

/**
 * Value handling for the snapshot: what never leaves the cluster as a value. Secrets are
 * listed as metadata only; the keys their metadata reveals are recovered; a kubectl
 * last-applied annotation (which holds the values of an applied Secret) is replaced; ConfigMap
 * values are hashed by default; any field can be hashed by path.
 */

export type ConfigMapValues = 'keep' | 'hash' | 'metadata';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
export const REDACTED_MARKER = '<redacted by aks-evidence: may contain Secret values>';

export const sha256 = (data: string | Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

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

/** Replace annotation values that may embed object values (kubectl's last-applied copy). */
export function redactAnnotations(metadata: Record<string, unknown>, replacement: (value: string) => string): Record<string, unknown> {
  const annotations = metadata['annotations'];
  if (!annotations || typeof annotations !== 'object' || typeof (annotations as Record<string, unknown>)[LAST_APPLIED] !== 'string') return metadata;
  const a = annotations as Record<string, string>;
  return { ...metadata, annotations: { ...a, [LAST_APPLIED]: replacement(a[LAST_APPLIED]!) } };
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
      if (last) rec[seg] = sha256(typeof rec[seg] === 'string' ? (rec[seg] as string) : JSON.stringify(rec[seg]));
      else walk(rec[seg], i + 1);
    };
    walk(out, 0);
  }
  return out;
}

