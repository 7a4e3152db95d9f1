import { column, type Row, type TableDefinition } from '../tables/table.js';
import { execDetailsOf } from './execRequest.js';
import type { AuditEvent, AuditLabel, ExecDetails } from './types.js';
import { eventTime, outcomeOf } from './types.js';

/**
 * Log Analytics tables of the audit module. Rows are small: the full event (request and
 * response bodies, redacted) stays in the audit artifact; a row carries what a KQL query
 * filters and joins on.
 *
 *   auditfindings_CL  one row per label (collectAudit yields these as its rows)
 *   auditevents_CL    one compact row per request (auditEventRow), derived from the 'audit'
 *                     raw artifact by writeAuditEventRows (./eventRows.ts) before sealing
 *
 * Exec, attach, port-forward and debug requests carry what they ran (exec_command, container,
 * tty, stdin) in both. Column names avoid Log Analytics' reserved names, compared without case
 * (resource, type, title, ...): the object's resource is object_resource.
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
    c('object_resource', 'string', 'Resource (group/resource for non-core groups).'),
    c('subresource', 'string', 'Subresource (exec, token, ...).'),
    c('namespace', 'string', 'Namespace of the object.'),
    c('name', 'string', 'Name of the object.'),
    c('pod_name', 'string', 'Pod name when the object is a pod (exec, attach, creation).'),
    c('source_ip', 'string', 'First source IP (the client).'),
    c('response_code', 'int', 'HTTP response code.'),
    c('matched', 'string', 'The fields that matched (JSON object, values redacted).'),
    c('outcome', 'string', 'success (1xx-3xx) | attempt (4xx/5xx: refused or failed, never a success) | unknown (no response code).'),
    c('attack_techniques', 'string', 'MITRE ATT&CK technique ids of the rule, comma-separated (T1609,T1059.004).'),
    c('rule_tags', 'string', 'Tags of the rule, comma-separated (Microsoft threat matrix ids; a Sigma rule: its tags as written).'),
    c('exec_command', 'string', 'Exec / attach / debug: the command run, shell-quoted (first 2,048 characters).'),
    c('exec_container', 'string', 'Exec / attach / port-forward / debug: the container.'),
    c('exec_tty', 'boolean', 'Exec / attach / debug: a terminal was requested.'),
    c('exec_stdin', 'boolean', 'Exec / attach / debug: stdin was attached (interactive).'),
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
    c('object_resource', 'string', 'Resource (group/resource for non-core groups).'),
    c('subresource', 'string', 'Subresource.'),
    c('namespace', 'string', 'Namespace.'),
    c('name', 'string', 'Object name.'),
    c('pod_name', 'string', 'Pod name when the object is a pod.'),
    c('response_code', 'int', 'HTTP response code.'),
    c('source_ips', 'string', 'Source IPs (comma-separated, client first).'),
    c('user_agent', 'string', 'User agent.'),
    c('request_uri', 'string', 'Request URI (first 2,048 characters).'),
    c('exec_command', 'string', 'Exec / attach / debug: the command run, shell-quoted (first 2,048 characters).'),
    c('exec_container', 'string', 'Exec / attach / port-forward / debug: the container.'),
    c('exec_tty', 'boolean', 'Exec / attach / debug: a terminal was requested.'),
    c('exec_stdin', 'boolean', 'Exec / attach / debug: stdin was attached (interactive).'),
    c('outcome', 'string', 'success (1xx-3xx) | attempt (4xx/5xx) | unknown (no response code).'),
    c('record_cut', 'boolean', 'The record was cut (e.g. AzureDiagnostics log_s at 32,766 characters): the event holds the fields before the cut.'),
    c('missing_fields', 'string', 'Fields the record lacked (auditID, stage, timestamps, ...), comma-separated; empty when whole.'),
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

/** The exec columns of a row: empty strings and no booleans when the request ran nothing. */
function execColumns(exec: ExecDetails | undefined): Row {
  const row: Row = { exec_command: exec?.commandLine.slice(0, 2048) ?? '', exec_container: exec?.container ?? '' };
  if (exec?.tty !== undefined) row.exec_tty = exec.tty;
  if (exec?.stdin !== undefined) row.exec_stdin = exec.stdin;
  return row;
}

export function auditLabelRow(label: AuditLabel): Row {
  const row: Row = {
    TimeGenerated: label.time,
    rule_id: label.ruleId,
    rule_title: label.title,
    rule_kind: label.ruleKind,
    severity: label.severity,
    audit_id: label.auditID,
    user: label.user,
    verb: label.verb,
    object_resource: resourceName(label.objectRef),
    subresource: label.objectRef?.subresource ?? '',
    namespace: label.objectRef?.namespace ?? '',
    name: label.objectRef?.name ?? '',
    pod_name: podName(label.objectRef),
    source_ip: label.sourceIP ?? '',
    matched: JSON.stringify(label.matched),
    outcome: label.outcome,
    attack_techniques: label.attack.join(','),
    rule_tags: (label.tags ?? []).join(','),
    ...execColumns(label.exec),
  };
  if (label.responseCode !== undefined) row.response_code = label.responseCode;
  return row;
}

export function auditEventRow(event: AuditEvent): Row {
  const ref = event.objectRef;
  const row: Row = {
    TimeGenerated: eventTime(event),
    audit_id: event.auditID,
    stage: event.stage,
    user: event.user?.username ?? '',
    groups: JSON.stringify(event.user?.groups ?? []),
    impersonated_user: event.impersonatedUser?.username ?? '',
    verb: event.verb,
    object_resource: resourceName(ref),
    subresource: ref?.subresource ?? '',
    namespace: ref?.namespace ?? '',
    name: ref?.name ?? '',
    pod_name: podName(ref),
    source_ips: (event.sourceIPs ?? []).join(','),
    user_agent: event.userAgent ?? '',
    request_uri: (event.requestURI ?? '').slice(0, 2048),
    ...execColumns(execDetailsOf(event)),
    outcome: outcomeOf(event.responseStatus?.code),
    record_cut: event.parseNote?.cutAt !== undefined,
    missing_fields: (event.parseNote?.missing ?? []).join(','),
  };
  if (typeof event.responseStatus?.code === 'number') row.response_code = event.responseStatus.code;
  return row;
}

/** A label row read back from an artifact → AuditLabel (for the timeline). */
export function labelFromRow(row: Record<string, unknown>): AuditLabel {
  const str = (k: string) => (typeof row[k] === 'string' ? row[k] : '');
  // Bundles sealed before the rename have the column as `resource`.
  const resource = str('object_resource') || str('resource');
  const slash = resource.lastIndexOf('/');
  let matched: Record<string, unknown>;
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
    outcome:
      str('outcome') === 'attempt' || str('outcome') === 'success'
        ? (str('outcome') as AuditLabel['outcome'])
        : outcomeOf(typeof row.response_code === 'number' ? row.response_code : undefined),
    attack: str('attack_techniques') ? str('attack_techniques').split(',') : [],
  };
  if (str('rule_tags')) label.tags = str('rule_tags').split(',');
  if (resource) {
    label.objectRef = {
      resource: slash >= 0 ? resource.slice(slash + 1) : resource,
      ...(slash >= 0 ? { apiGroup: resource.slice(0, slash) } : {}),
      ...(str('namespace') ? { namespace: str('namespace') } : {}),
      ...(str('name') ? { name: str('name') } : {}),
      ...(str('subresource') ? { subresource: str('subresource') } : {}),
    };
  }
  if (str('exec_command') || str('exec_container')) {
    label.exec = {
      kind: label.objectRef?.subresource === 'ephemeralcontainers' ? 'debug' : ((label.objectRef?.subresource ?? 'exec') as ExecDetails['kind']),
      command: [],
      commandLine: str('exec_command'),
      ...(str('exec_container') ? { container: str('exec_container') } : {}),
      ...(typeof row.exec_tty === 'boolean' ? { tty: row.exec_tty } : {}),
      ...(typeof row.exec_stdin === 'boolean' ? { stdin: row.exec_stdin } : {}),
    };
  }
  if (str('source_ip')) label.sourceIP = str('source_ip');
  if (typeof row.response_code === 'number') label.responseCode = row.response_code;
  return label;
}
