import type { IncidentResolutionRecord, IncidentResolutionStep } from '../../evidence/types.js';
import type { NodeResourceGroupResolver } from '../../cluster/nodeResourceGroup.js';
import { describeError } from '../../util/errors.js';
import { clusterKey, findManagedClusterId, type ClusterRef } from '../../cluster/clusterRef.js';
import { PROBLEM_TYPES, type ProblemDetails } from '../problem.js';
import { isNamespacedPod } from '../schema.js';
import type { IncidentClusterTarget, ParsedSentinelIncident } from '../sentinel.js';
import { alertFromRest, alertFromSecurityAlertRow, mergeAlerts, type IncidentAlert } from './alerts.js';
import type { IncidentLogsReader } from './alertLogs.js';
import {
  aksNodeNameOf,
  aksNodeNameOfVmssVm,
  clusterOfEntity,
  isObject,
  namespaceOf,
  nodeResourceIdsOf,
  podKeyOf,
  prop,
  readEntityList,
  resourceGroupOf,
  str,
  type EntityView,
  type Json,
} from './entities.js';
import type { SentinelIncidentReader } from './sentinelApi.js';

/**
 * A Sentinel incident → the AKS clusters to collect, and the namespaces, pods and nodes in
 * each to collect first. Sentinel itself is asked (the trigger body lacks the alerts' own
 * entities), then every way to the cluster is tried in order, and each read and each way is
 * recorded with what it found:
 *
 *   1. azure-resource-entities     AzureResource entities naming a managed cluster (or a sub-resource of one)
 *   2. alert-resource-identifiers  the alerts' resourceIdentifiers and SecurityAlert.ResourceId
 *   3. k8s-cluster-entities        K8s-cluster / -namespace / -pod / container entities, through their $ref chain to CloudResource
 *   4. scheduled-alert-rows        the _ResourceId of the rows behind a scheduled-rule alert (its query re-run for its window)
 *   5. node-resource-group         a scale set / VM in a node resource group, mapped to its cluster through ARM
 *   6. default-clusters            the deployment's configured list, when nothing else named a cluster
 *
 * Ways 4 and 5 run per alert, only for alerts the earlier ways left without a cluster (they
 * cost a query or an ARM list); 6 only when no way found any cluster.
 */

export interface IncidentReaders {
  /** SecurityInsights: the incident's alerts and entities (Microsoft Sentinel Reader). */
  sentinel?: SentinelIncidentReader;
  /** Log Analytics: SecurityAlert rows and the rows behind scheduled alerts. */
  logs?: IncidentLogsReader;
  /** ARM: node resource group → cluster. */
  nodeResourceGroups?: NodeResourceGroupResolver;
  /** Clusters collected when the incident leads to none (app setting AKS_EVIDENCE_DEFAULT_CLUSTERS). */
  defaultClusters?: readonly ClusterRef[];
}

export interface ResolveIncidentOptions {
  readers?: IncidentReaders;
  /** All reads together, in ms (default 60,000: the playbook's HTTP action gives up after 120 s). */
  timeBudgetInMs?: number;
  /** One read, in ms (default 20,000). */
  callTimeoutInMs?: number;
  abortSignal?: AbortSignal;
  /** Now (tests). */
  now?: Date;
}

export interface IncidentResolution {
  targets: IncidentClusterTarget[];
  record: IncidentResolutionRecord;
}

export const WAYS = ['azure-resource-entities', 'alert-resource-identifiers', 'k8s-cluster-entities', 'scheduled-alert-rows', 'node-resource-group', 'default-clusters'] as const;
export type ClusterWay = (typeof WAYS)[number];

const MAX_DETAIL = 400;
const MAX_STEP_CLUSTERS = 10;
/** Targets taken from rows behind one alert, at most. */
const MAX_ROW_TARGETS = 50;
/** Node resource groups mapped per incident, at most (each is an ARM list). */
const MAX_NODE_GROUPS = 5;
/** Alerts whose query is re-run per incident, at most. */
const MAX_RERUNS = 10;

function step(name: string, outcome: IncidentResolutionStep['outcome'], detail: string, clusters?: Iterable<ClusterRef>): IncidentResolutionStep {
  const ids = clusters ? [...new Set([...clusters].map((c) => c.resourceId))].slice(0, MAX_STEP_CLUSTERS) : [];
  // eslint-disable-next-line no-control-regex -- a step's detail goes into a one-line log and the incident comment: control characters become spaces
  return { step: name, outcome, detail: detail.replace(/[\u0000-\u001f]/g, ' ').slice(0, MAX_DETAIL), ...(ids.length ? { clusters: ids } : {}) };
}

/** A read or query that failed, described without anything the SDK keeps about the request. */
function failure(error: unknown, fix: string): string {
  const status = (error as { statusCode?: unknown })?.statusCode;
  const name = (error as { name?: unknown })?.name;
  const what = name === 'AbortError' || name === 'TimeoutError' ? 'no answer within the time budget' : describeError(error).split('\n')[0]!.slice(0, 200);
  return `${typeof status === 'number' ? `HTTP ${status}: ` : ''}${what}${status === 401 || status === 403 ? `; ${fix}` : ''}`;
}

class Targets {
  private readonly byKey = new Map<string, IncidentClusterTarget & { ways: Set<ClusterWay> }>();
  add(ref: ClusterRef, way: ClusterWay, where: string): void {
    const key = clusterKey(ref);
    let t = this.byKey.get(key);
    if (!t) {
      t = { cluster: ref, foundIn: [], namespaces: [], priorityPods: [], priorityNodes: [], ways: new Set() };
      this.byKey.set(key, t);
    }
    t.ways.add(way);
    const entry = `${where} (${way})`;
    if (t.foundIn.length < 20 && !t.foundIn.includes(entry)) t.foundIn.push(entry);
  }
  get size(): number {
    return this.byKey.size;
  }
  get(ref: ClusterRef): IncidentClusterTarget | undefined {
    return this.byKey.get(clusterKey(ref));
  }
  all(): IncidentClusterTarget[] {
    return [...this.byKey.values()].map(({ ways: _ways, ...t }) => t);
  }
  values(): IncidentClusterTarget[] {
    return [...this.byKey.values()];
  }
}

function addTarget(list: string[], value: string, max: number): void {
  if (list.length < max && !list.includes(value)) list.push(value);
}

/** Cluster ids and Kubernetes targets in the rows behind an alert. */
function scanAlertRows(rows: Json[]): { clusters: ClusterRef[]; pods: string[]; namespaces: string[] } {
  const clusters = new Map<string, ClusterRef>();
  const pods: string[] = [];
  const namespaces: string[] = [];
  for (const row of rows) {
    for (const [column, value] of Object.entries(row)) {
      if (typeof value === 'string' && value.length <= 4096 && /managedclusters/i.test(value)) {
        const ref = findManagedClusterId(value);
        if (ref) clusters.set(clusterKey(ref), ref);
      }
      // AKSAudit / AKSAuditAdmin: ObjectRef { resource, namespace, name } (dynamic; JSON text on the wire).
      if (column.toLowerCase() === 'objectref') {
        let ref: unknown = value;
        if (typeof value === 'string' && value.length <= 4096) {
          try {
            ref = JSON.parse(value);
          } catch {
            ref = undefined;
          }
        }
        if (!isObject(ref)) continue;
        const ns = str(prop(ref, 'namespace'), 63);
        const name = str(prop(ref, 'name'), 253);
        const resource = str(prop(ref, 'resource'), 64);
        if (ns && /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) addTarget(namespaces, ns, MAX_ROW_TARGETS);
        if (ns && name && resource === 'pods' && isNamespacedPod(`${ns}/${name}`)) addTarget(pods, `${ns}/${name}`, MAX_ROW_TARGETS);
      }
    }
  }
  return { clusters: [...clusters.values()], pods, namespaces };
}

/** Resolve a parsed incident to clusters and targets, recording every read and every way. */
export async function resolveIncident(parsed: ParsedSentinelIncident, options: ResolveIncidentOptions = {}): Promise<IncidentResolution> {
  const readers = options.readers ?? {};
  const { incident } = parsed;
  const budget = AbortSignal.timeout(options.timeBudgetInMs ?? 60_000);
  const signal = () => AbortSignal.any([budget, AbortSignal.timeout(options.callTimeoutInMs ?? 20_000), ...(options.abortSignal ? [options.abortSignal] : [])]);
  const reads: IncidentResolutionStep[] = [];
  const ways: IncidentResolutionStep[] = [];
  const readerFix = `give the Function App's identity Microsoft Sentinel Reader on workspace ${incident.workspace.name}`;

  reads.push(
    step(
      'trigger-body',
      parsed.alerts.length || parsed.relatedEntities.length ? 'found' : 'nothing',
      `${parsed.alerts.length} alert(s), ${parsed.relatedEntities.length} related entit${parsed.relatedEntities.length === 1 ? 'y' : 'ies'} in the body the playbook forwarded`,
    ),
  );
  const alertReads: IncidentAlert[] = [...parsed.alerts];
  const related: EntityView[] = [...parsed.relatedEntities];

  // Reads: Sentinel's own view of the incident.
  if (readers.sentinel) {
    try {
      const alerts = await readers.sentinel.listAlerts(incident.incidentId, { abortSignal: signal() });
      let n = 0;
      alerts.forEach((a, i) => {
        const alert = alertFromRest(a, `SecurityInsights alerts[${i}]`);
        if (alert) {
          alertReads.push(alert);
          n++;
        }
      });
      reads.push(step('sentinel-alerts-api', n ? 'found' : 'nothing', `POST ${incident.incidentName}/alerts: ${n} alert(s)`));
    } catch (error) {
      reads.push(step('sentinel-alerts-api', 'failed', `POST ${incident.incidentName}/alerts: ${failure(error, readerFix)}`));
    }
    try {
      const entities = readEntityList(await readers.sentinel.listEntities(incident.incidentId, { abortSignal: signal() }), 'SecurityInsights entities');
      for (const e of entities) related.push(e);
      reads.push(
        step(
          'sentinel-entities-api',
          entities.length ? 'found' : 'nothing',
          `POST ${incident.incidentName}/entities: ${entities.length} entit${entities.length === 1 ? 'y' : 'ies'}`,
        ),
      );
    } catch (error) {
      reads.push(step('sentinel-entities-api', 'failed', `POST ${incident.incidentName}/entities: ${failure(error, readerFix)}`));
    }
  } else {
    reads.push(step('sentinel-api', 'skipped', 'the SecurityInsights API is not configured for this host: only the trigger body was read'));
  }

  const workspace = incident.workspaceId ?? incident.workspace.resourceId;
  if (readers.logs) {
    const ids = [...new Set(mergeAlerts(alertReads).flatMap((a) => (a.systemAlertId ? [a.systemAlertId] : [])))].slice(0, 150);
    const now = options.now ?? new Date();
    const since = Date.parse(incident.firstActivityTimeUtc ?? incident.createdTimeUtc ?? '') || now.getTime();
    // SecurityAlert rows are written when the alert is raised: from a day before the incident's first activity (at most 90 days back) to now.
    const start = new Date(Math.max(Math.min(since, now.getTime()) - 86_400_000, now.getTime() - 90 * 86_400_000));
    try {
      const rows = await readers.logs.securityAlerts({ workspace, systemAlertIds: ids, incidentName: incident.incidentName, start, end: now }, { abortSignal: signal() });
      let n = 0;
      rows.slice(0, 500).forEach((row, i) => {
        const alert = alertFromSecurityAlertRow(row, `SecurityAlert[${i}]`);
        if (alert) {
          alertReads.push(alert);
          n++;
        }
      });
      reads.push(
        step(
          'security-alert-rows',
          n ? 'found' : 'nothing',
          `SecurityAlert rows ${ids.length ? `of ${ids.length} alert id(s)` : `of incident ${incident.incidentName} (through SecurityIncident.AlertIds)`}: ${n}`,
        ),
      );
    } catch (error) {
      reads.push(step('security-alert-rows', 'failed', `SecurityAlert query: ${failure(error, readerFix)}`));
    }
  } else {
    reads.push(step('security-alert-rows', 'skipped', 'Log Analytics is not configured for this host'));
  }

  const alerts = mergeAlerts(alertReads);
  const targets = new Targets();
  /** Clusters found per alert key (ways 1-5), to scope its Kubernetes entities and decide ways 4 and 5. */
  const alertClusters = new Map<string, ClusterRef[]>();
  const note = (alert: IncidentAlert | undefined, ref: ClusterRef) => {
    if (!alert) return;
    const list = alertClusters.get(alert.key) ?? [];
    if (!list.some((c) => clusterKey(c) === clusterKey(ref))) list.push(ref);
    alertClusters.set(alert.key, list);
  };
  const entitySets: { alert?: IncidentAlert; entities: EntityView[] }[] = [{ entities: related }, ...alerts.map((a) => ({ alert: a, entities: a.entities }))];

  // 1. AzureResource entities.
  {
    const found: ClusterRef[] = [];
    let looked = 0;
    for (const set of entitySets) {
      for (const e of set.entities) {
        if (e.kind !== 'azureresource') continue;
        looked++;
        const ref = clusterOfEntity(e);
        if (!ref) continue;
        targets.add(ref, 'azure-resource-entities', e.path);
        note(set.alert, ref);
        found.push(ref);
      }
    }
    const kinds = new Map<string, number>();
    for (const set of entitySets) for (const e of set.entities) kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
    const seen = [...kinds]
      .map(([k, n]) => `${k} ×${n}`)
      .slice(0, 20)
      .join(', ');
    ways.push(
      step(
        'azure-resource-entities',
        found.length ? 'found' : 'nothing',
        `${looked} AzureResource entit${looked === 1 ? 'y' : 'ies'}${found.length ? '' : ', none naming a Microsoft.ContainerService/managedClusters resource'} (entities seen: ${seen || 'none'})`,
        found,
      ),
    );
  }
  // 2. Alert resource identifiers.
  {
    const found: ClusterRef[] = [];
    let looked = 0;
    for (const alert of alerts) {
      for (const r of alert.resourceIds) {
        looked++;
        const ref = findManagedClusterId(r.id);
        if (!ref) continue;
        targets.add(ref, 'alert-resource-identifiers', r.path);
        note(alert, ref);
        found.push(ref);
      }
    }
    ways.push(
      step(
        'alert-resource-identifiers',
        found.length ? 'found' : 'nothing',
        `${looked} resource identifier(s) in ${alerts.length} alert(s)${found.length ? '' : ', none naming a managed cluster (a scheduled rule often names only the workspace)'}`,
        found,
      ),
    );
  }
  // 3. K8s entities through their CloudResource chain.
  {
    const found: ClusterRef[] = [];
    let looked = 0;
    for (const set of entitySets) {
      for (const e of set.entities) {
        if (e.kind !== 'k8scluster' && e.kind !== 'k8snamespace' && e.kind !== 'k8spod' && e.kind !== 'container') continue;
        looked++;
        const ref = clusterOfEntity(e);
        if (!ref) continue;
        if (e.kind === 'k8scluster') targets.add(ref, 'k8s-cluster-entities', e.path);
        else if (!targets.get(ref)) targets.add(ref, 'k8s-cluster-entities', e.path);
        note(set.alert, ref);
        found.push(ref);
      }
    }
    ways.push(
      step(
        'k8s-cluster-entities',
        found.length ? 'found' : 'nothing',
        `${looked} Kubernetes entit${looked === 1 ? 'y' : 'ies'} (K8s-cluster, K8s-namespace, K8s-pod, container)${looked && !found.length ? ', none leading to a cluster resource id' : ''}`,
        found,
      ),
    );
  }

  // 4. The rows behind scheduled alerts that named no cluster.
  const rowTargets = new Map<string, { pods: string[]; namespaces: string[] }>();
  {
    const pending = alerts.filter((a) => a.query && !alertClusters.get(a.key)?.length);
    const found: ClusterRef[] = [];
    const parts: string[] = [];
    if (!pending.length) {
      ways.push(
        step(
          'scheduled-alert-rows',
          'skipped',
          alerts.some((a) => a.query) ? 'every scheduled alert already named its cluster' : "no scheduled-rule alert (no query in the alerts' extended properties)",
        ),
      );
    } else if (!readers.logs) {
      ways.push(step('scheduled-alert-rows', 'skipped', `${pending.length} scheduled alert(s) name no cluster, but Log Analytics is not configured for this host`));
    } else {
      let outcome: IncidentResolutionStep['outcome'] = 'nothing';
      for (const alert of pending.slice(0, MAX_RERUNS)) {
        const q = alert.query!;
        const label = alert.displayName ?? alert.systemAlertId ?? alert.path;
        try {
          let rows = await readers.logs.alertQueryRows({ workspace, query: q.text, start: new Date(q.start), end: new Date(q.end) }, { abortSignal: signal() });
          let scan = scanAlertRows(rows);
          let which = 'Query';
          // Alert-per-event grouping stores the event as a datatable without _ResourceId: the rule's own query has it.
          if (!scan.clusters.length && q.originalText) {
            rows = await readers.logs.alertQueryRows({ workspace, query: q.originalText, start: new Date(q.start), end: new Date(q.end) }, { abortSignal: signal() });
            scan = scanAlertRows(rows);
            which = 'OriginalQuery';
          }
          for (const ref of scan.clusters) {
            targets.add(ref, 'scheduled-alert-rows', `${q.path}.${which} ${q.start}/${q.end}`);
            note(alert, ref);
            found.push(ref);
          }
          rowTargets.set(alert.key, { pods: scan.pods, namespaces: scan.namespaces });
          parts.push(`"${label}": ${which} re-run over ${q.start}/${q.end}, ${rows.length} row(s), ${scan.clusters.length} cluster(s)`);
          if (scan.clusters.length) outcome = 'found';
        } catch (error) {
          parts.push(`"${label}": ${failure(error, readerFix)}`);
          if (outcome === 'nothing') outcome = 'failed';
        }
      }
      ways.push(step('scheduled-alert-rows', outcome, parts.join('; '), found));
    }
  }

  // 5. Node resource groups of alerts (or, when nothing was found at all, of the incident's entities) still without a cluster.
  const nodeTargets = new Map<string, string[]>();
  {
    const groups = new Map<string, { subscriptionId: string; resourceGroup: string; ids: string[]; alerts: Set<IncidentAlert | undefined> }>();
    const consider = (id: string, alert: IncidentAlert | undefined) => {
      const rg = resourceGroupOf(id);
      if (!rg) return;
      const key = `${rg.subscriptionId}/${rg.resourceGroup.toLowerCase()}`;
      const g = groups.get(key) ?? { ...rg, ids: [], alerts: new Set() };
      if (g.ids.length < 20) g.ids.push(id);
      g.alerts.add(alert);
      groups.set(key, g);
    };
    for (const set of entitySets) {
      if (set.alert ? alertClusters.get(set.alert.key)?.length : targets.size) continue;
      for (const e of set.entities) for (const id of nodeResourceIdsOf(e)) consider(id, set.alert);
      if (set.alert) for (const r of set.alert.resourceIds) if (!findManagedClusterId(r.id) && /\/providers\/microsoft\.compute\//i.test(r.id)) consider(r.id, set.alert);
    }
    const found: ClusterRef[] = [];
    const parts: string[] = [];
    if (!groups.size) {
      ways.push(step('node-resource-group', 'skipped', 'no scale set or VM of a node resource group among the entities of alerts without a cluster'));
    } else if (!readers.nodeResourceGroups) {
      ways.push(
        step(
          'node-resource-group',
          'skipped',
          `node resource group(s) ${[...groups.values()].map((g) => g.resourceGroup).join(', ')} found, but ARM is not configured for this host`,
        ),
      );
    } else {
      let outcome: IncidentResolutionStep['outcome'] = 'nothing';
      for (const g of [...groups.values()].slice(0, MAX_NODE_GROUPS)) {
        try {
          const owners = await readers.nodeResourceGroups.clustersOwning(g.subscriptionId, g.resourceGroup, { abortSignal: signal() });
          const nodes = g.ids.map(aksNodeNameOfVmssVm).filter((n): n is string => n !== undefined);
          for (const ref of owners) {
            targets.add(ref, 'node-resource-group', `${g.ids[0]}`);
            for (const a of g.alerts) note(a, ref);
            found.push(ref);
            const list = nodeTargets.get(clusterKey(ref)) ?? [];
            for (const n of nodes) addTarget(list, n, 100);
            nodeTargets.set(clusterKey(ref), list);
          }
          parts.push(
            `${g.resourceGroup}: ${owners.length ? `node resource group of ${owners.map((o) => o.name).join(', ')}` : 'no managed cluster visible to this identity has it as node resource group'}`,
          );
          if (owners.length) outcome = 'found';
        } catch (error) {
          parts.push(`${g.resourceGroup}: ${failure(error, `give the Function App's identity Reader on the clusters of subscription ${g.subscriptionId}`)}`);
          if (outcome === 'nothing') outcome = 'failed';
        }
      }
      ways.push(step('node-resource-group', outcome, parts.join('; '), found));
    }
  }

  // 6. The configured default clusters.
  if (targets.size) {
    ways.push(step('default-clusters', 'skipped', 'the incident led to a cluster'));
  } else if (readers.defaultClusters?.length) {
    for (const ref of readers.defaultClusters) targets.add(ref, 'default-clusters', 'AKS_EVIDENCE_DEFAULT_CLUSTERS');
    ways.push(
      step(
        'default-clusters',
        'found',
        `nothing in the incident led to a cluster: the ${readers.defaultClusters.length} configured default cluster(s) are collected`,
        readers.defaultClusters,
      ),
    );
  } else {
    ways.push(step('default-clusters', 'nothing', 'no default clusters are configured (app setting AKS_EVIDENCE_DEFAULT_CLUSTERS)'));
  }

  // Kubernetes targets: scoped to their own cluster when the $ref chain says which, else their alert's clusters, else every cluster.
  const all = targets.values();
  const scopeFor = (owner: ClusterRef | undefined, alert: IncidentAlert | undefined): IncidentClusterTarget[] => {
    if (owner && targets.get(owner)) return [targets.get(owner)!];
    const own = alert ? (alertClusters.get(alert.key) ?? []).map((c) => targets.get(c)).filter((t): t is IncidentClusterTarget => t !== undefined) : [];
    return own.length ? own : all;
  };
  for (const set of entitySets) {
    for (const e of set.entities) {
      if (e.kind === 'host') {
        const node = aksNodeNameOf(e);
        if (node) for (const t of scopeFor(undefined, set.alert)) addTarget(t.priorityNodes, node, 100);
        continue;
      }
      if (e.kind !== 'k8snamespace' && e.kind !== 'k8spod' && e.kind !== 'container') continue;
      const ns = namespaceOf(e);
      const pod = podKeyOf(e);
      for (const t of scopeFor(clusterOfEntity(e), set.alert)) {
        if (ns) addTarget(t.namespaces, ns, 100);
        if (pod) addTarget(t.priorityPods, pod, 1000);
      }
    }
  }
  for (const alert of alerts) {
    const rows = rowTargets.get(alert.key);
    if (!rows) continue;
    for (const t of scopeFor(undefined, alert)) {
      for (const ns of rows.namespaces) addTarget(t.namespaces, ns, 100);
      for (const pod of rows.pods) addTarget(t.priorityPods, pod, 1000);
    }
  }
  for (const [key, nodes] of nodeTargets) {
    const t = all.find((x) => clusterKey(x.cluster) === key);
    if (t) for (const n of nodes) addTarget(t.priorityNodes, n, 100);
  }

  return { targets: targets.all(), record: { reads, ways } };
}

/** The 422 when no way led to a cluster: every read and every way, with what each found. */
export function noClusterProblem(parsed: ParsedSentinelIncident, record: IncidentResolutionRecord): ProblemDetails {
  return {
    type: PROBLEM_TYPES.noCluster,
    title: 'No AKS cluster in the incident',
    status: 422,
    detail:
      'No way from this incident led to an Azure Kubernetes Service cluster, so nothing was collected. Tried, in order: ' +
      record.ways.map((w) => `${w.step} (${w.outcome}: ${w.detail})`).join('; ') +
      '. To collect anyway, call POST /api/collections with the cluster resource id, or set AKS_EVIDENCE_DEFAULT_CLUSTERS.',
    incidentId: parsed.incident.incidentId,
    reads: record.reads,
    ways: record.ways,
  };
}
