import { shellQuote } from '../audit/execRequest.js';
import type { AuditEvent, AuditLabel, ExecDetails, Severity } from '../audit/types.js';
import { eventTime, SEVERITIES } from '../audit/types.js';
import type { CollectorAction } from '../evidence/types.js';
import type { TableDefinition } from '../tables/table.js';
import { isHistoryCommand, execRequestOf } from './collector.js';
import type { TimelineEntry } from './types.js';
import { oneLine } from '../util/text.js';

/** UTC RFC 3339 for any time value; the source's precision kept when it is already UTC ISO text. */
export function normalizeTime(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value !== 'string' || value === '') return undefined;
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

export function maxSeverity(labels: readonly { severity: Severity }[]): Severity | undefined {
  let best = -1;
  for (const l of labels) best = Math.max(best, SEVERITIES.indexOf(l.severity));
  return best >= 0 ? SEVERITIES[best] : undefined;
}

function objectText(event: AuditEvent): string | undefined {
  const ref = event.objectRef;
  if (!ref?.resource) return undefined;
  const res = `${ref.resource}${ref.subresource ? `/${ref.subresource}` : ''}`;
  const where = ref.namespace ? `${ref.namespace}/${ref.name ?? '*'}` : (ref.name ?? (event.verb === 'list' || event.verb === 'watch' ? '(all namespaces)' : ''));
  return where ? `${res} ${where}` : res;
}

/** A one-line account of an audit event: what was done to what, and the answer. */
export function describeAuditEvent(event: AuditEvent): string {
  const code = event.responseStatus?.code;
  const answer = code !== undefined ? ` → ${code}` : '';
  const exec = execRequestOf(event);
  if (exec) return oneLine(`${execText(exec)}${answer}`);
  const obj = objectText(event);
  const imp = event.impersonatedUser?.username ? ` as ${event.impersonatedUser.username}` : '';
  const target = obj ?? event.requestURI;
  const extra = bindingText(event);
  return oneLine(`${event.verb} ${target}${extra}${imp}${answer}`);
}

/** "exec [sh -c 'cat /var/run/…/token'] in prod/api-1 (api) tty stdin" — what ran where, and how. */
export function execText(exec: ExecDetails): string {
  const cmd = isHistoryCommand(exec.command) ? `${exec.command[0]} -c <aks-evidence shell-history script>` : exec.commandLine || shellQuote(exec.command);
  const how = [exec.tty ? 'tty' : '', exec.stdin ? 'stdin' : ''].filter(Boolean).join(' ');
  const ports = exec.ports?.length ? ` ports ${exec.ports.join(',')}` : '';
  const image = exec.image ? ` image ${exec.image}` : '';
  const target = exec.targetContainer ? ` target ${exec.targetContainer}` : '';
  return `${exec.kind} ${cmd ? `[${cmd}] ` : ''}in ${exec.namespace ?? ''}/${exec.pod ?? ''}${exec.container ? ` (${exec.container})` : ''}${image}${target}${ports}${how ? ` ${how}` : ''}`;
}

function bindingText(event: AuditEvent): string {
  const r = event.objectRef?.resource;
  if ((r !== 'rolebindings' && r !== 'clusterrolebindings') || event.verb !== 'create') return '';
  const body = event.requestObject as { roleRef?: { name?: string }; subjects?: { kind?: string; name?: string }[] } | undefined;
  if (!body?.roleRef?.name) return '';
  const subjects = (body.subjects ?? []).map((s) => `${s.kind ?? ''}:${s.name ?? ''}`).join(', ');
  return ` (${body.roleRef.name} → ${subjects})`;
}

export function auditEntry(event: AuditEvent, labels: readonly AuditLabel[], evidence: TimelineEntry['evidence']): TimelineEntry {
  const ref = event.objectRef;
  const entry: TimelineEntry = {
    time: eventTime(event),
    source: 'audit',
    type: 'AuditEvent',
    actor: event.user?.username ?? '',
    summary: describeAuditEvent(event),
    collector: false,
    evidence: { ...evidence, auditID: event.auditID },
  };
  if (ref?.namespace) entry.namespace = ref.namespace;
  if (ref?.resource === 'pods' && !ref.apiGroup && ref.name) entry.pod = ref.name;
  const obj = objectText(event);
  if (obj) entry.object = obj;
  if (labels.length) {
    entry.labels = labels.map(labelRef);
    const sev = maxSeverity(labels);
    if (sev) entry.severity = sev;
  }
  const exec = execRequestOf(event);
  if (exec)
    entry.exec = {
      kind: exec.kind,
      command: exec.command,
      ...(exec.container ? { container: exec.container } : {}),
      ...(exec.tty !== undefined ? { tty: exec.tty } : {}),
      ...(exec.stdin !== undefined ? { stdin: exec.stdin } : {}),
    };
  if (event.parseNote?.cutAt !== undefined || event.parseNote?.missing?.length) entry.partial = true;
  return entry;
}

function labelRef(l: AuditLabel): NonNullable<TimelineEntry['labels']>[number] {
  return { ruleId: l.ruleId, severity: l.severity, title: l.title, ...(l.outcome === 'attempt' ? { outcome: l.outcome } : {}), ...(l.attack.length ? { attack: l.attack } : {}) };
}

/** A label whose event is not in the bundle (e.g. a threshold over events of another window). */
export function labelEntry(label: AuditLabel, evidence: TimelineEntry['evidence']): TimelineEntry {
  const ref = label.objectRef;
  const entry: TimelineEntry = {
    time: label.time,
    source: 'audit',
    type: 'AuditFinding',
    actor: label.user,
    summary: oneLine(
      `${label.title} (${label.ruleId}): ${label.exec ? execText(label.exec) : `${label.verb} ${ref?.resource ?? ''}${ref?.subresource ? `/${ref.subresource}` : ''} ${ref?.namespace ? `${ref.namespace}/` : ''}${ref?.name ?? ''}`}${label.outcome === 'attempt' ? ` → ${label.responseCode ?? 'refused'} (attempt)` : ''}`,
    ),
    severity: label.severity,
    labels: [labelRef(label)],
    collector: false,
    evidence: { ...evidence, auditID: label.auditID },
  };
  if (ref?.namespace) entry.namespace = ref.namespace;
  if (ref?.resource === 'pods' && ref.name) entry.pod = ref.name;
  return entry;
}

export function collectorActionEntry(action: CollectorAction, actor: string, evidencePath: string): TimelineEntry {
  const cmd = isHistoryCommand(action.command) ? `${action.command[0]} -c <aks-evidence shell-history script>` : shellQuote(action.command);
  return {
    time: normalizeTime(action.at) ?? action.at,
    source: 'collector',
    type: 'CollectorExec',
    actor,
    namespace: action.namespace,
    pod: action.pod,
    object: `pods/exec ${action.namespace}/${action.pod}`,
    summary: oneLine(
      `collector exec [${cmd}] in ${action.namespace}/${action.pod} (${action.container}) → ${action.outcome}${action.exitCode !== undefined ? ` exit ${action.exitCode}` : ''}`,
    ),
    collector: true,
    collectorReason: 'recorded by the collector in the manifest',
    evidence: { path: evidencePath },
  };
}

/** Per-table knowledge the registry does not carry: which column is the event's own time, and when it is only approximate. */
const ROW_TIME: Record<string, (row: Record<string, unknown>) => { time?: string; approximate: boolean }> = {
  commandhistory_CL: (row) => {
    const own = normalizeTime(row.command_time);
    return own ? { time: own, approximate: false } : { time: normalizeTime(row.TimeGenerated), approximate: true };
  },
  kubelogs_CL: (row) => ({ time: normalizeTime(row.TimeGenerated), approximate: row.timestamp_present === false }),
};

function text(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** A row of any registry table → entry, through the table's timeline metadata. */
export function rowEntry(row: Record<string, unknown>, table: TableDefinition, source: string, evidence: TimelineEntry['evidence']): TimelineEntry | undefined {
  const t = (ROW_TIME[table.name] ?? ((r) => ({ time: normalizeTime(r.TimeGenerated), approximate: false })))(row);
  if (!t.time) return undefined;
  const meta = table.timeline;
  const entry: TimelineEntry = {
    time: t.time,
    source,
    type: meta.eventType,
    summary: oneLine(text(row[meta.summary]) ?? ''),
    collector: false,
    evidence,
  };
  if (t.approximate) entry.approximateTime = true;
  const ns = meta.namespace ? text(row[meta.namespace]) : undefined;
  if (ns) entry.namespace = ns;
  const pod = meta.pod ? text(row[meta.pod]) : undefined;
  if (pod) entry.pod = pod;
  // A few tables name an actor or a severity worth showing in the merged view.
  const actor = text(row.user) ?? text(row.service_account);
  if (actor) entry.actor = actor;
  const sev = text(row.severity);
  if (sev && (SEVERITIES as readonly string[]).includes(sev)) entry.severity = sev as Severity;
  if (table.name === 'kubeevents_CL') {
    const kind = text(row.involved_object_kind);
    const name = text(row.involved_object_name);
    if (kind && name) entry.object = `${kind}/${name}`;
    if (kind && kind !== 'Pod') delete entry.pod;
    entry.summary = oneLine(`${text(row.reason) ?? ''}: ${text(row.message) ?? ''}`);
  }
  if (table.name === 'kubelogs_CL' && text(row.container_name)) entry.object = `container ${text(row.container_name)}`;
  if (table.name === 'commandhistory_CL') {
    const file = text(row.history_file);
    if (file) entry.object = `${text(row.container_name) ?? ''}:${file}`;
  }
  return entry;
}
