/**
 * Scheduled analytic rules over the evidence tables: when a collection brings in evidence of
 * a takeover (an anonymous cluster-admin grant, a pod mounting the host, a shell history
 * escaping to the node, a download-and-run CronJob, a high-severity audit detection), Sentinel
 * raises an alert tied to the run, the cluster and the evidence artifact.
 *
 * Evidence rows carry the time of what they describe (a binding made a month ago), and Log
 * Analytics keeps a TimeGenerated up to two days old: so the rules look back 3 days on
 * TimeGenerated and alert on what was first ingested since their previous run (every 1 h),
 * one row per RecordId — a re-sent row never alerts twice.
 */
import { accountEntity, clusterEntity, evidence, ipEntity } from './evidenceKql.js';
import type { AnalyticRule } from './types.js';

const FRESH = `| where Ingested > ago(1h)`;
const first = (table: string): string => `${evidence(table, { keep: 'first-ingested' })}\n${FRESH}`;

export const ANALYTIC_RULES: readonly AnalyticRule[] = [
  {
    id: '09a43568-777f-474d-a923-4dc318247b11',
    name: 'AKS evidence: cluster access granted to anonymous or all authenticated users',
    description:
      'A collection found an RBAC binding that grants a dangerous capability (up to cluster-admin) to system:anonymous, system:unauthenticated or system:authenticated: anyone who reaches the API server holds it. The grant path (binding → role → rule) and the evidence artifact are in the alert.',
    severity: 'High',
    queryFrequency: '1h',
    queryPeriod: '3d',
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: ['PrivilegeEscalation', 'Persistence', 'InitialAccess'],
    relevantTechniques: ['T1078.001', 'T1098'],
    query: [
      first('rbacfindings_CL'),
      '| where expected == false and severity in ("critical", "high")',
      '| where rule_id == "rbac.public-binding" or subject_name in ("system:anonymous", "system:unauthenticated", "system:authenticated")',
      '| summarize Rules = make_set(rule_id, 20), GrantPaths = make_set(grant_path, 20), BindingCreated = min(TimeGenerated), Severity = max(iff(severity == "critical", 2, 1))',
      '    by RunId, CaseId, ClusterResourceId, SubjectKind = subject_kind, SubjectName = subject_name, Binding = strcat(binding_kind, "/", binding_name), EvidencePath, EvidenceSha256',
      '| extend Rules = tostring(Rules), GrantPaths = tostring(GrantPaths)',
    ].join('\n'),
    entityMappings: [accountEntity('SubjectName'), clusterEntity],
    customDetails: { RunId: 'RunId', CaseId: 'CaseId', Binding: 'Binding', GrantPaths: 'GrantPaths', EvidencePath: 'EvidencePath', EvidenceSha256: 'EvidenceSha256' },
    alertDetailsOverride: {
      alertDisplayNameFormat: 'AKS evidence: {{Binding}} grants cluster access to {{SubjectName}}',
      alertDescriptionFormat: 'Run {{RunId}} (case {{CaseId}}) found {{Binding}} granting {{Rules}} to {{SubjectKind}} {{SubjectName}}: {{GrantPaths}}',
    },
    version: '1.0.0',
  },
  {
    id: '75c761bf-699b-4291-8e45-6808973ee6b9',
    name: 'AKS evidence: workload with host-level access',
    description:
      'A collection found a workload that is privileged, shares the node PID namespace, mounts the container runtime socket or a sensitive host path, or adds a dangerous capability: from it, the node and every container on it are one step away.',
    severity: 'High',
    queryFrequency: '1h',
    queryPeriod: '3d',
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: ['PrivilegeEscalation', 'DefenseEvasion'],
    relevantTechniques: ['T1611', 'T1610'],
    query: [
      first('workloadfindings_CL'),
      '| where severity in ("critical", "high")',
      '| where rule_id in ("workload.privileged", "workload.host-pid", "workload.host-ipc", "workload.runtime-socket", "workload.sensitive-host-path", "workload.host-path-creation", "workload.dangerous-capability")',
      '| summarize Settings = make_set(strcat(rule_id, " at ", field_path), 30), Created = min(TimeGenerated)',
      '    by RunId, CaseId, ClusterResourceId, Workload = strcat(kind, " ", namespace, "/", name), Namespace = namespace, ServiceAccount = service_account, EvidencePath, EvidenceSha256',
      '| extend Settings = tostring(Settings)',
    ].join('\n'),
    entityMappings: [accountEntity('ServiceAccount'), clusterEntity],
    customDetails: { RunId: 'RunId', Workload: 'Workload', Settings: 'Settings', EvidencePath: 'EvidencePath', EvidenceSha256: 'EvidenceSha256' },
    alertDetailsOverride: {
      alertDisplayNameFormat: 'AKS evidence: {{Workload}} has host-level access',
      alertDescriptionFormat: 'Run {{RunId}} (case {{CaseId}}) found {{Workload}} with {{Settings}}',
    },
    version: '1.0.0',
  },
  {
    id: '3c04f84b-7411-4f1f-bb89-403afb7af8f6',
    name: 'AKS evidence: shell history shows a container escape or credential theft',
    description:
      "A shell history collected from a container holds commands that enter the node (nsenter, chroot into a host mount), drive the container runtime (crictl, ctr, docker.sock), read node or cloud credentials (azure.json, the instance metadata service, /proc/1/environ) or pipe a download into a shell. Histories are read by the collector's own recorded exec; the commands are the container user's.",
    severity: 'High',
    queryFrequency: '1h',
    queryPeriod: '3d',
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: ['PrivilegeEscalation', 'CredentialAccess', 'Execution'],
    relevantTechniques: ['T1611', 'T1552.005', 'T1059.004'],
    query: [
      first('commandhistory_CL'),
      '| where command matches regex @"(?i)(\\bnsenter\\b|\\bchroot\\s+/host|\\bcrictl\\b|\\bctr\\s|docker\\.sock|containerd\\.sock|/etc/kubernetes/azure\\.json|169\\.254\\.169\\.254|/proc/1/(environ|root)|(curl|wget)[^|;]*\\|\\s*(ba|da|z)?sh\\b)"',
      '| summarize Commands = make_list(command, 30), FirstCommand = min(coalesce(command_time, TimeGenerated)), LastCommand = max(coalesce(command_time, TimeGenerated))',
      '    by RunId, CaseId, ClusterResourceId, Namespace = namespace, Pod = pod_name, Container = container_name, HistoryUser = user, EvidencePath, EvidenceSha256',
      '| extend Commands = tostring(Commands)',
    ].join('\n'),
    entityMappings: [accountEntity('HistoryUser'), clusterEntity],
    customDetails: { RunId: 'RunId', Pod: 'Pod', Container: 'Container', Commands: 'Commands', EvidencePath: 'EvidencePath' },
    alertDetailsOverride: {
      alertDisplayNameFormat: 'AKS evidence: escape or credential commands in {{Namespace}}/{{Pod}}',
      alertDescriptionFormat: 'Run {{RunId}} (case {{CaseId}}) read a shell history of {{Namespace}}/{{Pod}} ({{Container}}) with: {{Commands}}',
    },
    version: '1.0.0',
  },
  {
    id: '003a13af-b2cc-4b09-a032-a318ca6ba97e',
    name: 'AKS evidence: CronJob downloads and runs a script',
    description: 'A collection found a CronJob whose command or arguments pipe a download (curl, wget) into a shell: a persistence mechanism that re-infects the cluster on a schedule.',
    severity: 'High',
    queryFrequency: '1h',
    queryPeriod: '3d',
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: ['Persistence', 'Execution'],
    relevantTechniques: ['T1053.007', 'T1105'],
    query: [
      first('cronjobs_CL'),
      '| extend CommandLine = strcat(command, " ", args)',
      '| where CommandLine matches regex @"(?i)(curl|wget)[^|;]*\\|\\s*(ba|da|z)?sh\\b"',
      '| summarize CommandLines = make_set(CommandLine, 10), Images = make_set(image, 10)',
      '    by RunId, CaseId, ClusterResourceId, CronJob = strcat(namespace, "/", cronjob_name), Schedule = schedule, ServiceAccount = service_account, EvidencePath, EvidenceSha256',
      '| extend CommandLines = tostring(CommandLines), Images = tostring(Images)',
    ].join('\n'),
    entityMappings: [{ entityType: 'Process', fieldMappings: [{ identifier: 'CommandLine', columnName: 'CommandLines' }] }, clusterEntity],
    customDetails: { RunId: 'RunId', CronJob: 'CronJob', Schedule: 'Schedule', Images: 'Images', EvidencePath: 'EvidencePath' },
    alertDetailsOverride: {
      alertDisplayNameFormat: 'AKS evidence: CronJob {{CronJob}} downloads and runs a script',
      alertDescriptionFormat: 'Run {{RunId}} (case {{CaseId}}) found CronJob {{CronJob}} ({{Schedule}}) running {{CommandLines}}',
    },
    version: '1.0.0',
  },
  {
    id: '6a192af1-e185-4d0c-adb7-1033710faeb4',
    name: 'AKS evidence: high-severity detections in the Kubernetes audit log',
    description:
      "The audit log a collection exported (kept raw in the evidence bundle) was labelled by aks-evidence's detection rules with high or critical findings: anonymous requests that succeeded, bindings to powerful roles, impersonation, exec into pods, privileged pods, event deletion. One alert per rule and user per run.",
    severity: 'Medium',
    queryFrequency: '1h',
    queryPeriod: '3d',
    triggerOperator: 'gt',
    triggerThreshold: 0,
    tactics: ['PrivilegeEscalation', 'Persistence', 'Execution', 'DefenseEvasion'],
    relevantTechniques: ['T1078', 'T1098', 'T1609', 'T1070'],
    query: [
      first('auditfindings_CL'),
      '| where severity in ("critical", "high")',
      '| summarize Requests = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated), Targets = make_set(strcat(verb, " ", object_resource, iff(isempty(subresource), "", strcat("/", subresource)), " ", namespace, "/", name), 20), SourceIp = take_any(source_ip)',
      '    by RunId, CaseId, ClusterResourceId, Rule = rule_id, Title = rule_title, Severity = severity, User = user, EvidencePath, EvidenceSha256',
      '| extend Targets = tostring(Targets)',
    ].join('\n'),
    entityMappings: [
      accountEntity('User'),
      ipEntity('SourceIp'),
      clusterEntity,
    ],
    customDetails: { RunId: 'RunId', Rule: 'Rule', Targets: 'Targets', Requests: 'Requests', EvidencePath: 'EvidencePath' },
    alertDetailsOverride: {
      alertDisplayNameFormat: 'AKS evidence: {{Title}} by {{User}}',
      alertDescriptionFormat: 'Run {{RunId}} (case {{CaseId}}): {{Requests}} request(s) by {{User}} labelled {{Rule}} ({{Severity}}): {{Targets}}',
    },
    version: '1.0.0',
  },
];
