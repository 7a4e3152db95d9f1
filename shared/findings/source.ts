import { listResource, type ResourceListing } from '../sources/listResource.js';
import { namespaceSelected } from '../sources/namespaces.js';
import type { SourceContext, SourceDefinition, SourceItem, SourceName } from '../sources/types.js';
import type { Gap } from '../evidence/types.js';
import { toRfc3339 } from '../util/time.js';
import { asKubeObject } from './objects.js';
import { workloadRefs } from './podTemplates.js';
import { analyzeRbac } from './rbac.js';
import { RBAC_FINDINGS_TABLE, WORKLOAD_FINDINGS_TABLE, rbacFindingRow, workloadFindingRow } from './tables.js';
import type { AnalysisNote, K8sObject, Severity, WorkloadRef } from './types.js';
import { analyzeWorkloads, type AnalyzeWorkloadsOptions } from './workloads.js';
import { appendAll } from '../util/arrays.js';

/**
 * The findings as collection sources: each lists what it needs from the API (paginated,
 * 403 → gap), keeps the raw objects it analyzed as evidence, and runs the same pure
 * analyzers `aks-evidence analyze` runs on files. Rows of one source go to one table, so RBAC
 * and workload findings are two sources.
 */

const RBAC_SOURCE: SourceName = 'rbacfindings';
const WORKLOAD_SOURCE: SourceName = 'workloadfindings';

interface Listing {
  groupVersionPath: string;
  resource: string;
  namespaced: boolean;
}

const RBAC_LISTINGS: readonly Listing[] = [
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'clusterroles', namespaced: false },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'clusterrolebindings', namespaced: false },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'roles', namespaced: true },
  { groupVersionPath: '/apis/rbac.authorization.k8s.io/v1', resource: 'rolebindings', namespaced: true },
  { groupVersionPath: '/api/v1', resource: 'serviceaccounts', namespaced: true },
];

const WORKLOAD_LISTINGS: readonly Listing[] = [
  { groupVersionPath: '/api/v1', resource: 'pods', namespaced: true },
  { groupVersionPath: '/api/v1', resource: 'replicationcontrollers', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'deployments', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'daemonsets', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'statefulsets', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'replicasets', namespaced: true },
  { groupVersionPath: '/apis/batch/v1', resource: 'jobs', namespaced: true },
  { groupVersionPath: '/apis/batch/v1', resource: 'cronjobs', namespaced: true },
];

type Listed = { kind: 'object'; object: K8sObject; resource: string } | SourceItem;

/** List each type; gaps pass through and name the types that could not be read. */
async function* listAllTypes(ctx: SourceContext, source: string, listings: readonly Listing[], unavailable: Set<string>): AsyncGenerator<Listed> {
  for (const listing of listings) {
    const spec: ResourceListing = { source, ...listing };
    for await (const item of listResource(ctx, spec)) {
      if (item.kind === 'object') {
        const object = asKubeObject(item.object);
        if (object) yield { kind: 'object', object, resource: listing.resource };
        continue;
      }
      if (item.kind === 'gap') unavailable.add(listing.resource);
      yield item;
    }
  }
}

function notesCoverage(source: string, summary: Record<string, unknown>, notes: readonly AnalysisNote[], unavailable: Set<string>): SourceItem {
  return {
    kind: 'coverage',
    coverage: { [source]: { ...summary, unavailable: [...unavailable].sort(), notes: notes.map((n) => `${n.code}: ${n.message}`) } },
  };
}

function countBySeverity(items: readonly { severity: Severity }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[item.severity] = (counts[item.severity] ?? 0) + 1;
  return counts;
}

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
      if (item.kind === 'gap') yield { kind: 'gap', gap: { ...item.gap, detail: `${item.gap.detail} (needed to list the workloads running as risky service accounts)` } satisfies Gap };
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

/** Options of the workload findings source (the registry allow-list). */
export interface WorkloadFindingsSourceOptions extends AnalyzeWorkloadsOptions {}

export function createWorkloadFindingsSource(options: WorkloadFindingsSourceOptions = {}): SourceDefinition {
  async function* collect(ctx: SourceContext): AsyncGenerator<SourceItem> {
    const unavailable = new Set<string>();
    const collectedAt = toRfc3339(ctx.clock());
    let records = 0;
    const analyzed: Record<string, number> = {};
    const severities: { severity: Severity }[] = [];
    for await (const item of listAllTypes(ctx, WORKLOAD_SOURCE, WORKLOAD_LISTINGS, unavailable)) {
      if (item.kind !== 'object') {
        yield item;
        continue;
      }
      yield { kind: 'raw', object: item.object };
      // One object at a time: memory does not grow with the number of pods.
      const analysis = analyzeWorkloads([item.object], options);
      for (const [kind, n] of Object.entries(analysis.analyzed)) analyzed[kind] = (analyzed[kind] ?? 0) + n;
      for (const finding of analysis.findings) {
        yield { kind: 'row', row: workloadFindingRow(finding, collectedAt) };
        severities.push({ severity: finding.severity });
        records++;
      }
      ctx.progress?.({ source: WORKLOAD_SOURCE, records });
    }
    const notes: AnalysisNote[] = [...unavailable].map((t) => ({ code: 'unavailable-type', message: `${t} could not be read: their findings are missing` }));
    yield notesCoverage(WORKLOAD_SOURCE, { findings: records, bySeverity: countBySeverity(severities), analyzed }, notes, unavailable);
  }
  return {
    name: WORKLOAD_SOURCE,
    table: WORKLOAD_FINDINGS_TABLE.name,
    description: 'Dangerous settings of every workload kind (privileged, host namespaces, hostPath, sockets, capabilities, root, suspicious commands/registries), with field paths.',
    collect,
  };
}

export const rbacFindingsSource: SourceDefinition = {
  name: RBAC_SOURCE,
  table: RBAC_FINDINGS_TABLE.name,
  description: 'RBAC risk: who can read secrets, exec, create workloads, impersonate, escalate/bind, … with the granting binding → role → rule path, and the workloads running as risky service accounts.',
  collect: collectRbacFindings,
};

export const workloadFindingsSource: SourceDefinition = createWorkloadFindingsSource();
