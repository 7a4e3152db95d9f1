/**
 * Field paths into audit events, for rule predicates and aggregation keys:
 *
 *   requestObject.roleRef.name                  a plain path
 *   requestObject.spec.containers[*].image      every element of an array (or value of an object)
 *   requestObject.spec.containers[0].image      one element
 *   sourceIPs[0]
 *   requestObject.**.securityContext.privileged  any depth (pods, deployment/cronjob templates alike)
 *   annotations["authorization.k8s.io/decision"] a key containing dots
 *
 * Resolution is existential: it returns every (concrete path, value) the pattern reaches.
 */
export type PathSegment = { key: string } | { index: number } | { any: true } | { deep: true };

export class FieldPathError extends Error {
  override name = 'FieldPathError';
}

const cache = new Map<string, PathSegment[]>();

export function parseFieldPath(path: string): PathSegment[] {
  const hit = cache.get(path);
  if (hit) return hit;
  const segments: PathSegment[] = [];
  let i = 0;
  const n = path.length;
  let expectKey = true;
  while (i < n) {
    const ch = path[i]!;
    if (ch === '.') {
      if (expectKey) throw new FieldPathError(`"${path}": empty segment at ${i}`);
      expectKey = true;
      i++;
      continue;
    }
    if (ch === '[') {
      const close = path.indexOf(']', i);
      if (close < 0) throw new FieldPathError(`"${path}": unclosed [`);
      const inner = path.slice(i + 1, close).trim();
      if (inner === '*') segments.push({ any: true });
      else if (/^\d+$/.test(inner)) segments.push({ index: Number(inner) });
      else if (/^(["']).*\1$/.test(inner)) segments.push({ key: inner.slice(1, -1) });
      else throw new FieldPathError(`"${path}": [${inner}] must be [*], [<number>] or ["key"]`);
      i = close + 1;
      expectKey = false;
      continue;
    }
    let j = i;
    while (j < n && path[j] !== '.' && path[j] !== '[') j++;
    const name = path.slice(i, j);
    if (name === '**') segments.push({ deep: true });
    else if (name === '*') segments.push({ any: true });
    else segments.push({ key: name });
    i = j;
    expectKey = false;
  }
  if (segments.length === 0 || expectKey) throw new FieldPathError(`"${path}": empty path or trailing "."`);
  if (cache.size < 10_000) cache.set(path, segments);
  return segments;
}

export interface ResolvedField {
  path: string;
  value: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(base: string, seg: string | number): string {
  if (typeof seg === 'number') return `${base}[${seg}]`;
  if (/^[A-Za-z_$][\w$-]*$/.test(seg)) return base ? `${base}.${seg}` : seg;
  return `${base}[${JSON.stringify(seg)}]`;
}

const MAX_RESULTS = 1000;

/** Every (concrete path, value) the pattern reaches; undefined values are not returned. */
export function resolveField(root: unknown, path: string | PathSegment[]): ResolvedField[] {
  const segments = typeof path === 'string' ? parseFieldPath(path) : path;
  const out: ResolvedField[] = [];
  const walk = (value: unknown, at: number, concrete: string, depth: number): void => {
    if (out.length >= MAX_RESULTS || depth > 64) return;
    if (at === segments.length) {
      if (value !== undefined) out.push({ path: concrete, value });
      return;
    }
    const seg = segments[at]!;
    if ('key' in seg) {
      if (isRecord(value) && seg.key in value) walk(value[seg.key], at + 1, join(concrete, seg.key), depth + 1);
    } else if ('index' in seg) {
      if (Array.isArray(value) && seg.index < value.length) walk(value[seg.index], at + 1, join(concrete, seg.index), depth + 1);
    } else if ('any' in seg) {
      if (Array.isArray(value)) value.forEach((v, k) => walk(v, at + 1, join(concrete, k), depth + 1));
      else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, at + 1, join(concrete, k), depth + 1);
    } else {
      // ** : zero levels here, or one level down and still deep.
      walk(value, at + 1, concrete, depth + 1);
      if (Array.isArray(value)) value.forEach((v, k) => walk(v, at, join(concrete, k), depth + 1));
      else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walk(v, at, join(concrete, k), depth + 1);
    }
  };
  walk(root, 0, '', 0);
  // ** can reach one place by two routes; keep each concrete path once.
  if (segments.some((s) => 'deep' in s)) {
    const seen = new Set<string>();
    return out.filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)));
  }
  return out;
}

/** The first value a path reaches (first of alternatives), as used for grouping and joins. */
export function firstValue(root: unknown, paths: string | readonly string[]): unknown {
  for (const p of typeof paths === 'string' ? [paths] : paths) {
    const r = resolveField(root, p);
    for (const f of r) if (f.value !== null && f.value !== '') return f.value;
  }
  return undefined;
}
