/**
 * The `AksEvidenceTimeline` KQL function, generated from the table registry's `timeline`
 * metadata: every evidence table, plus the AKS audit log wherever the workspace has it
 * (resource-specific AKSAudit/AKSAuditAdmin, or AzureDiagnostics kube-audit), on one
 * timeline with the same columns. `union isfuzzy=true` skips the audit legs a workspace lacks.
 * Each evidence table is read de-duplicated by RecordId (DEDUPE_BY_RECORD_ID).
 */
import type { TableDefinition } from '../shared/tables/table.js';

export const TIMELINE_FUNCTION_ALIAS = 'AksEvidenceTimeline';

export interface TimelineParameter {
  name: string;
  type: 'string' | 'timespan';
  /** KQL literal. */
  defaultValue: string;
  description: string;
}

export const TIMELINE_PARAMETERS: readonly TimelineParameter[] = [
  { name: 'runId', type: 'string', defaultValue: '""', description: 'Only this collection run (audit events are kept: they carry no run id).' },
  { name: 'caseId', type: 'string', defaultValue: '""', description: 'Only this case / incident (audit events are kept).' },
  { name: 'clusterResourceId', type: 'string', defaultValue: '""', description: 'Only this AKS cluster (ARM id, case-insensitive).' },
  { name: 'lookback', type: 'timespan', defaultValue: '30d', description: 'How far back TimeGenerated goes.' },
];

/** The timeline's columns, in order. */
export const TIMELINE_COLUMNS = [
  'TimeGenerated',
  'EventTime',
  'Source',
  'EventType',
  'Namespace',
  'Pod',
  'Summary',
  'Details',
  'EvidencePath',
  'EvidenceSha256',
  'RunId',
  'CaseId',
  'ClusterResourceId',
] as const;

/** The audit legs, by source name. */
export const AUDIT_SOURCES = ['AKSAudit', 'AKSAuditAdmin', 'AzureDiagnostics/kube-audit', 'AzureDiagnostics/kube-audit-admin'] as const;

const str = (s: string): string => JSON.stringify(s);

/**
 * The dedupe every shipped query applies to an evidence table before anything else reads it:
 * a row can reach Log Analytics twice (an ingestion killed between the service's answer and its
 * acknowledgement being written re-sends that request), and RecordId — derived from run,
 * artifact and line — names the row. `where` filters may come first (cheaper); nothing else may.
 */
export const DEDUPE_BY_RECORD_ID = 'summarize arg_max(TimeGenerated, *) by RecordId';

/** `<table> | summarize arg_max(TimeGenerated, *) by RecordId`: an evidence table as every shipped query reads it. */
export function dedupedTable(table: string): string {
  return `${table} | ${DEDUPE_BY_RECORD_ID}`;
}

/** `functionParameters` of the saved search: `runId:string = "", ...`. */
export function timelineFunctionParameters(): string {
  return TIMELINE_PARAMETERS.map((prm) => `${prm.name}:${prm.type} = ${prm.defaultValue}`).join(', ');
}

function tableLeg(table: TableDefinition): string {
  const t = table.timeline;
  const column = (name: string | undefined): string => (name ? `tostring(${name})` : '""');
  return [
    `    (${table.name}`,
    // Filters first (they shrink what the dedupe works on), then one row per RecordId.
    '    | where TimeGenerated > ago(lookback) and (isempty(runId) or RunId == runId) and (isempty(caseId) or CaseId == caseId)',
    `    | ${DEDUPE_BY_RECORD_ID}`,
    `    | project TimeGenerated, EventTime = coalesce(EventTime, TimeGenerated), Source = ${str(table.name)}, EventType = ${str(t.eventType)},`,
    `        Namespace = ${column(t.namespace)}, Pod = ${column(t.pod)}, Summary = ${column(t.summary)}, Details = pack_all(true),`,
    `        EvidencePath, EvidenceSha256, RunId, CaseId, ClusterResourceId)`,
  ].join('\n');
}

function resourceSpecificAuditLeg(table: 'AKSAudit' | 'AKSAuditAdmin'): string {
  return [
    `    (${table}`,
    `    | project TimeGenerated, EventTime = coalesce(RequestReceivedTime, TimeGenerated), Source = ${str(table)}, EventType = ${str(table === 'AKSAudit' ? 'KubeAudit' : 'KubeAuditAdmin')},`,
    `        Namespace = tostring(ObjectRef.namespace), Pod = iff(tostring(ObjectRef.resource) == "pods", tostring(ObjectRef.name), ""),`,
    `        Summary = strcat(Verb, " ", RequestUri, " by ", tostring(User.username), " -> ", tostring(ResponseStatus.code)),`,
    `        Details = bag_pack("auditId", AuditId, "stage", Stage, "user", User, "sourceIPs", SourceIps, "userAgent", UserAgent, "objectRef", ObjectRef, "responseStatus", ResponseStatus),`,
    `        EvidencePath = "", EvidenceSha256 = "", RunId = "", CaseId = "", ClusterResourceId = _ResourceId)`,
  ].join('\n');
}

/** AzureDiagnostics mode: the audit event is JSON text in log_s (column_ifexists: the column only exists once some diagnostics log wrote it). */
function azureDiagnosticsAuditLeg(): string {
  return [
    '    (AzureDiagnostics',
    '    | where Category in ("kube-audit", "kube-audit-admin")',
    '    | extend a = parse_json(tostring(column_ifexists("log_s", "")))',
    '    | project TimeGenerated, EventTime = coalesce(todatetime(a.requestReceivedTimestamp), TimeGenerated), Source = strcat("AzureDiagnostics/", Category),',
    '        EventType = iff(Category == "kube-audit", "KubeAudit", "KubeAuditAdmin"),',
    '        Namespace = tostring(a.objectRef.namespace), Pod = iff(tostring(a.objectRef.resource) == "pods", tostring(a.objectRef.name), ""),',
    '        Summary = strcat(tostring(a.verb), " ", tostring(a.requestURI), " by ", tostring(a.user.username), " -> ", tostring(a.responseStatus.code)),',
    '        Details = bag_pack("auditId", a.auditID, "stage", a.stage, "user", a.user, "sourceIPs", a.sourceIPs, "userAgent", a.userAgent, "objectRef", a.objectRef, "responseStatus", a.responseStatus),',
    '        EvidencePath = "", EvidenceSha256 = "", RunId = "", CaseId = "", ClusterResourceId = _ResourceId)',
  ].join('\n');
}

/** The function body (what the saved search stores), for `tables` (the registry's). */
export function buildTimelineQuery(tables: readonly TableDefinition[]): string {
  const legs = [...tables.map(tableLeg), resourceSpecificAuditLeg('AKSAudit'), resourceSpecificAuditLeg('AKSAuditAdmin'), azureDiagnosticsAuditLeg()];
  const auditSources = `dynamic([${AUDIT_SOURCES.map(str).join(', ')}])`;
  return [
    `// Generated by infra/generate.ts from the source registry's tables (shared/sources/registry.ts). Do not edit by hand.`,
    `let _auditSources = ${auditSources};`,
    'union isfuzzy=true',
    legs.join(',\n'),
    '| where TimeGenerated > ago(lookback)',
    '| where isempty(runId) or RunId == runId or Source in (_auditSources)',
    '| where isempty(caseId) or CaseId == caseId or Source in (_auditSources)',
    '| where isempty(clusterResourceId) or ClusterResourceId =~ clusterResourceId',
    `| project ${TIMELINE_COLUMNS.join(', ')}`,
    '| order by EventTime asc',
  ].join('\n');
}

/** infra/kql/AksEvidenceTimeline.kql: the same function as a `let` a user can paste into Logs. */
export function buildTimelineKqlFile(tables: readonly TableDefinition[]): string {
  const body = buildTimelineQuery(tables)
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return [
    `// ${TIMELINE_FUNCTION_ALIAS}: every aks-evidence table and the AKS audit log on one timeline.`,
    '// Deployed by infra/azuredeploy.json as a workspace function; this file is the same query as a',
    '// `let`, for workspaces where the function is not deployed. Generated: run `npm run generate:infra`.',
    '//',
    ...TIMELINE_PARAMETERS.map((prm) => `//   ${prm.name} (${prm.type}, default ${prm.defaultValue}): ${prm.description}`),
    `let ${TIMELINE_FUNCTION_ALIAS} = (${timelineFunctionParameters()}) {`,
    body,
    '};',
    `${TIMELINE_FUNCTION_ALIAS}()`,
    '',
  ].join('\n');
}
