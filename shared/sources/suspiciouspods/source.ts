import { toRfc3339 } from '../../util/time.js';
import { analyzePodSpec, type PodSpecFinding } from '../../findings/podSecurity.js';
import { iteratePods } from '../common/pods.js';
import { firstTime, obj, str } from '../../util/values.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { SUSPICIOUS_PODS_TABLE } from './table.js';

/**
 * Pods with dangerous settings, one row per finding, one column set (suspiciouspods_CL).
 * The checks are analyzePodSpec's (podSecurity.ts); every pod of the run is examined, and
 * the raw object of each pod with a finding is kept beside the rows.
 */

export function suspiciousPodRows(pod: Record<string, unknown>, findings: PodSpecFinding[], collectedAt: string): Row[] {
  const metadata = obj(pod.metadata);
  const spec = obj(pod.spec);
  const base = {
    TimeGenerated: firstTime(metadata.creationTimestamp) ?? collectedAt,
    namespace: str(metadata.namespace),
    pod_name: str(metadata.name),
    service_account: str(spec.serviceAccountName) || str(spec.serviceAccount) || 'default',
    node_name: str(spec.nodeName),
    pod_uid: str(metadata.uid),
  };
  return findings.map((f) => ({
    TimeGenerated: base.TimeGenerated,
    namespace: base.namespace,
    pod_name: base.pod_name,
    issue_type: f.issue_type,
    details: f.details,
    container_name: f.container_name,
    container_type: f.container_type,
    severity: f.severity,
    field_path: f.field_path,
    service_account: base.service_account,
    node_name: base.node_name,
    pod_uid: base.pod_uid,
  }));
}

async function* collectSuspiciousPods(ctx: SourceContext): AsyncGenerator<SourceItem> {
  for await (const event of iteratePods(ctx, 'suspiciouspods', { sharded: false })) {
    if (event.kind !== 'object') {
      yield event;
      continue;
    }
    const pod = event.object;
    const findings = analyzePodSpec(pod.spec, { objectPathPrefix: 'spec' });
    if (findings.length === 0) continue;
    yield { kind: 'raw', object: pod };
    for (const row of suspiciousPodRows(pod, findings, toRfc3339(ctx.clock()))) yield { kind: 'row', row };
  }
}

export const suspiciousPodsSource: SourceDefinition = {
  name: 'suspiciouspods',
  description:
    'Pods with hostNetwork/hostPID/hostIPC, privileged or escalating containers, dangerous capabilities, hostPath, runtime-socket or sensitive host mounts (init and ephemeral containers too).',
  tables: [SUSPICIOUS_PODS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'pods')],
  azurePermissions: [clusterRead('pods', 'list pods')],
  collect: collectSuspiciousPods,
};
