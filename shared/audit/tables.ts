import { column, type Row, type TableDefinition } from '../tables/table.js';
import type { AuditEvent, AuditLabel } from './types.js';
import { eventTime } from './types.js';

/**
 * Log Analytics tables of the audit module. Rows are small: the full event (request and
 * response bodies, redacted) stays in the audit artifact; a row carries what a KQL query
 * filters and joins on.
 *
 *   auditfindings_CL  one row per label (collectAudit yields these as its rows)
 *   auditevents_CL    one compact row per request (auditEventRow), derived from the 'audit'
 *                     raw artifact by writeAuditEventRows (./eventRows.ts) before sealing
 */
const c = column;

export const AUDIT_FINDINGS_TABLE: TableDefinition = {
  name: 'auditfindings_CL',
  source: 'audit',
  description: 'Labels put on Kubernetes audit events by the detection rules, one row per label.',
  columns: [
    c('TimeGenerated', 'datetime', 'When the labelled request was received by the API server (UTC).'),
    c('rule_id', 'string', 'Rule id (see shared/audit/rules).'),
    c('rule_title', 'string', 'Rule title.'),
    c('rule_kind', 'string', 'match | threshold | correlate.'),
    c('severity', 'string', 'info | low | medium | high | critical.'),
    c('audit_id', 'string', 'auditID of the labelled event.'),
    c('user', 'string', 'Requesting user or service account.'),
    c('verb', 'string', 'Kubernetes verb.'),
    c('resource', 'string', 'Resource (group/resource for non-core groups).'),
    c('subresource', 'string', 'Subresource (exec, token, ...).'),
    c('namespace', 'string', 'Namespace of the object.'),
    c('name', 'string', 'Name of the object.'),
    c('pod_name', 'string', 'Pod name when the object is a pod (exec, attach, creation).'),
    c('source_ip', 'string', 'First source IP (the client).'),
    c('response_code', 'int', 'HTTP response code.'),
    c('matched', 'string', 'The fields that matched (JSON object, values redacted).'),
  ],
  timeline: { eventType: 'AuditFinding', namespace: 'namespace', pod: 'pod_name', summary: 'rule_title' },
};

export const AUDIT_EVENTS_TABLE: TableDefinition = {
  name: 'auditevents_CL',
  source: 'audit',
  description: 'Kubernetes API audit events, one compact row per request (final stage); the full event is in the audit artifact.',
  columns: [
    c('TimeGenerated', 'datetime', 'When the request was received by the API server (UTC).'),
    c('audit_id', 'string', 'auditID.'),
    c('stage', 'string', 'ResponseComplete | Panic | ResponseStarted.'),
    c('user', 'string', 'Requesting user or service account.'),
    c('groups', 'string', 'Groups of the user (JSON array).'),
    c('impersonated_user', 'string', 'Impersonated user, when the request used impersonation.'),
    c('verb', 'string', 'Kubernetes verb.'),
    c('resource', 'string', 'Resource (group/resource for non-core groups).'),
    c('subresource', 'string', 'Subresource.'),
    c('namespace', 'string', 'Namespace.'),
    c('name', 'string', 'Object name.'),
    c('pod_name', 'string', 'Pod name when the object is a pod.'),
    c('response_code', 'int', 'HTTP response code.'),
    c('source_ips', 'string', 'Source IPs (comma-separated, client first).'),
    c('user_agent', 'string', 'User agent.'),
    c('request_uri', 'string', 'Request URI (first 2,048 characters).'),
  ],
  timeline: { eventType: 'AuditEvent', namespace: 'namespace', pod: 'pod_name', summary: 'request_uri' },
};


function resourceName(ref: { resource?: string; apiGroup?: string } | undefined): string {
  if (!ref?.resource) return '';
  return ref.apiGroup ? `${ref.apiGroup}/${ref.resource}` : ref.resource;
}

function podName(ref: { resource?: string; apiGroup?: string; name?: string } | undefined): string {
  return ref?.resource === 'pods' && !ref.apiGroup ? (ref.name ?? '') : '';
}

export function auditLabelRow(label: AuditLabel): Row {
  return {
    TimeGenerated: label.time,
    rule_id: label.ruleId,
    rule_title: label.title,
    rule_kind: label.ruleKind,
    severity: label.severity,
    audit_id: label.auditID,
    user: label.user,
    verb: label.verb,
    resource: resourceName(label.objectRef),
    subresource: label.objectRef?.subresource ?? '',
    namespace: label.objectRef?.namespace ?? '',
    name: label.objectRef?.name ?? '',
    pod_name: podName(label.objectRef),
    source_ip: label.sourceIP ?? '',
    ...(label.responseCode !== undefined ? { response_code: label.responseCode } : {}),
    matched: JSON.stringify(label.matched),
  };
}

export function auditEventRow(event: AuditEvent): Row {
  const ref = event.objectRef;
  return {
    TimeGenerated: eventTime(event),
    audit_id: event.auditID,
    stage: event.stage,
    user: event.user?.username ?? '',
    groups: JSON.stringify(event.user?.groups ?? []),
    impersonated_user: event.impersonatedUser?.username ?? '',
    verb: event.verb,
    resource: resourceName(ref),
    subresource: ref?.subresource ?? '',
    namespace: ref?.namespace ?? '',
    name: ref?.name ?? '',
    pod_name: podName(ref),
    ...(typeof event.responseStatus?.code === 'number' ? { response_code: event.responseStatus.code } : {}),
    source_ips: (event.sourceIPs ?? []).join(','),
    user_agent: event.userAgent ?? '',
    request_uri: (event.requestURI ?? '').slice(0, 2048),
  };
}

/** A label row read back from an artifact → AuditLabel (for the timeline). */
export function labelFromRow(row: Record<string, unknown>): AuditLabel {
  const str = (k: string) => (typeof row[k] === 'string' ? (row[k] as string) : '');
  const resource = str('resource');
  const slash = resource.lastIndexOf('/');
  let matched: Record<string, unknown> = {};
  try {
    matched = JSON.parse(str('matched') || '{}') as Record<string, unknown>;
  } catch {
    matched = {};
  }
  const label: AuditLabel = {
    ruleId: str('rule_id'),
    title: str('rule_title'),
    severity: (str('severity') || 'info') as AuditLabel['severity'],
    ruleKind: str('rule_kind'),
    auditID: str('audit_id'),
    time: str('TimeGenerated'),
    user: str('user'),
    verb: str('verb'),
    matched,
  };
  if (resource) {
    label.objectRef = {
      resource: slash >= 0 ? resource.slice(slash + 1) : resource,
      ...(slash >= 0 ? { apiGroup: resource.slice(0, slash) } : {}),
      ...(str('namespace') ? { namespace: str('namespace') } : {}),
      ...(str('name') ? { name: str('name') } : {}),
      ...(str('subresource') ? { subresource: str('subresource') } : {}),
    };
  }
  if (str('source_ip')) label.sourceIP = str('source_ip');
  if (typeof row.response_code === 'number') label.responseCode = row.response_code;
  return label;
}
