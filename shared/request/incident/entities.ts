import { findManagedClusterId, type ClusterRef } from '../../cluster/clusterRef.js';
import { isNamespacedPod } from '../schema.js';

/**
 * Entities as Microsoft Sentinel and Defender for Cloud spell them, read into one view.
 *
 * Two shapes meet here: Sentinel's REST entities ({ kind, properties: {...} }: incident
 * relatedEntities, the incident entities API) and the alert's own entity JSON (SecurityAlert
 * `Entities`, flat objects with "Type" and "$id", pointing at each other with {"$ref"}). The
 * Kubernetes kinds (K8s-cluster, K8s-namespace, K8s-pod, container, container-image) exist
 * only in the second: Defender for Containers writes them, the SecurityInsights enumeration
 * has no such kinds.
 */

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
/** A trimmed non-empty string of at most `max` characters, else undefined (values are never trusted to be small). */
export const str = (v: unknown, max = 1024): string | undefined =>
  typeof v === 'string' && v.trim() !== '' && v.length <= max ? v.trim() : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;

/** Case-insensitive property access: Sentinel, Defender and Logic Apps spell the same keys differently. */
export function prop(obj: unknown, ...names: string[]): unknown {
  if (!isObject(obj)) return undefined;
  for (const name of names) if (Object.hasOwn(obj, name)) return obj[name];
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  for (const key of Object.keys(obj)) if (wanted.has(key.toLowerCase())) return obj[key];
  return undefined;
}

/** An object's `properties` when it nests them (Sentinel REST), else the object (Defender's flat JSON). */
export const propsOf = (obj: Json): Json => (isObject(prop(obj, 'properties')) ? (prop(obj, 'properties') as Json) : obj);

/** "AzureResource", "azure-resource", "K8s-pod" → "azureresource", "k8spod". */
export function kindKey(kind: string | undefined): string {
  return (kind ?? '').toLowerCase().replace(/[^a-z0-9]/g, '');
}

export interface EntityView {
  /** Normalized kind (kindKey). */
  kind: string;
  props: Json;
  /** Where in the payload (or which read) the entity came from. */
  path: string;
  /** $id → entity of the list the entity came from (Defender's reference scope). */
  scope: Map<string, Json>;
}

/** At most this many entities are read from one list; larger lists are refused at the HTTP edge. */
export const MAX_ENTITIES_PER_LIST = 5_000;
/** $ref chains are followed this deep at most (cluster ← namespace ← pod ← container is 3). */
const MAX_REF_DEPTH = 6;
/** Objects visited when indexing one list's $id graph. */
const MAX_INDEXED_NODES = 100_000;

/** Index every object carrying "$id" under `root` (Defender entity JSON references them with {"$ref"}). Iterative and bounded. */
function indexIds(root: unknown): Map<string, Json> {
  const into = new Map<string, Json>();
  const stack: { v: unknown; depth: number }[] = [{ v: root, depth: 0 }];
  let visited = 0;
  while (stack.length && visited < MAX_INDEXED_NODES) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    visited++;
    if (depth > 8) continue;
    if (Array.isArray(v)) {
      for (const item of v) stack.push({ v: item, depth: depth + 1 });
    } else if (isObject(v)) {
      const id = v.$id;
      if ((typeof id === 'string' && id.length <= 64) || typeof id === 'number') into.set(String(id), v);
      for (const key of Object.keys(v)) stack.push({ v: v[key], depth: depth + 1 });
    }
  }
  return into;
}

export function deref(value: unknown, scope: Map<string, Json>): Json | undefined {
  if (!isObject(value)) return undefined;
  const ref = value.$ref;
  if (typeof ref === 'string' || typeof ref === 'number') return scope.get(String(ref));
  return value;
}

function entityView(raw: unknown, path: string, scope: Map<string, Json>): EntityView | undefined {
  const obj = deref(raw, scope);
  if (!obj) return undefined;
  const props = propsOf(obj);
  let kind = str(prop(obj, 'kind'), 64);
  const type = str(prop(obj, 'Type', 'type'), 64);
  if (!kind && type && !type.includes('/')) kind = type;
  if (!kind) return undefined;
  return { kind: kindKey(kind), props, path, scope };
}

/**
 * Read one list of entities (an array, or the SecurityAlert `Entities` JSON string). The
 * list is its own $ref scope, as in Defender's JSON. At most MAX_ENTITIES_PER_LIST are read.
 */
export function readEntityList(list: unknown, path: string): EntityView[] {
  let items: unknown[];
  if (typeof list === 'string') {
    try {
      items = arr(JSON.parse(list));
    } catch {
      return [];
    }
  } else {
    items = arr(list);
  }
  if (items.length > MAX_ENTITIES_PER_LIST) items = items.slice(0, MAX_ENTITIES_PER_LIST);
  const scope = indexIds(items);
  const views: EntityView[] = [];
  items.forEach((item, i) => {
    const v = entityView(item, `${path}[${i}]`, scope);
    if (v) views.push(v);
  });
  return views;
}

/** The ARM resource id an entity names, if any (AzureResource: resourceId; Host: azureID; flat JSON: ResourceId / AzureID). */
export function resourceIdOf(props: Json): string | undefined {
  return str(prop(props, 'resourceId', 'azureResourceId', 'azureID', 'AzureId', 'id'), 2048);
}

/** The cluster a K8s entity belongs to, following Cluster → CloudResource references when present. */
export function clusterOfEntity(e: EntityView, depth = 0): ClusterRef | undefined {
  if (depth > MAX_REF_DEPTH) return undefined;
  if (e.kind === 'azureresource') {
    const id = resourceIdOf(e.props);
    return id ? findManagedClusterId(id) : undefined;
  }
  const follow = (value: unknown): ClusterRef | undefined => {
    const target = deref(value, e.scope);
    if (!target) return undefined;
    const direct = resourceIdOf(propsOf(target));
    if (direct) {
      const ref = findManagedClusterId(direct);
      if (ref) return ref;
    }
    const view = entityView(target, e.path, e.scope);
    return view ? clusterOfEntity(view, depth + 1) : undefined;
  };
  switch (e.kind) {
    case 'k8scluster': {
      const own = resourceIdOf(e.props);
      return follow(prop(e.props, 'cloudResource')) ?? (own ? findManagedClusterId(own) : undefined);
    }
    case 'k8snamespace':
      return follow(prop(e.props, 'cluster'));
    case 'k8spod':
      return follow(prop(e.props, 'namespace'));
    case 'container':
      return follow(prop(e.props, 'pod'));
    default:
      return undefined;
  }
}

const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const name = (props: Json): string | undefined => str(prop(props, 'name', 'friendlyName'), 253);

function namespaceName(value: unknown, scope: Map<string, Json>): string | undefined {
  if (typeof value === 'string') return str(value, 63);
  const target = deref(value, scope);
  return target ? name(propsOf(target)) : undefined;
}

/** "namespace/pod" of a K8s-pod entity (or of a container entity's pod), validated. */
export function podKeyOf(e: EntityView): string | undefined {
  let podProps: Json | undefined;
  if (e.kind === 'k8spod') podProps = e.props;
  else if (e.kind === 'container') {
    const pod = deref(prop(e.props, 'pod'), e.scope);
    podProps = pod ? propsOf(pod) : undefined;
    if (!podProps) {
      const podName = str(prop(e.props, 'podName'), 253);
      const ns = str(prop(e.props, 'namespace', 'podNamespace'), 63);
      const key = podName && ns ? `${ns}/${podName}` : undefined;
      return key && isNamespacedPod(key) ? key : undefined;
    }
  }
  if (!podProps) return undefined;
  const podName = name(podProps);
  const ns = namespaceName(prop(podProps, 'namespace'), e.scope);
  const key = podName && ns ? `${ns}/${podName}` : undefined;
  return key && isNamespacedPod(key) ? key : undefined;
}

/** The namespace a K8s-namespace, K8s-pod or container entity names, validated as a namespace name. */
export function namespaceOf(e: EntityView): string | undefined {
  const ns = e.kind === 'k8snamespace' ? name(e.props) : podKeyOf(e)?.split('/')[0];
  return ns && NAMESPACE.test(ns) ? ns : undefined;
}

/** Kubernetes node names are DNS-1123 subdomains; AKS nodes are "aks-<pool>-<n>-vmss<6 base-36 digits>". */
const NODE_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;
const AKS_NODE = /^aks-[a-z0-9]+-\d+-vmss[0-9a-z]{6}$/;

/**
 * The Kubernetes node a Host entity names, when it looks like an AKS node (its host name is
 * the node name). Other hosts (workstations, VMs outside AKS) are not nodes of any cluster.
 */
export function aksNodeNameOf(e: EntityView): string | undefined {
  if (e.kind !== 'host') return undefined;
  const host = str(prop(e.props, 'hostName', 'HostName'), 253)?.toLowerCase();
  return host && NODE_NAME.test(host) && AKS_NODE.test(host) ? host : undefined;
}

/**
 * The node name of a scale-set VM id in an AKS node resource group:
 * …/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/2 → aks-nodepool1-12345678-vmss000002
 * (AKS names a node after the scale set plus the instance id in base 36, six digits).
 */
export function aksNodeNameOfVmssVm(resourceId: string): string | undefined {
  const m = /\/virtualmachinescalesets\/(aks-[a-z0-9]+-\d+-vmss)\/virtualmachines\/(\d{1,9})(?:$|[/?#])/i.exec(resourceId);
  if (!m) return undefined;
  const node = `${m[1]!.toLowerCase()}${Number(m[2]).toString(36).padStart(6, '0')}`;
  return AKS_NODE.test(node) ? node : undefined;
}

/** The resource group (and subscription) of any ARM id, e.g. a VMSS in a node resource group. */
export function resourceGroupOf(resourceId: string): { subscriptionId: string; resourceGroup: string } | undefined {
  const m = /^\/subscriptions\/([0-9a-f-]{36})\/resourcegroups\/([-\w.()]{1,90})(?:\/|$)/i.exec(resourceId.trim());
  return m ? { subscriptionId: m[1]!.toLowerCase(), resourceGroup: m[2]! } : undefined;
}

/** ARM ids that point into an AKS node resource group: scale sets, their VMs, VMs, disks, NICs… (not clusters). */
export function nodeResourceIdsOf(e: EntityView): string[] {
  const id = resourceIdOf(e.props);
  if (!id || findManagedClusterId(id) || !resourceGroupOf(id)) return [];
  return /\/providers\/microsoft\.compute\/(virtualmachinescalesets|virtualmachines)\//i.test(id) || /\/resourcegroups\/mc_/i.test(id) ? [id] : [];
}
