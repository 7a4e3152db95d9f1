/**
 * Hunting queries over the evidence tables (the Hunting blade's time range applies to
 * TimeGenerated). Each reads its tables through evidence(), one row per RecordId.
 */
import { accountEntity, clusterEntity, evidence, ipEntity, NOT_THE_COLLECTOR } from './evidenceKql.js';
import type { HuntingQuery } from './types.js';

export const HUNTING_QUERIES: readonly HuntingQuery[] = [
  {
    id: '32b056ad-d4dd-4882-bdca-6deed7549c79',
    name: 'AKS evidence: exec and attach into pods, not by the collector',
    description:
      "Every exec, attach and port-forward request in the exported Kubernetes audit logs, with the command, who sent it and from where. The collector's own shell-history reads (user agent aks-evidence/…) are left out: they are recorded in each run's manifest.",
    tactics: ['Execution', 'LateralMovement'],
    relevantTechniques: ['T1609', 'T1021'],
    query: [
      evidence('auditevents_CL'),
      '| where object_resource == "pods" and subresource in ("exec", "attach", "portforward")',
      NOT_THE_COLLECTOR,
      '| project TimeGenerated, ClusterResourceId, User = user, Namespace = namespace, Pod = pod_name, Subresource = subresource, Command = exec_command, ResponseCode = response_code, SourceIp = tostring(split(source_ips, ",")[0]), UserAgent = user_agent, RunId, EvidencePath',
      '| order by TimeGenerated asc',
    ].join('\n'),
    entityMappings: [
      accountEntity('User'),
      ipEntity('SourceIp'),
      clusterEntity,
    ],
    version: '1.0.0',
  },
  {
    id: '17ba0bca-98c4-4db6-b141-7be255d725c7',
    name: 'AKS evidence: who read Secrets, and how many',
    description: 'Secret get/list/watch requests in the exported audit logs per identity and namespace, with the answers: a service account listing Secrets cluster-wide, or reading them in namespaces it does not run in, stands out.',
    tactics: ['CredentialAccess', 'Discovery'],
    relevantTechniques: ['T1552.007', 'T1613'],
    query: [
      evidence('auditevents_CL'),
      '| where object_resource == "secrets" and verb in ("get", "list", "watch")',
      NOT_THE_COLLECTOR,
      '| summarize Requests = count(), Allowed = countif(response_code < 400), Denied = countif(response_code >= 400), Namespaces = make_set(iff(isempty(namespace), "(all namespaces)", namespace), 20), Verbs = make_set(verb), First = min(TimeGenerated), Last = max(TimeGenerated), SourceIp = take_any(tostring(split(source_ips, ",")[0]))',
      '    by ClusterResourceId, User = user',
      '| order by Allowed desc, Requests desc',
    ].join('\n'),
    entityMappings: [
      accountEntity('User'),
      ipEntity('SourceIp'),
      clusterEntity,
    ],
    version: '1.0.0',
  },
  {
    id: '9961ba86-e62e-49ff-8d24-f5acfe046fed',
    name: 'AKS evidence: anonymous requests the API server answered',
    description: 'Requests by system:anonymous (or with the system:unauthenticated group) that did not fail: on a cluster with anonymous access bound to a role, this is the attacker working without credentials.',
    tactics: ['InitialAccess', 'Discovery'],
    relevantTechniques: ['T1078.001', 'T1190'],
    query: [
      evidence('auditevents_CL'),
      '| where user == "system:anonymous" or groups has "system:unauthenticated"',
      '| where response_code between (200 .. 399)',
      '| summarize Requests = count(), First = min(TimeGenerated), Last = max(TimeGenerated), Examples = make_set(strcat(verb, " ", request_uri), 20) by ClusterResourceId, SourceIp = tostring(split(source_ips, ",")[0]), UserAgent = user_agent',
      '| order by Requests desc',
    ].join('\n'),
    entityMappings: [ipEntity('SourceIp'), clusterEntity],
    version: '1.0.0',
  },
  {
    id: 'a8ad725b-2072-49e6-ac72-b4bbf5567192',
    name: 'AKS evidence: powerful service accounts that running workloads use',
    description: 'Service accounts that RBAC lets read Secrets, exec into pods, create workloads or bind roles, together with the workloads running as them and the path that grants each capability: the credentials an attacker in those pods already holds.',
    tactics: ['PrivilegeEscalation', 'CredentialAccess'],
    relevantTechniques: ['T1078.004', 'T1528'],
    query: [
      evidence('rbacfindings_CL'),
      '| where subject_kind == "ServiceAccount" and expected == false and severity in ("critical", "high") and workload_count > 0',
      '| summarize Capabilities = make_set(rule_id), GrantPaths = make_set(grant_path, 20), Workloads = take_any(workloads), WorkloadCount = max(workload_count)',
      '    by ClusterResourceId, RunId, ServiceAccount = strcat(subject_namespace, "/", subject_name)',
      '| join kind=leftouter (',
      `    ${evidence('serviceaccounts_CL')}`,
      '    | project RunId, ServiceAccount = strcat(namespace, "/", name), AutomountToken = automount_service_account_token, WorkloadIdentityClientId = workload_identity_client_id',
      '  ) on RunId, ServiceAccount',
      '| project-away RunId1, ServiceAccount1',
      '| order by array_length(Capabilities) desc',
    ].join('\n'),
    entityMappings: [accountEntity('ServiceAccount'), clusterEntity],
    version: '1.0.0',
  },
  {
    id: '4a3e7ea3-f6cc-450b-907e-a9b9069eed1d',
    name: 'AKS evidence: container log lines that download, decode or open a shell',
    description: 'Container log lines with download-and-execute, base64 decoding into a shell, reverse-shell or miner patterns: what an exploited application or an attacker-run process printed before the pod was recycled.',
    tactics: ['Execution', 'CommandAndControl', 'Impact'],
    relevantTechniques: ['T1059.004', 'T1105', 'T1496'],
    query: [
      evidence('kubelogs_CL'),
      '| where message matches regex @"(?i)((curl|wget)[^|;]*\\|\\s*(ba|da|z)?sh\\b|base64\\s+(-d|--decode)[^|]*\\|\\s*(ba|da)?sh|/dev/tcp/|\\bnc\\s+(-e|-c)\\b|bash\\s+-i\\s*>&|stratum\\+tcp://|xmrig)"',
      '| project TimeGenerated, ClusterResourceId, Namespace = namespace, Pod = pod_name, Container = container_name, Image = image, Previous = previous, Message = message, RunId, EvidencePath',
      '| order by TimeGenerated asc',
    ].join('\n'),
    entityMappings: [{ entityType: 'Process', fieldMappings: [{ identifier: 'CommandLine', columnName: 'Message' }] }, clusterEntity],
    version: '1.0.0',
  },
  {
    id: '23404615-2ee0-4822-91e6-b7f646f16424',
    name: 'AKS evidence: shell commands seen in only one container',
    description: 'Shell history lines that appear in a single container across every collected cluster: a fleet runs the same maintenance commands everywhere, an intruder does not.',
    tactics: ['Execution', 'Discovery'],
    relevantTechniques: ['T1059.004', 'T1613'],
    query: [
      evidence('commandhistory_CL'),
      '| extend Container = strcat(ClusterResourceId, "|", namespace, "/", pod_name, "/", container_name)',
      '| summarize Containers = dcount(Container), Where = take_any(Container), When = min(coalesce(command_time, TimeGenerated)), Users = make_set(user) by command',
      '| where Containers == 1',
      '| extend ClusterResourceId = tostring(split(Where, "|")[0]), Location = tostring(split(Where, "|")[1])',
      '| project When, Command = command, ClusterResourceId, Location, Users',
      '| order by When asc',
    ].join('\n'),
    entityMappings: [{ entityType: 'Process', fieldMappings: [{ identifier: 'CommandLine', columnName: 'Command' }] }, clusterEntity],
    version: '1.0.0',
  },
];
