/**
 * The table registry: the single declaration of every Log Analytics custom table.
 * It drives row mapping (shared/ingestion), DCR stream declarations and tables (infra/),
 * the Logs Ingestion emulator (shared/simulator), and the KQL timeline.
 *
 * KubeForenSys's eight tables keep their names and columns so existing queries keep working;
 * richer columns are added after them; LINK_COLUMNS are appended to every table by the
 * ingestion step (a source never sets them).
 */

import { AUDIT_TABLES } from '../audit/tables.js';
import { column } from './column.js';
import { FINDINGS_TABLES } from '../findings/tables.js';
import { SNAPSHOT_TABLES } from '../sources/snapshotTable.js';

/** Log Analytics custom-table column types. */
export type ColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic' | 'guid';

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  description: string;
}

export interface TableDefinition {
  /** Custom table name, ends with _CL. */
  name: string;
  /** The source (or analyzer) whose rows fill it. */
  source: string;
  description: string;
  /** Source-filled columns, TimeGenerated first. */
  columns: ColumnDefinition[];
  /** For the KQL timeline: which columns hold namespace, pod, a one-line summary and an event type. */
  timeline: { eventType: string; namespace?: string; pod?: string; summary: string };
}

/** Columns the ingestion step adds to every row: they tie the row to its run and evidence. */
export const LINK_COLUMNS: readonly ColumnDefinition[] = [
  { name: 'EventTime', type: 'datetime', description: "The event's own time (TimeGenerated is replaced by the service when older than 2 days)." },
  { name: 'RunId', type: 'string', description: 'Collection run id.' },
  { name: 'CaseId', type: 'string', description: 'Case / incident id the run was collected for.' },
  { name: 'ClusterResourceId', type: 'string', description: 'AKS managed cluster ARM id (or API server URL when collected from a kubeconfig).' },
  { name: 'EvidencePath', type: 'string', description: 'Bundle location and path of the artifact holding this row.' },
  { name: 'EvidenceSha256', type: 'string', description: 'SHA-256 of that artifact, as sealed in the manifest.' },
  { name: 'RecordId', type: 'string', description: 'Stable record id: sha256(runId, artifact path, line number).' },
  { name: 'TruncatedColumns', type: 'string', description: 'Columns shortened to fit ingestion limits (full value in the artifact), comma-separated; empty when none.' },
];

const c = column;
const TIME = c('TimeGenerated', 'datetime', 'Time of the event or object creation (UTC).');

/** KubeForenSys-compatible tables. Other modules' tables are appended in TABLES below. */
export const KUBEFORENSYS_TABLES: readonly TableDefinition[] = [
  {
    name: 'kubelogs_CL',
    source: 'containerlogs',
    description: 'Container log lines, one row per line, current and previous containers.',
    columns: [
      TIME,
      c('message', 'string', 'Log line without its timestamp.'),
      c('container_name', 'string', 'Container name.'),
      c('namespace', 'string', 'Namespace.'),
      c('pod_name', 'string', 'Pod name.'),
      c('containerimages', 'string', 'Images of the pod containers (JSON array).'),
      c('labels', 'string', 'Pod labels (JSON).'),
      c('annotations', 'string', 'Pod annotations (JSON).'),
      c('container_type', 'string', 'container | init | ephemeral.'),
      c('previous', 'boolean', 'True for the log of the previous (restarted) container instance.'),
      c('timestamp_present', 'boolean', 'False when the line had no timestamp (TimeGenerated is then the collection time).'),
      c('line_number', 'long', 'Line number within this container log stream (1-based).'),
      c('pod_uid', 'string', 'Pod uid.'),
      c('node_name', 'string', 'Node the pod ran on.'),
      c('image', 'string', 'Image of this container.'),
    ],
    timeline: { eventType: 'ContainerLog', namespace: 'namespace', pod: 'pod_name', summary: 'message' },
  },
  {
    name: 'kubeevents_CL',
    source: 'events',
    description: 'Kubernetes events from all namespaces.',
    columns: [
      TIME,
      c('action', 'string', 'Event action.'),
      c('first_timestamp', 'datetime', 'First occurrence.'),
      c('involved_object_name', 'string', 'Involved object name.'),
      c('involved_object_uid', 'string', 'Involved object uid.'),
      c('last_timestamp', 'datetime', 'Last occurrence.'),
      c('message', 'string', 'Event message.'),
      c('reason', 'string', 'Event reason.'),
      c('reporting_component', 'string', 'Reporting component.'),
      c('type', 'string', 'Normal | Warning.'),
      c('namespace', 'string', 'Event namespace.'),
      c('name', 'string', 'Event object name.'),
      c('involved_object_kind', 'string', 'Involved object kind.'),
      c('involved_object_namespace', 'string', 'Involved object namespace.'),
      c('reporting_instance', 'string', 'Reporting instance.'),
      c('count', 'int', 'Occurrences.'),
    ],
    timeline: { eventType: 'KubeEvent', namespace: 'namespace', pod: 'involved_object_name', summary: 'message' },
  },
  {
    name: 'commandhistory_CL',
    source: 'commandhistory',
    description: 'Shell history lines read from containers through the exec API.',
    columns: [
      TIME,
      c('namespace', 'string', 'Namespace.'),
      c('pod_name', 'string', 'Pod name.'),
      c('container_name', 'string', 'Container name.'),
      c('command', 'string', 'The command line as recorded.'),
      c('history_file', 'string', 'Path of the history file in the container.'),
      c('shell', 'string', 'Shell the file belongs to (bash, ash, sh, zsh, other).'),
      c('user', 'string', 'Owner inferred from the path (root or /home/<user>).'),
      c('line_number', 'long', 'Line number in the history file (1-based).'),
      c('command_time', 'datetime', 'Time recorded by the shell (zsh extended history, bash HISTTIMEFORMAT), when present.'),
    ],
    timeline: { eventType: 'ShellCommand', namespace: 'namespace', pod: 'pod_name', summary: 'command' },
  },
  {
    name: 'serviceaccounts_CL',
    source: 'serviceaccounts',
    description: 'Service accounts from all namespaces.',
    columns: [
      TIME,
      c('namespace', 'string', 'Namespace.'),
      c('name', 'string', 'Service account name.'),
      c('automount_service_account_token', 'string', 'true | false | unset.'),
      c('image_pull_secrets', 'string', 'Image pull secret names (JSON array).'),
      c('secrets', 'string', 'Referenced secret names (JSON array).'),
      c('annotations', 'string', 'Annotations (JSON), workload identity client ids included.'),
      c('workload_identity_client_id', 'string', 'azure.workload.identity/client-id annotation, when present.'),
      c('uid', 'string', 'Object uid.'),
    ],
    timeline: { eventType: 'ServiceAccount', namespace: 'namespace', summary: 'name' },
  },
  {
    name: 'suspiciouspods_CL',
    source: 'suspiciouspods',
    description: 'Pods with dangerous settings, one row per finding.',
    columns: [
      TIME,
      c('namespace', 'string', 'Namespace.'),
      c('pod_name', 'string', 'Pod name.'),
      c('issue_type', 'string', 'Finding: hostNetwork, privileged, hostPath, hostPath (creation-capable), hostPID, hostIPC, allowPrivilegeEscalation, capability, runtimeSocket, sensitiveHostPath.'),
      c('details', 'string', 'What triggered it.'),
      c('container_name', 'string', 'Container concerned, empty for pod-level findings.'),
      c('container_type', 'string', 'container | init | ephemeral, empty for pod-level findings.'),
      c('severity', 'string', 'high | medium | low.'),
      c('field_path', 'string', 'Exact field path, e.g. spec.containers[0].securityContext.privileged.'),
      c('service_account', 'string', 'Service account of the pod.'),
      c('node_name', 'string', 'Node.'),
      c('pod_uid', 'string', 'Pod uid.'),
    ],
    timeline: { eventType: 'SuspiciousPod', namespace: 'namespace', pod: 'pod_name', summary: 'details' },
  },
  {
    name: 'rbacbindings_CL',
    source: 'rbacbindings',
    description: 'RoleBindings and ClusterRoleBindings, one row per subject.',
    columns: [
      TIME,
      c('binding_type', 'string', 'RoleBinding | ClusterRoleBinding.'),
      c('binding_name', 'string', 'Binding name.'),
      c('namespace', 'string', 'Binding namespace (empty for ClusterRoleBinding).'),
      c('subject_kind', 'string', 'User | Group | ServiceAccount.'),
      c('subject_name', 'string', 'Subject name.'),
      c('subject_namespace', 'string', 'ServiceAccount namespace (defaulted to the binding namespace for RoleBindings).'),
      c('role_ref_kind', 'string', 'Role | ClusterRole.'),
      c('role_ref_name', 'string', 'Role name.'),
      c('uid', 'string', 'Binding uid.'),
      c('detail', 'string', 'Why a value is defaulted or missing (e.g. subject namespace defaulted; binding without subjects).'),
    ],
    timeline: { eventType: 'RbacBinding', namespace: 'namespace', summary: 'binding_name' },
  },
  {
    name: 'cronjobs_CL',
    source: 'cronjobs',
    description: 'CronJobs, one row per container (init containers too).',
    columns: [
      TIME,
      c('cronjob_name', 'string', 'CronJob name.'),
      c('namespace', 'string', 'Namespace.'),
      c('container_name', 'string', 'Container name.'),
      c('image', 'string', 'Image.'),
      c('command', 'string', 'Command joined with spaces.'),
      c('schedule', 'string', 'Cron schedule.'),
      c('args', 'string', 'Args joined with spaces.'),
      c('container_type', 'string', 'container | init.'),
      c('suspend', 'boolean', 'Suspended.'),
      c('last_schedule_time', 'datetime', 'Last schedule time.'),
      c('service_account', 'string', 'Service account of the job pods.'),
      c('uid', 'string', 'CronJob uid.'),
      c('time_zone', 'string', 'spec.timeZone, empty when the controller time zone applies.'),
      c('command_json', 'string', 'Command as the exact argv (JSON array): joined text loses argument boundaries.'),
      c('args_json', 'string', 'Args as the exact argv (JSON array).'),
    ],
    timeline: { eventType: 'CronJob', namespace: 'namespace', summary: 'command' },
  },
  {
    name: 'networkpolicies_CL',
    source: 'networkpolicies',
    description: 'Network policies, plus one row per namespace without any policy.',
    columns: [
      TIME,
      c('namespace', 'string', 'Namespace.'),
      c('name', 'string', 'Policy name (empty on a no-policy row).'),
      c('pod_selector', 'string', 'Pod selector (JSON).'),
      c('policy_types', 'string', 'Ingress, Egress.'),
      c('ingress_rules', 'string', 'Ingress rule summary.'),
      c('egress_rules', 'string', 'Egress rule summary.'),
      c('no_policy', 'boolean', 'True on the row for a namespace that has no policy.'),
      c('uid', 'string', 'Policy uid.'),
      c('pod_selector_text', 'string', 'Pod selector as text ("app=x,tier in (a,b)"; "*" selects every pod).'),
    ],
    timeline: { eventType: 'NetworkPolicy', namespace: 'namespace', summary: 'name' },
  },
];

/**
 * Every table. Modules that add tables (findings, snapshot, audit) export their
 * TableDefinition(s) from their own file and are spread in here: one import, one line.
 */
export const TABLES: readonly TableDefinition[] = [...KUBEFORENSYS_TABLES, ...AUDIT_TABLES, ...FINDINGS_TABLES, ...SNAPSHOT_TABLES];

const byName = new Map(TABLES.map((t) => [t.name, t] as const));
if (byName.size !== TABLES.length) throw new Error('a table is declared twice in the registry');

export function allTables(): readonly TableDefinition[] {
  return TABLES;
}

export function getTable(name: string): TableDefinition {
  const t = byName.get(name);
  if (!t) throw new Error(`unknown table ${name}; known: ${[...byName.keys()].join(', ')}`);
  return t;
}

export function tableForSource(source: string): TableDefinition | undefined {
  return TABLES.find((t) => t.source === source);
}

/** Source columns followed by the link columns: what the DCR stream declares. */
export function streamColumns(table: TableDefinition): ColumnDefinition[] {
  return [...table.columns, ...LINK_COLUMNS];
}

/** DCR input stream name for a table. */
export function streamName(table: TableDefinition | string): string {
  return `Custom-${typeof table === 'string' ? table : table.name}`;
}
