/**
 * A JSON patch (RFC 6902: `kubectl patch --type=json`, client libraries) names what it sets by
 * JSON pointer: [{"op": "add", "path": "/spec/template/spec/containers/0/securityContext/privileged",
 * "value": true}]. Rules look for fields by path in the object (requestObject.**.privileged), so
 * the values a patch adds or replaces are laid out as the object they produce; removals,
 * moves and tests set nothing and are left out. Merge and strategic-merge patches already have
 * the object's shape.
 */
export function jsonPatchAsObject(body: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(body) || body.length === 0) return undefined;
  if (!body.every((op) => typeof op === 'object' && op !== null && typeof (op as { op?: unknown }).op === 'string' && typeof (op as { path?: unknown }).path === 'string'))
    return undefined;
  const root: Record<string, unknown> = {};
  for (const raw of body as { op: string; path: string; value?: unknown }[]) {
    if ((raw.op !== 'add' && raw.op !== 'replace') || !('value' in raw)) continue;
    const segments = raw.path
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (segments.length === 0) {
      if (typeof raw.value === 'object' && raw.value !== null && !Array.isArray(raw.value)) Object.assign(root, raw.value);
      continue;
    }
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < segments.length; i++) {
      const seg = segments[i]!;
      const last = i === segments.length - 1;
      const nextIsIndex = !last && /^(\d+|-)$/.test(segments[i + 1]!);
      if (Array.isArray(node)) {
        const index = seg === '-' ? node.length : Number(seg);
        if (!Number.isInteger(index) || index > 10_000) break;
        if (last) node[index] = raw.value;
        else {
          if (typeof node[index] !== 'object' || node[index] === null) node[index] = nextIsIndex ? [] : {};
          node = node[index] as Record<string, unknown> | unknown[];
        }
      } else {
        if (last) node[seg] = raw.value;
        else {
          if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = nextIsIndex ? [] : {};
          node = node[seg] as Record<string, unknown> | unknown[];
        }
      }
    }
  }
  return root;
}
