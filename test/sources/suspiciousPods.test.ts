import { suspiciousPodsSource } from '../../shared/sources/suspiciouspods/source.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';
import { collect, context, namespace, pod, startCluster } from './helpers.js';

describe('suspicious pods source', () => {
  test('one consistent row per finding, for every container type, with the pod facts', async () => {
    const objects: KubeObject[] = [
      namespace('default'),
      namespace('kube-system'),
      pod({ namespace: 'default', name: 'clean', containers: [{ name: 'app' }] }),
      pod({
        namespace: 'kube-system',
        name: 'node-shell',
        containers: [{ name: 'shell', securityContext: { privileged: true }, volumeMounts: [{ name: 'host', mountPath: '/host' }] }],
        initContainers: [{ name: 'prep', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }],
        ephemeralContainers: [{ name: 'dbg', securityContext: { allowPrivilegeEscalation: true } }],
        spec: { hostPID: true, serviceAccountName: 'node-admin', volumes: [{ name: 'host', hostPath: { path: '/' } }] },
      }),
    ];
    const { cluster, kc } = await startCluster({ name: 'sus', objects }, { maxPageSize: 1 });
    try {
      const out = await collect(suspiciousPodsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.raws.map((r) => (r.object as KubeObject).metadata.name)).toEqual(['node-shell']);
      const columns = [
        'TimeGenerated',
        'namespace',
        'pod_name',
        'issue_type',
        'details',
        'container_name',
        'container_type',
        'severity',
        'field_path',
        'service_account',
        'node_name',
        'pod_uid',
      ];
      for (const r of out.rows) expect(Object.keys(r)).toEqual(columns);
      expect(out.rows.map((r) => [r['issue_type'], r['container_name'], r['container_type'], r['field_path']])).toEqual([
        ['hostPID', '', '', 'spec.hostPID'],
        ['hostPath', '', '', 'spec.volumes[0].hostPath.path'],
        ['sensitiveHostPath', '', '', 'spec.volumes[0].hostPath.path'],
        ['privileged', 'shell', 'container', 'spec.containers[0].securityContext.privileged'],
        ['capability', 'prep', 'init', 'spec.initContainers[0].securityContext.capabilities.add[0]'],
        ['allowPrivilegeEscalation', 'dbg', 'ephemeral', 'spec.ephemeralContainers[0].securityContext.allowPrivilegeEscalation'],
      ]);
      expect(out.rows[0]).toMatchObject({
        namespace: 'kube-system',
        pod_name: 'node-shell',
        service_account: 'node-admin',
        node_name: 'aks-node-1',
        TimeGenerated: '2026-03-01T09:00:00.000Z',
      });
    } finally {
      await cluster.stop();
    }
  });

  test('403 on pods is a gap', async () => {
    const { cluster, kc } = await startCluster({ name: 'sus', objects: [namespace('a')], forbidden: ['pods'] });
    try {
      const out = await collect(suspiciousPodsSource, context(kc));
      expect(out.gaps).toEqual([expect.objectContaining({ source: 'suspiciouspods', reason: 'forbidden', resource: 'pods' })]);
    } finally {
      await cluster.stop();
    }
  });
});
