import type { Gap } from '../../evidence/types.js';
import { workloadRefs } from '../../findings/podTemplates.js';
import { analyzeRbac } from '../../findings/rbac.js';
import { RBAC_FINDINGS_TABLE, rbacFindingRow } from '../../findings/tables.js';
import type { K8sObject, WorkloadRef } from '../../findings/types.js';
import { toRfc3339 } from '../../util/time.js';
import { countBySeverity, listAllTypes, notesCoverage, type TypeListing } from '../common/listTypes.js';
import { namespaceSelected } from '../common/namespaces.js';
import { clusterRead, kubeAccess, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { WORKLOAD_LISTINGS, workloadReadPermissions } from '../common/workloadListings.js';
import { appendAll } from '../../util/arrays.js';

/**
 * RBAC findings as a collection source: RBAC objects and service accounts listed (paginated,
 * 403 → gap), kept raw as evidence, and analyzed by the same pure analyzer
 * `aks-evidence analyze` runs on files: who can read secrets, exec, create workloads,
 * impersonate, escalate or bind, with the granting path, and the workloads running as risky
 * service accounts (workloads are listed for that and reduced to references; their raw
 * objects are the workloadfindings source's evidence).
 */

const RBAC_SOURCE = 'rbacfindings';

const RBAC_LISTINGS: readonly TypeListing[] = [
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'clusterroles', namespaced: false },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'clusterrolebindings', namespaced: false },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'roles', namespaced: true },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'rolebindings', namespaced: true },
  { groupVersionPath: '/api/v1', resource: 'serviceaccounts', namespaced: true },
];

async function* collectRbacFindings(ctx: SourceContext): AsyncGenerator<SourceItem> {
  const unavailable = new Set<string>();
  const objects: K8sObject[] = [];
  let records = 0;
  for await (const item of listAllTypes(ctx, RBAC_SOURCE, RBAC_LISTINGS, unavailable)) {
    if (item.kind !== 'object') {
      yield item;
      continue;
    }
    objects.push(item.object);
    yield { kind: 'raw', object: item.object };
  }
  // Workloads only for "who runs as a risky service account": reduced to references (the raw
  // workload objects are the workloadfindings source's evidence).
  const workloads: WorkloadRef[] = [];
  const workloadUnavailable = new Set<string>();
  for await (const item of listAllTypes(ctx, RBAC_SOURCE, WORKLOAD_LISTINGS, workloadUnavailable)) {
    if (item.kind !== 'object') {
      if (item.kind === 'gap')
        yield { kind: 'gap', gap: { ...item.gap, detail: `${item.gap.detail} (needed to list the workloads running as risky service accounts)` } satisfies Gap };
      else yield item;
      continue;
    }
    appendAll(workloads, workloadRefs([item.object]));
  }
  for (const type of workloadUnavailable) unavailable.add(type);

  const analysis = analyzeRbac(objects, { unavailable: [...unavailable], workloads });
  const collectedAt = toRfc3339(ctx.clock());
  for (const finding of analysis.findings) {
    if (finding.scopeNamespace !== '*' && !namespaceSelected(finding.scopeNamespace, ctx.namespaces)) continue;
    yield { kind: 'row', row: rbacFindingRow(finding, collectedAt) };
    records++;
    ctx.progress?.({ source: RBAC_SOURCE, records });
  }
  yield notesCoverage(
    RBAC_SOURCE,
    {
      findings: analysis.findings.length,
      expected: analysis.findings.filter((f) => f.expected).length,
      bySeverity: countBySeverity(analysis.findings.filter((f) => !f.expected)),
      bindings: analysis.model.bindings.length,
      roles: analysis.model.roles.size,
      clusterRoles: analysis.model.clusterRoles.size,
    },
    analysis.notes,
    unavailable,
  );
}

export const rbacFindingsSource: SourceDefinition = {
  name: RBAC_SOURCE,
  description:
    'RBAC risk: who can read secrets, exec, create workloads, impersonate, escalate/bind, … with the granting binding → role → rule path, and the workloads running as risky service accounts.',
  tables: [RBAC_FINDINGS_TABLE],
  kubernetesAccess: [
    kubeAccess('list', 'clusterroles', { group: 'rbac.authorization.k8s.io' }),
    kubeAccess('list', 'clusterrolebindings', { group: 'rbac.authorization.k8s.io' }),
    kubeAccess('list', 'roles', { group: 'rbac.authorization.k8s.io' }),
    kubeAccess('list', 'rolebindings', { group: 'rbac.authorization.k8s.io' }),
    kubeAccess('list', 'serviceaccounts'),
  ],
  azurePermissions: [
    ...['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings'].map((r) => clusterRead(`rbac.authorization.k8s.io/${r}`, 'RBAC objects for RBAC findings')),
    clusterRead('serviceaccounts', 'service accounts for RBAC findings'),
    ...workloadReadPermissions('the workloads running as risky service accounts'),
  ],
  collect: collectRbacFindings,
};
