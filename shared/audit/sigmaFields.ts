import { resolveField } from './fieldPath.js';

/**
 * Sigma field names over audit events. Sigma's Kubernetes audit rules name fields as dotted
 * paths into the audit.k8s.io Event (verb, objectRef.resource, objectRef.subresource,
 * objectRef.namespace, user.username, user.groups, sourceIPs, userAgent, responseStatus.code,
 * requestURI, annotations.authorization.k8s.io/decision, requestObject.spec..., ...), plus a few
 * shorthands SigmaHQ's rules use without a path. Resolution:
 *
 *   - a path segment may itself contain dots (annotation keys): the longest key that exists wins;
 *   - an array met on the way is searched element by element (user.groups, sourceIPs,
 *     requestObject.spec.containers.image);
 *   - `exec.*` are the details this project derives from exec / attach / port-forward / debug
 *     requests (command, commandLine, container, tty, stdin).
 */

/** Top-level fields of an audit event (and the derived `exec`); any other first segment is refused. */
export const SIGMA_EVENT_FIELDS = new Set([
  'kind',
  'apiVersion',
  'level',
  'auditID',
  'stage',
  'requestURI',
  'verb',
  'user',
  'impersonatedUser',
  'sourceIPs',
  'userAgent',
  'objectRef',
  'responseStatus',
  'requestObject',
  'responseObject',
  'requestReceivedTimestamp',
  'stageTimestamp',
  'annotations',
  'exec',
]);

/** Shorthands of SigmaHQ's Kubernetes audit rules → where the value is in the event. */
export const SIGMA_FIELD_ALIASES: Readonly<Record<string, string>> = {
  apiGroup: 'objectRef.apiGroup',
  hostPath: 'requestObject.**.volumes[*].hostPath.path',
  capabilities: 'requestObject.**.securityContext.capabilities.add[*]',
};

/** Why a field name cannot be evaluated, or undefined when it can. */
export function sigmaFieldProblem(field: string): string | undefined {
  if (field in SIGMA_FIELD_ALIASES) return undefined;
  const first = field.split('.')[0] ?? '';
  if (!SIGMA_EVENT_FIELDS.has(first)) {
    return `field "${field}" is not a field of a Kubernetes audit event (fields: ${[...SIGMA_EVENT_FIELDS].join(', ')}; shorthands: ${Object.keys(SIGMA_FIELD_ALIASES).join(', ')})`;
  }
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every value the field name reaches in the event (arrays flattened), undefined values left out. */
export function sigmaFieldValues(subject: unknown, field: string): unknown[] {
  const alias = SIGMA_FIELD_ALIASES[field];
  if (alias) return flatten(resolveField(subject, alias).map((r) => r.value));
  const out: unknown[] = [];
  const walk = (value: unknown, rest: string): void => {
    if (out.length >= 1000) return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, rest);
      return;
    }
    if (rest === '') {
      if (value !== undefined) out.push(value);
      return;
    }
    if (!isRecord(value)) return;
    // Longest key first: "annotations.authorization.k8s.io/decision" has a key with dots.
    const parts = rest.split('.');
    for (let n = parts.length; n >= 1; n--) {
      const key = parts.slice(0, n).join('.');
      if (key in value) {
        walk(value[key], parts.slice(n).join('.'));
        return;
      }
    }
  };
  walk(subject, field);
  return out;
}

function flatten(values: unknown[]): unknown[] {
  return values.flatMap((v): unknown[] => (Array.isArray(v) ? (v as unknown[]) : [v]));
}
