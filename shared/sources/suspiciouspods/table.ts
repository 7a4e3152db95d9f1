import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const SUSPICIOUS_PODS_TABLE: TableDefinition = {
  name: 'suspiciouspods_CL',
  source: 'suspiciouspods',
  description: 'Pods with dangerous settings, one row per finding.',
  columns: [
    timeGenerated(),
    c('namespace', 'string', 'Namespace.'),
    c('pod_name', 'string', 'Pod name.'),
    c(
      'issue_type',
      'string',
      'Finding: hostNetwork, privileged, hostPath, hostPath (creation-capable), hostPID, hostIPC, allowPrivilegeEscalation, capability, runtimeSocket, sensitiveHostPath.',
    ),
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
};
