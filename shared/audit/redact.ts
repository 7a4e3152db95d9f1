import type { AuditEvent } from './types.js';

/**
 * Secret values never leave this module. Audit events at RequestResponse level carry whole
 * request and response bodies: Secrets (data/stringData, and the kubectl last-applied
 * annotation that repeats them), TokenRequest responses (status.token) and TokenReview
 * requests (spec.token). Those values are replaced by REDACTED before an event is stored,
 * labelled or printed; key names stay, because which keys a Secret has is evidence too.
 */
export const REDACTED = '<redacted>';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
/** What AKSAudit stores instead of a body it did not keep. */
const TOO_BIG = 'skipped-too-big-size-object';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function redactMap(value: unknown): unknown {
  if (isRecord(value)) return Object.fromEntries(Object.keys(value).map((k) => [k, REDACTED]));
  return value === undefined || value === null ? value : REDACTED;
}

/** Redact secret values anywhere inside a Kubernetes object (lists, tables and watch events included). */
export function redactSecretValues(value: unknown, inSecretContext = false): unknown {
  if (Array.isArray(value)) return value.map((v) => redactSecretValues(v, inSecretContext));
  if (!isRecord(value)) return value;
  const kind = typeof value.kind === 'string' ? value.kind : undefined;
  const isSecret = kind === 'Secret' || (inSecretContext && (kind === undefined || kind === 'Secret'));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (isSecret && (key === 'data' || key === 'stringData')) {
      out[key] = redactMap(v);
    } else if (isSecret && key === 'metadata' && isRecord(v)) {
      out[key] = redactMetadata(v);
    } else if (kind === 'TokenRequest' && key === 'status' && isRecord(v)) {
      out[key] = { ...v, ...(v.token !== undefined ? { token: REDACTED } : {}) };
    } else if (kind === 'TokenReview' && key === 'spec' && isRecord(v)) {
      out[key] = { ...v, ...(v.token !== undefined ? { token: REDACTED } : {}) };
    } else {
      // A List of Secrets has kind SecretList; its items are Secrets even without their own kind.
      out[key] = redactSecretValues(v, kind === 'SecretList' && key === 'items' ? true : false);
    }
  }
  return out;
}

function redactMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const annotations = metadata.annotations;
  if (!isRecord(annotations) || annotations[LAST_APPLIED] === undefined) return metadata;
  return { ...metadata, annotations: { ...annotations, [LAST_APPLIED]: REDACTED } };
}

/** A JSON patch / merge patch on a Secret: every value under /data or /stringData is redacted. */
function redactSecretPatch(body: unknown): unknown {
  if (Array.isArray(body)) {
    return body.map((op) => {
      if (!isRecord(op)) return REDACTED;
      const path = typeof op.path === 'string' ? op.path : '';
      if ('value' in op && (path === '' || path === '/' || /^\/(data|stringData|metadata)(\/|$)/.test(path))) {
        return { ...op, value: isRecord(op.value) ? redactSecretValues(op.value, true) : REDACTED };
      }
      return op;
    });
  }
  if (isRecord(body)) return redactSecretValues(body, true);
  // A body we cannot parse (e.g. a raw string) on a Secret write: keep nothing of it,
  // except the service's own placeholder for bodies it did not log.
  if (body === undefined || body === null || body === TOO_BIG) return body;
  return REDACTED;
}

/**
 * Return the event with every secret value redacted. Requests on the secrets resource are
 * treated as Secret bodies whatever their shape (patches carry no kind).
 */
export function redactAuditEvent(event: AuditEvent): AuditEvent {
  const onSecrets = event.objectRef?.resource === 'secrets' && (event.objectRef.apiGroup ?? '') === '';
  const out: AuditEvent = { ...event };
  if (event.requestObject !== undefined) {
    out.requestObject = onSecrets ? redactSecretPatch(event.requestObject) : redactSecretValues(event.requestObject);
  }
  if (event.responseObject !== undefined) {
    out.responseObject = onSecrets && !isStatus(event.responseObject) ? redactSecretValues(event.responseObject, true) : redactSecretValues(event.responseObject);
  }
  return out;
}

function isStatus(value: unknown): boolean {
  return isRecord(value) && value.kind === 'Status';
}
