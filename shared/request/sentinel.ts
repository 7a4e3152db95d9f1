import type { CollectionRequestRecord } from '../evidence/types.js';
import { SOURCES } from '../sources/registry.js';
import { clusterKey, findManagedClusterId, type ClusterRef } from '../cluster/clusterRef.js';
import { PROBLEM_TYPES, type FieldProblem, type ProblemDetails } from './problem.js';
import { isNamespacedPod, type RequestDefaults } from './schema.js';

/**
 * A Microsoft Sentinel incident, as the incident trigger of a playbook (Logic App) forwards
 * it, turned into collection requests: one per AKS cluster the incident names.
 *
 * The trigger body: { objectSchemaType: "Incident", objectEventType, workspaceId,
 * workspaceInfo: { SubscriptionId, ResourceGroupName, WorkspaceName }, object: { id (the
 * incident ARM id), name, type, properties: { title, severity, incidentNumber,
 * relatedEntities[], alerts[], additionalData, ... } } }. Playbooks often forward only
 * `object` (or its `properties` under `incident`): both are accepted.
 *
 * Clusters come from AzureResource / azure-resource entities whose resource id is (or is
 * under) a Microsoft.ContainerService/managedClusters id, K8s-cluster entities (through their
 * CloudResource), and alert resourceIdentifiers; entities nested in alerts (Defender for
 * Containers' SecurityAlert entity JSON with $id/$ref) count too. K8s-namespace, K8s-pod and
 * container entities name the pods to collect first; the whole cluster is still collected.
 */

export interface SentinelIncidentInfo {
  /** Incident ARM id: /subscriptions/…/workspaces/<ws>/providers/Microsoft.SecurityInsights/Incidents/<guid>. */
  incidentId: string;
  name?: string;
  incidentNumber?: number;
  title?: string;
  severity?: string;
  workspaceName?: string;
  workspaceId?: string;
}

/** One cluster the incident names, with the Kubernetes entities that point into it. */
export interface IncidentClusterTarget {
  cluster: ClusterRef;
  /** Where in the body the cluster was found, for the response and the case record. */
  foundIn: string[];
  /** K8s-namespace entities (and namespaces of pod / container entities). */
  namespaces: string[];
  /** "namespace/pod" from K8s-pod and container entities: collected first. */
  priorityPods: string[];
}

export type SentinelParseResult =
  | { ok: true; incident: SentinelIncidentInfo; targets: IncidentClusterTarget[] }
  | { ok: false; problem: ProblemDetails };

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Case-insensitive property access: Sentinel and Defender spell the same keys differently. */
function prop(obj: unknown, ...names: string[]): unknown {
  if (!isObject(obj)) return undefined;
  for (const name of names) {
    if (name in obj) return obj[name];
  }
  const lower = new Map(Object.keys(obj).map((k) => [k.toLowerCase(), k] as const));
  for (const name of names) {
    const key = lower.get(name.toLowerCase());
    if (key !== undefined) return obj[key];
  }
  return undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** "AzureResource", "azure-resource", "K8s-pod" → "azureresource", "k8spod". */
function kindKey(kind: string | undefined): string {
  return (kind ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

const INCIDENT_ID = /\/providers\/microsoft\.securityinsights\/incidents\/[^/]+$/i;

/** The incident object wherever the playbook put it. */
function incidentObject(body: Json): { incident: Json; root: Json } | undefined {
  const candidates: unknown[] = [prop(body, 'object'), prop(body, 'incident'), body];
  for (const c of candidates) {
    if (isObject(c) && typeof prop(c, 'id') === 'string' && INCIDENT_ID.test(prop(c, 'id') as string)) return { incident: c, root: body };
  }
  return undefined;
}

interface EntityView {
  kind: string;
  props: Json;
  path: string;
  /** $id → entity within the array the entity came from (Defender's reference scope). */
  scope: Map<string, Json>;
}

/** Index every object carrying "$id" under `root` (Defender entity JSON references them with {"$ref"}). */
function indexIds(root: unknown, into: Map<string, Json>): Map<string, Json> {
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (isObject(v)) {
      const id = v.$id;
      if (typeof id === 'string' || typeof id === 'number') into.set(String(id), v);
      stack.push(...Object.values(v));
    }
  }
  return into;
}

function deref(value: unknown, scope: Map<string, Json>): Json | undefined {
  if (!isObject(value)) return undefined;
  const ref = value.$ref;
  if (typeof ref === 'string' || typeof ref === 'number') return scope.get(String(ref));
  return value;
}

/** An entity's properties: Sentinel entities nest them under `properties`; Defender's are flat. */
function entityView(raw: unknown, path: string, scope: Map<string, Json>): EntityView | undefined {
  const obj = deref(raw, scope);
  if (!obj) return undefined;
  const props = isObject(prop(obj, 'properties')) ? (prop(obj, 'properties') as Json) : obj;
  let kind = str(prop(obj, 'kind'));
  const type = str(prop(obj, 'Type', 'type'));
  if (!kind && type && !type.includes('/')) kind = type;
  if (!kind) return undefined;
  return { kind: kindKey(kind), props, path, scope };
}

function resourceIdOf(props: Json): string | undefined {
  return str(prop(props, 'resourceId', 'ResourceId', 'azureResourceId', 'AzureResourceId', 'id'));
}

/** The cluster a K8s entity belongs to, following Cluster → CloudResource references when present. */
function clusterOfEntity(e: EntityView, depth = 0): ClusterRef | undefined {
  if (depth > 4) return undefined;
  const k = e.kind;
  if (k === 'azureresource') {
    const id = resourceIdOf(e.props);
    return id ? findManagedClusterId(id) : undefined;
  }
  const follow = (value: unknown): ClusterRef | undefined => {
    const target = deref(value, e.scope);
    if (!target) return undefined;
    const direct = resourceIdOf(isObject(prop(target, 'properties')) ? (prop(target, 'properties') as Json) : target);
    if (direct) {
      const ref = findManagedClusterId(direct);
      if (ref) return ref;
    }
    const view = entityView(target, e.path, e.scope);
    return view ? clusterOfEntity(view, depth + 1) : undefined;
  };
  if (k === 'k8scluster') return follow(prop(e.props, 'cloudResource', 'CloudResource')) ?? findManagedClusterIdIn(e.props);
  if (k === 'k8snamespace') return follow(prop(e.props, 'cluster', 'Cluster'));
  if (k === 'k8spod') return follow(prop(e.props, 'namespace', 'Namespace'));
  if (k === 'container') return follow(prop(e.props, 'pod', 'Pod'));
  return undefined;
}

function findManagedClusterIdIn(props: Json): ClusterRef | undefined {
  const id = resourceIdOf(props);
  return id ? findManagedClusterId(id) : undefined;
}

const NAME = (props: Json) => str(prop(props, 'name', 'Name', 'friendlyName', 'FriendlyName'));

function namespaceName(value: unknown, scope: Map<string, Json>): string | undefined {
  if (typeof value === 'string') return str(value);
  const target = deref(value, scope);
  if (!target) return undefined;
  const props = isObject(prop(target, 'properties')) ? (prop(target, 'properties') as Json) : target;
  return NAME(props);
}

/** "namespace/pod" of a K8s-pod entity (or of a container entity's pod). */
function podKey(e: EntityView): string | undefined {
  let podProps: Json | undefined;
  if (e.kind === 'k8spod') podProps = e.props;
  else if (e.kind === 'container') {
    const pod = deref(prop(e.props, 'pod', 'Pod'), e.scope);
    podProps = pod && isObject(prop(pod, 'properties')) ? (prop(pod, 'properties') as Json) : pod;
    if (!podProps) {
      const name = str(prop(e.props, 'podName', 'PodName'));
      const ns = str(prop(e.props, 'namespace', 'Namespace', 'podNamespace'));
      return name && ns && isNamespacedPod(`${ns}/${name}`) ? `${ns}/${name}` : undefined;
    }
  }
  if (!podProps) return undefined;
  const name = NAME(podProps);
  const ns = namespaceName(prop(podProps, 'namespace', 'Namespace'), e.scope);
  const key = name && ns ? `${ns}/${name}` : undefined;
  return key && isNamespacedPod(key) ? key : undefined;
}

function namespaceOf(e: EntityView): string | undefined {
  if (e.kind === 'k8snamespace') return NAME(e.props);
  const pod = podKey(e);
  return pod?.split('/')[0];
}

/** Every entity the incident carries: related entities, alerts, entities nested in alerts. */
function collectEntities(incident: Json, root: Json): EntityView[] {
  const props = isObject(prop(incident, 'properties')) ? (prop(incident, 'properties') as Json) : incident;
  const views: EntityView[] = [];
  const addArray = (list: unknown, path: string) => {
    const items = arr(list);
    const scope = indexIds(items, new Map());
    items.forEach((item, i) => {
      const v = entityView(item, `${path}[${i}]`, scope);
      if (v) views.push(v);
    });
  };
  addArray(prop(props, 'relatedEntities'), 'object.properties.relatedEntities');
  addArray(prop(root, 'entities'), 'entities');
  arr(prop(props, 'alerts')).forEach((alert, a) => {
    const alertProps = isObject(prop(alert, 'properties')) ? (prop(alert, 'properties') as Json) : (alert as Json);
    const base = `object.properties.alerts[${a}]`;
    addArray(prop(alert, 'entities', 'relatedEntities'), `${base}.entities`);
    const nested = prop(alertProps, 'entities', 'relatedEntities', 'Entities');
    if (typeof nested === 'string') {
      // SecurityAlert.Entities is a JSON string in Log Analytics; playbooks sometimes forward it as is.
      try {
        addArray(JSON.parse(nested), `${base}.properties.entities`);
      } catch {
        // not JSON: nothing to read
      }
    } else {
      addArray(nested, `${base}.properties.entities`);
    }
  });
  return views;
}

/** Clusters named by alert resourceIdentifiers ({ type: "AzureResource", azureResourceId | resourceId }). */
function clustersFromResourceIdentifiers(incident: Json): { ref: ClusterRef; path: string }[] {
  const props = isObject(prop(incident, 'properties')) ? (prop(incident, 'properties') as Json) : incident;
  const found: { ref: ClusterRef; path: string }[] = [];
  arr(prop(props, 'alerts')).forEach((alert, a) => {
    const alertProps = isObject(prop(alert, 'properties')) ? (prop(alert, 'properties') as Json) : (alert as Json);
    arr(prop(alertProps, 'resourceIdentifiers', 'ResourceIdentifiers')).forEach((ri, r) => {
      if (!isObject(ri)) return;
      const id = resourceIdOf(ri);
      const ref = id ? findManagedClusterId(id) : undefined;
      if (ref) found.push({ ref, path: `object.properties.alerts[${a}].properties.resourceIdentifiers[${r}]` });
    });
  });
  return found;
}

export const LOOKED_FOR = [
  'object.properties.relatedEntities: AzureResource / azure-resource entities whose resourceId is a Microsoft.ContainerService/managedClusters id, and K8s-cluster entities',
  'object.properties.alerts[].properties.resourceIdentifiers: AzureResource identifiers naming a managed cluster',
  'entities nested in alerts (Defender for Containers alert entities: azure-resource, K8s-cluster)',
];

/** Parse a forwarded Sentinel incident into the clusters to collect from. */
export function parseSentinelIncident(body: unknown): SentinelParseResult {
  if (!isObject(body)) {
    return { ok: false, problem: notAnIncident([{ field: '', message: 'the body must be the JSON object the Sentinel incident trigger provides' }]) };
  }
  const located = incidentObject(body);
  if (!located) {
    return {
      ok: false,
      problem: notAnIncident([
        {
          field: 'object.id',
          message:
            'required: the incident ARM id (…/providers/Microsoft.SecurityInsights/Incidents/<guid>); forward the incident trigger body as is (triggerBody()), or at least its "object"',
        },
      ]),
    };
  }
  const { incident, root } = located;
  const props = isObject(prop(incident, 'properties')) ? (prop(incident, 'properties') as Json) : {};
  const workspaceInfo = prop(root, 'workspaceInfo');
  const numberRaw = prop(props, 'incidentNumber');
  const incidentNumber = typeof numberRaw === 'number' ? numberRaw : typeof numberRaw === 'string' && /^\d+$/.test(numberRaw) ? Number(numberRaw) : undefined;
  const info: SentinelIncidentInfo = {
    incidentId: (prop(incident, 'id') as string).trim(),
    ...(str(prop(incident, 'name')) ? { name: str(prop(incident, 'name')) as string } : {}),
    ...(incidentNumber !== undefined ? { incidentNumber } : {}),
    ...(str(prop(props, 'title')) ? { title: (str(prop(props, 'title')) as string).slice(0, 256) } : {}),
    ...(str(prop(props, 'severity')) ? { severity: str(prop(props, 'severity')) as string } : {}),
    ...(str(prop(workspaceInfo, 'WorkspaceName')) ? { workspaceName: str(prop(workspaceInfo, 'WorkspaceName')) as string } : {}),
    ...(str(prop(root, 'workspaceId')) ? { workspaceId: str(prop(root, 'workspaceId')) as string } : {}),
  };

  const entities = collectEntities(incident, root);
  const targets = new Map<string, IncidentClusterTarget>();
  const addCluster = (ref: ClusterRef, path: string) => {
    const key = clusterKey(ref);
    const t = targets.get(key) ?? { cluster: ref, foundIn: [], namespaces: [], priorityPods: [] };
    if (!t.foundIn.includes(path)) t.foundIn.push(path);
    targets.set(key, t);
  };
  for (const e of entities) {
    if (e.kind === 'azureresource' || e.kind === 'k8scluster') {
      const ref = clusterOfEntity(e);
      if (ref) addCluster(ref, `${e.path} (${e.kind === 'azureresource' ? 'AzureResource' : 'K8s-cluster'})`);
    }
  }
  for (const { ref, path } of clustersFromResourceIdentifiers(incident)) addCluster(ref, path);

  if (targets.size === 0) {
    const kinds = [...new Set(entities.map((e) => e.kind))];
    return {
      ok: false,
      problem: {
        type: PROBLEM_TYPES.noCluster,
        title: 'No AKS cluster in the incident',
        status: 422,
        detail:
          'The incident names no Azure Kubernetes Service cluster, so there is nothing to collect. Looked in: ' +
          LOOKED_FOR.join('; ') +
          `. Found ${entities.length} entit${entities.length === 1 ? 'y' : 'ies'}` +
          (kinds.length ? ` of kinds: ${kinds.join(', ')}` : '') +
          '. To collect anyway, call POST /api/collections with the cluster resource id.',
        incidentId: info.incidentId,
        lookedFor: LOOKED_FOR,
      },
    };
  }

  // Kubernetes entities scope their own cluster when the reference chain says which; otherwise every cluster.
  for (const e of entities) {
    if (e.kind !== 'k8snamespace' && e.kind !== 'k8spod' && e.kind !== 'container') continue;
    const owner = clusterOfEntity(e);
    const scoped = owner && targets.has(clusterKey(owner)) ? [targets.get(clusterKey(owner)) as IncidentClusterTarget] : [...targets.values()];
    const ns = namespaceOf(e);
    const pod = podKey(e);
    for (const t of scoped) {
      if (ns && /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(ns) && !t.namespaces.includes(ns)) t.namespaces.push(ns);
      if (pod && !t.priorityPods.includes(pod)) t.priorityPods.push(pod);
    }
  }
  return { ok: true, incident: info, targets: [...targets.values()] };
}

function notAnIncident(errors: FieldProblem[]): ProblemDetails {
  return {
    type: PROBLEM_TYPES.invalidRequest,
    title: 'Not a Sentinel incident',
    status: 400,
    detail: 'The body is not a Microsoft Sentinel incident as the playbook incident trigger provides it; nothing was started.',
    errors,
  };
}

/** The case id of an incident's runs: "sentinel-<incidentNumber>", else "sentinel-<incident name>". */
export function incidentCaseId(incident: SentinelIncidentInfo): string {
  const raw = incident.incidentNumber !== undefined ? String(incident.incidentNumber) : incident.name ?? incident.incidentId.split('/').pop() ?? 'incident';
  return `sentinel-${raw.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100)}`;
}

/** The collection request for one cluster of the incident. */
export function incidentRequestRecord(
  incident: SentinelIncidentInfo,
  target: IncidentClusterTarget,
  defaults: RequestDefaults = {},
): CollectionRequestRecord {
  const title = incident.title ? `: ${incident.title}` : '';
  const number = incident.incidentNumber !== undefined ? ` #${incident.incidentNumber}` : '';
  const focus = target.namespaces.length ? `; incident entities point at namespace(s) ${target.namespaces.join(', ')}` : '';
  return {
    caseId: incidentCaseId(incident),
    requester: `Microsoft Sentinel${incident.workspaceName ? ` (workspace ${incident.workspaceName})` : ''}`,
    reason: `Sentinel incident${number}${title}${incident.severity ? ` [${incident.severity}]` : ''}${focus}`.slice(0, 2048),
    incidentId: incident.incidentId,
    sources: [...(defaults.sources ?? SOURCES.names())],
    sinceSeconds: defaults.sinceSeconds ?? 86400,
    ...(target.priorityPods.length ? { priorityPods: target.priorityPods.slice(0, 1000) } : {}),
    ...(defaults.concurrency !== undefined ? { concurrency: defaults.concurrency } : {}),
    ...(defaults.legalHold !== undefined ? { legalHold: defaults.legalHold } : {}),
    ...(defaults.retentionDays !== undefined ? { retentionDays: defaults.retentionDays } : {}),
  };
}
