/**
 * The findings sources against the loopback Kubernetes fixture (real wire protocol, driven
 * through the project's KubeApi): pagination, raw objects kept, the same findings as offline,
 * 403 → gap with the analysis saying what it could not see, rows that fit the registry.
 */
import { RBAC_FINDINGS_TABLE, WORKLOAD_FINDINGS_TABLE } from '../../shared/findings/tables.js';
import { rbacFindingsSource } from '../../shared/sources/rbacfindings/source.js';
import { workloadFindingsSource } from '../../shared/sources/workloadfindings/source.js';
import { analyzeRbac } from '../../shared/findings/rbac.js';
import { analyzeWorkloads } from '../../shared/findings/workloads.js';
import type { K8sObject } from '../../shared/findings/types.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { mapRow } from '../../shared/ingestion/rowMapping.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { Scenario } from '../../shared/simulator/kube/scenario.js';
import { collect, context, startCluster, FIXED_NOW } from '../sources/helpers.js';

let scenario: Scenario;
beforeAll(async () => {
  scenario = await loadScenario('compromise', { shift: false });
});

async function withCluster<T>(s: Scenario, options: Parameters<typeof startCluster>[1], fn: (kc: Awaited<ReturnType<typeof startCluster>>['kc']) => Promise<T>): Promise<T> {
  const { cluster, kc } = await startCluster(s, options);
  try {
    return await fn(kc);
  } finally {
    await cluster.stop();
  }
}

const link = { runId: 'r', caseId: 'c', clusterResourceId: 'https://127.0.0.1', evidenceLocation: 'file:///x', artifactPath: 'a', artifactSha256: '0'.repeat(64), lineNumber: 1 };

describe('rbacFindingsSource', () => {
  test('pages through every RBAC type, keeps the raw objects, and finds what the offline analysis finds', async () => {
    const objects = scenario.objects as unknown as K8sObject[];
    const out = await withCluster(scenario, { maxPageSize: 3 }, (kc) => collect(rbacFindingsSource, context(kc)));
    expect(out.gaps).toEqual([]);
    const offline = analyzeRbac(objects).findings;
    expect(out.rows.length).toBe(offline.length);
    expect(out.rows.map((r) => `${r.rule_id}|${r.subject_kind}:${r.subject_name}|${r.binding_name}`).sort()).toEqual(
      offline.map((f) => `${f.ruleId}|${f.subject.kind}:${f.subject.name}|${f.grant.bindingName}`).sort(),
    );

    const anon = out.rows.find((r) => r.rule_id === 'rbac.cluster-admin' && r.subject_name === 'system:anonymous')!;
    expect(anon).toMatchObject({
      severity: 'critical',
      binding_kind: 'ClusterRoleBinding',
      binding_name: 'anonymous-admin',
      role_name: 'cluster-admin',
      scope_namespace: '*',
      expected: false,
      TimeGenerated: '2024-06-01T10:30:00.000Z',
      grant_path: 'ClusterRoleBinding anonymous-admin → ClusterRole cluster-admin → rule 0',
    });
    const agent = out.rows.find((r) => r.rule_id === 'rbac.secrets-read' && r.subject_name === 'node-agent')!;
    expect(JSON.parse(String(agent.workloads))).toEqual(expect.arrayContaining(['DaemonSet kube-sys-tools/node-agent (node-agent)']));

    const rawKinds = out.raws.map((r) => (r.object as { kind: string }).kind);
    const expectedRaw = objects.filter((o) => ['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'ServiceAccount'].includes(o.kind));
    expect(rawKinds.length).toBe(expectedRaw.length);
    // More requests than types: the lists were paginated (3 per page).
    expect(out.requests).toBeGreaterThan(13);
    expect(out.coverage[0]).toMatchObject({ rbacfindings: { unavailable: [], findings: offline.length } });

    // Every row maps onto its registered table with no unknown column.
    expect(SOURCES.tables.get('rbacfindings_CL')).toBe(RBAC_FINDINGS_TABLE);
    for (const row of out.rows) mapRow(RBAC_FINDINGS_TABLE, row, link, { unknownColumns: 'error' });
  });

  test('403 on clusterroles: a forbidden gap, the analysis says what it could not see, no invented findings', async () => {
    const out = await withCluster({ ...scenario, forbidden: ['clusterroles'] }, {}, (kc) => collect(rbacFindingsSource, context(kc)));
    expect(out.gaps).toEqual([expect.objectContaining({ source: 'rbacfindings', reason: 'forbidden', resource: 'clusterroles' })]);
    const coverage = out.coverage.find((c) => 'rbacfindings' in c)!.rbacfindings as { unavailable: string[]; notes: string[] };
    expect(coverage.unavailable).toEqual(['clusterroles']);
    expect(coverage.notes.some((n) => n.startsWith('unavailable-type: clusterroles'))).toBe(true);
    expect(coverage.notes.some((n) => n.includes('ClusterRoleBinding anonymous-admin refers to ClusterRole cluster-admin, which is not in the input'))).toBe(true);
    // Bindings to ClusterRoles cannot be resolved, and are not reported as dangling either.
    expect(out.rows.filter((r) => r.role_kind === 'ClusterRole')).toEqual([]);
  });

  test('a namespace filter keeps cluster-wide findings and those of the selected namespaces', async () => {
    const [prod, dev] = await withCluster(scenario, {}, async (kc) => [
      await collect(rbacFindingsSource, context(kc, { namespaces: { include: ['prod'] } })),
      await collect(rbacFindingsSource, context(kc, { namespaces: { include: ['dev'] } })),
    ]);
    // prod has no risky namespaced grant; dev's toolbox-edit appears only when dev is selected.
    expect(new Set(prod.rows.map((r) => r.scope_namespace))).toEqual(new Set(['*']));
    expect(prod.rows.some((r) => r.subject_name === 'toolbox')).toBe(false);
    expect(new Set(dev.rows.map((r) => r.scope_namespace))).toEqual(new Set(['*', 'dev']));
    expect(dev.rows.some((r) => r.subject_name === 'toolbox' && r.scope_namespace === 'dev')).toBe(true);
    expect(prod.rows.some((r) => r.subject_name === 'system:anonymous')).toBe(true);
  });
});

describe('workloadFindingsSource', () => {
  test('every workload kind listed and analyzed one by one; rows equal the offline analysis', async () => {
    const objects = scenario.objects as unknown as K8sObject[];
    const out = await withCluster(scenario, { maxPageSize: 4 }, (kc) => collect(workloadFindingsSource, context(kc)));
    expect(out.gaps).toEqual([]);
    const offline = analyzeWorkloads(objects).findings;
    expect(out.rows.length).toBe(offline.length);
    const key = (r: { rule_id?: unknown; kind?: unknown; namespace?: unknown; name?: unknown; field_path?: unknown }) =>
      `${r.rule_id}|${r.kind}|${r.namespace}/${r.name}|${r.field_path}`;
    expect(out.rows.map(key).sort()).toEqual(offline.map((f) => key({ rule_id: f.ruleId, kind: f.kind, namespace: f.namespace, name: f.name, field_path: f.fieldPath })).sort());
    const privileged = out.rows.find((r) => r.rule_id === 'workload.privileged' && r.name === 'node-agent-x9z8y')!;
    expect(privileged).toMatchObject({
      kind: 'Pod',
      namespace: 'kube-sys-tools',
      container_name: 'agent',
      container_type: 'container',
      field_path: 'spec.containers[0].securityContext.privileged',
      service_account: 'node-agent',
      TimeGenerated: '2024-06-01T10:40:35.000Z',
    });
    const workloadKinds = ['Pod', 'Deployment', 'DaemonSet', 'StatefulSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController'];
    expect(out.raws.length).toBe(objects.filter((o) => workloadKinds.includes(o.kind)).length);
    for (const row of out.rows) mapRow(WORKLOAD_FINDINGS_TABLE, row, link, { unknownColumns: 'error' });
  });

  test('403 on pods: a gap, the other kinds still analyzed', async () => {
    const out = await withCluster({ ...scenario, forbidden: ['pods'] }, {}, (kc) => collect(workloadFindingsSource, context(kc, { clock: () => FIXED_NOW })));
    expect(out.gaps).toEqual([expect.objectContaining({ source: 'workloadfindings', reason: 'forbidden', resource: 'pods' })]);
    expect(out.rows.some((r) => r.kind === 'Pod')).toBe(false);
    expect(out.rows.some((r) => r.kind === 'DaemonSet' && r.rule_id === 'workload.privileged')).toBe(true);
    expect(out.coverage.find((c) => 'workloadfindings' in c)).toMatchObject({ workloadfindings: { unavailable: ['pods'] } });
  });
});
