/**
 * The "AKS evidence" workbook (Azure Monitor workbook gallery-template JSON, Notebook/1.0):
 * tabs for the run overview, the timeline, findings, gaps and custody, over the evidence
 * tables of the registry. Every table read goes through evidence(): one row per RecordId.
 * Parameters: time range, cluster and run (both with "All").
 */
import { SOURCES } from '../../shared/sources/registry.js';
import type { TableDefinition } from '../../shared/tables/table.js';
import { evidence } from './evidenceKql.js';

export const WORKBOOK_DISPLAY_NAME = 'AKS evidence (aks-evidence)';
const WORKSPACE = 'microsoft.operationalinsights/workspaces';

/** Workbook parameter placeholders the queries use (tests substitute them before analysis). */
export const WORKBOOK_PLACEHOLDERS = { TimeRange: '{TimeRange}', Cluster: '{Cluster}', RunId: '{RunId}' } as const;

const SCOPE = `TimeGenerated {TimeRange} and ("*" in ({Cluster}) or ClusterResourceId in ({Cluster})) and ("*" in ({RunId}) or RunId in ({RunId}))`;
const CLUSTER_ONLY = `TimeGenerated {TimeRange} and ("*" in ({Cluster}) or ClusterResourceId in ({Cluster}))`;

const scoped = (table: string): string => evidence(table, { where: SCOPE });
const str = (s: string): string => JSON.stringify(s);
const col = (name: string | undefined): string => (name ? `tostring(${name})` : '""');

/** One leg per evidence table, tagged with its name. */
function legs(tables: readonly TableDefinition[], where: string, project?: (t: TableDefinition) => string): string {
  return tables.map((t) => `    (${evidence(t.name, { where })} | extend Table = ${str(t.name)}${project ? ` | ${project(t)}` : ''})`).join(',\n');
}

function timelineLeg(t: TableDefinition): string {
  const m = t.timeline;
  return `project EventTime = coalesce(EventTime, TimeGenerated), Table, EventType = ${str(m.eventType)}, Namespace = ${col(m.namespace)}, Pod = ${col(m.pod)}, Summary = ${col(m.summary)}, RunId, ClusterResourceId, EvidencePath`;
}

type Item = Record<string, unknown>;
let counter = 0;
const text = (markdown: string): Item => ({ type: 1, content: { json: markdown }, name: `text - ${++counter}` });
function query(title: string, kql: string, visualization: string, extra: Item = {}): Item {
  return {
    type: 3,
    content: { version: 'KqlItem/1.0', query: kql, size: 0, title, queryType: 0, resourceType: WORKSPACE, visualization, ...extra },
    name: `query - ${++counter}`,
  };
}
function group(tab: string, items: Item[]): Item {
  return {
    type: 12,
    content: { version: 'NotebookGroup/1.0', groupType: 'editable', items },
    conditionalVisibility: { parameterName: 'Tab', comparison: 'isEqualTo', value: tab },
    name: `group - ${tab}`,
  };
}

const severityFormatter = {
  columnMatch: 'Severity',
  formatter: 18,
  formatOptions: {
    thresholdsOptions: 'colors',
    thresholdsGrid: [
      { operator: '==', thresholdValue: 'critical', representation: 'redBright', text: '{0}' },
      { operator: '==', thresholdValue: 'high', representation: 'red', text: '{0}' },
      { operator: '==', thresholdValue: 'medium', representation: 'orange', text: '{0}' },
      { operator: '==', thresholdValue: 'low', representation: 'blue', text: '{0}' },
      { operator: 'Default', representation: 'gray', text: '{0}' },
    ],
  },
};

/** The workbook's queries by item title (tests analyse every one). */
export function workbookQueries(workbook: Item = buildWorkbook()): { title: string; query: string }[] {
  const out: { title: string; query: string }[] = [];
  const walk = (items: Item[]): void => {
    for (const item of items) {
      const content = item.content as { query?: string; title?: string; items?: Item[]; parameters?: { name: string; query?: string }[] };
      if (item.type === 3 && content.query) out.push({ title: content.title ?? String(item.name), query: content.query });
      if (item.type === 9) for (const p of content.parameters ?? []) if (p.query) out.push({ title: `parameter ${p.name}`, query: p.query });
      if (item.type === 12) walk(content.items ?? []);
    }
  };
  walk((workbook.items as Item[]) ?? []);
  return out;
}

export function buildWorkbook(tables: readonly TableDefinition[] = SOURCES.tables.tables): Item {
  counter = 0;
  const names = tables.map((t) => t.name);
  const all = (where: string, project?: (t: TableDefinition) => string) => `union isfuzzy=true\n${legs(tables, where, project)}`;

  const parameters: Item = {
    type: 9,
    content: {
      version: 'KqlParameterItem/1.0',
      parameters: [
        {
          id: 'b6a1f5e0-4c1e-4e53-9a52-5f8e2f0c0a01',
          version: 'KqlParameterItem/1.0',
          name: 'TimeRange',
          label: 'Time range',
          type: 4,
          isRequired: true,
          value: { durationMs: 1209600000 },
          typeSettings: { selectableValues: [86400000, 259200000, 604800000, 1209600000, 2592000000, 7776000000].map((durationMs) => ({ durationMs })), allowCustom: true },
        },
        {
          id: 'b6a1f5e0-4c1e-4e53-9a52-5f8e2f0c0a02',
          version: 'KqlParameterItem/1.0',
          name: 'Cluster',
          label: 'Cluster',
          type: 2,
          multiSelect: true,
          quote: "'",
          delimiter: ',',
          query: `${all('TimeGenerated {TimeRange}')}\n| distinct ClusterResourceId\n| where isnotempty(ClusterResourceId)\n| order by ClusterResourceId asc`,
          typeSettings: { additionalResourceOptions: ['value::all'], selectAllValue: '*', showDefault: false },
          value: ['value::all'],
          queryType: 0,
          resourceType: WORKSPACE,
        },
        {
          id: 'b6a1f5e0-4c1e-4e53-9a52-5f8e2f0c0a03',
          version: 'KqlParameterItem/1.0',
          name: 'RunId',
          label: 'Collection run',
          type: 2,
          multiSelect: true,
          quote: "'",
          delimiter: ',',
          query: `${all(CLUSTER_ONLY)}\n| summarize Collected = max(TimeGenerated), Case = take_any(CaseId) by RunId\n| order by Collected desc\n| project value = RunId, label = strcat(RunId, " (case ", Case, ")")`,
          typeSettings: { additionalResourceOptions: ['value::all'], selectAllValue: '*', showDefault: false },
          value: ['value::all'],
          queryType: 0,
          resourceType: WORKSPACE,
        },
      ],
      style: 'pills',
      queryType: 0,
      resourceType: WORKSPACE,
    },
    name: 'parameters',
  };

  const tabs: Item = {
    type: 11,
    content: {
      version: 'LinkItem/1.0',
      style: 'tabs',
      links: [
        ['overview', 'Run overview'],
        ['timeline', 'Timeline'],
        ['findings', 'Findings'],
        ['gaps', 'Gaps'],
        ['custody', 'Custody'],
      ].map(([value, label], i) => ({ id: `b6a1f5e0-4c1e-4e53-9a52-5f8e2f0c0b0${i}`, cellValue: 'Tab', linkTarget: 'parameter', linkLabel: label, subTarget: value, style: 'link' })),
    },
    name: 'tabs',
  };

  const overview = group('overview', [
    query(
      'Collection runs',
      `${all(SCOPE)}\n| summarize Rows = count(), Tables = dcount(Table), Cluster = take_any(ClusterResourceId), Case = take_any(CaseId), EarliestEvent = min(coalesce(EventTime, TimeGenerated)), LatestEvent = max(coalesce(EventTime, TimeGenerated)) by RunId\n| order by LatestEvent desc`,
      'table',
    ),
    query(
      'Rows per table',
      `${all(SCOPE)}\n| summarize Rows = count() by Table\n| order by Rows desc`,
      'tiles',
      { tileSettings: { titleContent: { columnMatch: 'Table', formatter: 1 }, leftContent: { columnMatch: 'Rows', formatter: 12, formatOptions: { palette: 'blue' } }, showBorder: false } },
    ),
    query(
      'Findings by severity',
      `union isfuzzy=true\n    (${scoped('rbacfindings_CL')} | where expected == false | extend Finding = "RBAC"),\n    (${scoped('workloadfindings_CL')} | extend Finding = "Workload"),\n    (${scoped('suspiciouspods_CL')} | extend Finding = "Pod settings"),\n    (${scoped('auditfindings_CL')} | extend Finding = "Audit log")\n| summarize Findings = count() by Severity = severity, Finding`,
      'barchart',
      { chartSettings: { xColumn: 'Severity', yColumns: ['Findings'], group: 'Finding' } },
    ),
  ]);

  const timeline = group('timeline', [
    text('Every evidence table on one time axis (the event\'s own time). The same view with the AKS audit tables of the workspace: the `AksEvidenceTimeline(runId="…")` function.'),
    query('Events over time', `${all(SCOPE, timelineLeg)}\n| summarize Events = count() by bin(EventTime, 1h), Table`, 'timechart'),
    query('Timeline', `${all(SCOPE, timelineLeg)}\n| order by EventTime asc\n| take 10000`, 'table', { gridSettings: { filter: true } }),
  ]);

  const findings = group('findings', [
    query(
      'RBAC: who can do what (not the documented defaults)',
      `${scoped('rbacfindings_CL')}\n| where expected == false\n| project Severity = severity, Rule = rule_id, Subject = strcat(subject_kind, " ", iff(isempty(subject_namespace), "", strcat(subject_namespace, "/")), subject_name), Scope = scope_namespace, GrantPath = grant_path, Verbs = verbs, Resources = resources, Workloads = workloads, RunId, ClusterResourceId\n| order by Severity asc`,
      'table',
      { gridSettings: { formatters: [severityFormatter], filter: true } },
    ),
    query(
      'Dangerous workload settings',
      `${scoped('workloadfindings_CL')}\n| project Severity = severity, Rule = rule_id, Object = strcat(kind, " ", namespace, "/", name), Container = container_name, Field = field_path, Details = details, ServiceAccount = service_account, RunId, ClusterResourceId`,
      'table',
      { gridSettings: { formatters: [severityFormatter], filter: true } },
    ),
    query(
      'Audit log detections',
      `${scoped('auditfindings_CL')}\n| project TimeGenerated, Severity = severity, Rule = rule_id, Title = rule_title, User = user, Request = strcat(verb, " ", object_resource, iff(isempty(subresource), "", strcat("/", subresource)), " ", namespace, "/", name), SourceIp = source_ip, ResponseCode = response_code, RunId\n| order by TimeGenerated asc`,
      'table',
      { gridSettings: { formatters: [severityFormatter], filter: true } },
    ),
    query(
      'Shell history',
      `${scoped('commandhistory_CL')}\n| project Time = coalesce(command_time, TimeGenerated), TimeRecorded = isnotempty(command_time), Pod = strcat(namespace, "/", pod_name), Container = container_name, User = user, File = history_file, Command = command, RunId\n| order by Time asc`,
      'table',
      { gridSettings: { filter: true } },
    ),
  ]);

  const gaps = group('gaps', [
    text(
      'Every gap of a run — what could not be collected and why (a forbidden resource, a pod that vanished, a container without a shell, an audit log that is not exported) — is named in the run\'s `manifest.json` and in its report (`report.html` in the bundle, linked from the incident comment). Log Analytics shows what is missing from the rows themselves:',
    ),
    query(
      'Evidence tables without rows for a run',
      `let expected = datatable(Table: string) [${names.map(str).join(', ')}];\nlet present = ${all(SCOPE)}\n| summarize Rows = count() by RunId, Table;\npresent\n| distinct RunId\n| extend k = 1\n| join kind=inner (expected | extend k = 1) on k\n| join kind=leftanti present on RunId, Table\n| summarize TablesWithoutRows = make_set(Table) by RunId`,
      'table',
    ),
    query(
      'Values shortened to fit the ingestion limits (full value in the artifact)',
      `${all(SCOPE)}\n| where isnotempty(TruncatedColumns)\n| summarize Rows = count(), Columns = make_set(TruncatedColumns, 20) by RunId, Table, EvidencePath`,
      'table',
    ),
    query(
      'Lines without a time of their own (shown at collection time)',
      `union isfuzzy=true\n    (${scoped('kubelogs_CL')} | where timestamp_present == false | extend Kind = "container log line without timestamp"),\n    (${scoped('commandhistory_CL')} | where isnull(command_time) | extend Kind = "shell history line without timestamp")\n| summarize Rows = count() by RunId, Kind`,
      'table',
    ),
  ]);

  const custody = group('custody', [
    text(
      'Each row links back to the artifact it came from (`EvidencePath`) and that artifact\'s SHA-256 as sealed in the manifest (`EvidenceSha256`). To check a bundle: `aks-evidence verify <location> --expect-sha256 <manifest SHA-256 from the incident comment>`; `aks-evidence report <location>` writes a verified report.',
    ),
    query(
      'Artifacts behind the rows',
      `${all(SCOPE)}\n| summarize Rows = count(), EarliestEvent = min(coalesce(EventTime, TimeGenerated)), LatestEvent = max(coalesce(EventTime, TimeGenerated)) by RunId, CaseId, Table, EvidencePath, EvidenceSha256\n| order by RunId asc, EvidencePath asc`,
      'table',
      { gridSettings: { filter: true } },
    ),
    query(
      'Artifacts whose rows disagree on the sealed hash',
      `${all(SCOPE)}\n| summarize Hashes = dcount(EvidenceSha256), Values = make_set(EvidenceSha256, 5) by RunId, EvidencePath\n| where Hashes > 1`,
      'table',
      { noDataMessage: 'None: every artifact\'s rows carry one sealed SHA-256.' },
    ),
  ]);

  return {
    version: 'Notebook/1.0',
    items: [
      text('## AKS evidence\nForensic evidence collected from AKS clusters by aks-evidence: one collection run per incident and cluster, sealed in Blob Storage, its rows in these tables.'),
      parameters,
      tabs,
      overview,
      timeline,
      findings,
      gaps,
      custody,
    ],
    fallbackResourceIds: [],
    fromTemplateId: 'sentinel-AksEvidence',
    $schema: 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json',
  };
}
