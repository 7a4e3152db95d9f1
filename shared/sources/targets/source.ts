import { KubeApi, KubeApiError } from '../../cluster/kubeApi.js';
import { listAll, withTypeMeta, type KubeListItem } from '../../cluster/paginate.js';
import { isAbortError } from '../../cluster/retry.js';
import { toRfc3339 } from '../../util/time.js';
import { arr, firstTime, obj, str } from '../../util/values.js';
import { gapFromError, isExpectedKubeFailure, requestOptions } from '../common/listResource.js';
import { namespaceSelected } from '../common/namespaces.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { TARGETS_TABLE } from './table.js';

/**
 * "Describe the targets": what `kubectl describe` would show for the pods, namespaces and
 * nodes the trigger named (a Sentinel incident's K8s-pod / K8s-namespace / Host entities),
 * kept before anything else can change: the pod as served, its owner chain
 * (ReplicaSet → Deployment, Job → CronJob, StatefulSet, DaemonSet, ReplicationController),
 * the named namespaces and nodes, and the events of each of them. Raw objects go to the
 * bundle as served; one kubetargets_CL row per object and per event (the timeline shows them
 * as IncidentTarget), and a coverage entry that marks what was described in the manifest.
 *
 * Self-contained on purpose: registered with one line in the pipeline's source list.
 */
export const TARGETS_SOURCE = 'targets';

interface OwnerType {
  group: string;
  version: string;
  /** Plural resource name; also the raw stream the objects go to. */
  resource: string;
  kind: string;
  namespaced: boolean;
  /** API path prefix of the group/version, e.g. /apis/apps/v1. */
  prefix: string;
}

const type = (group: string, version: string, resource: string, kind: string, namespaced = true): OwnerType => ({
  group,
  version,
  resource,
  kind,
  namespaced,
  prefix: group ? `/apis/${group}/${version}` : `/api/${version}`,
});

const POD = type('', 'v1', 'pods', 'Pod');
const NAMESPACE = type('', 'v1', 'namespaces', 'Namespace', false);
const NODE = type('', 'v1', 'nodes', 'Node', false);
/** Owner kinds a workload's chain goes through, by "apiVersion/kind". */
const OWNER_TYPES = new Map<string, OwnerType>(
  [
    type('apps', 'v1', 'replicasets', 'ReplicaSet'),
    type('apps', 'v1', 'deployments', 'Deployment'),
    type('apps', 'v1', 'statefulsets', 'StatefulSet'),
    type('apps', 'v1', 'daemonsets', 'DaemonSet'),
    type('batch', 'v1', 'jobs', 'Job'),
    type('batch', 'v1', 'cronjobs', 'CronJob'),
    type('', 'v1', 'replicationcontrollers', 'ReplicationController'),
  ].map((t) => [`${t.group ? `${t.group}/` : ''}${t.version}/${t.kind}`, t]),
);
/** Owner chains are short (pod → ReplicaSet → Deployment); a longer one is a loop or a custom controller tower. */
const MAX_CHAIN = 5;
/** Events kept per described object. */
const EVENTS_PER_OBJECT = 500;
/** Targets described per run, at most (the request caps priority pods at 1,000). */
const MAX_PODS = 200;

/** Images of a pod spec or a workload's pod template (CronJob: jobTemplate.spec.template), init and ephemeral included. */
function imagesOf(object: Record<string, unknown>): { images: string[]; serviceAccount: string } {
  const spec = obj(object.spec);
  const podSpec = obj(object.kind === 'Pod' ? spec : object.kind === 'CronJob' ? obj(obj(obj(spec.jobTemplate).spec).template).spec : obj(spec.template).spec);
  const images = new Set<string>();
  for (const field of ['initContainers', 'containers', 'ephemeralContainers']) for (const c of arr(podSpec[field]).map(obj)) if (str(c.image)) images.add(str(c.image));
  return { images: [...images], serviceAccount: str(podSpec.serviceAccountName ?? podSpec.serviceAccount) };
}

/** The kubetargets_CL row of one described object. */
export function targetRow(object: Record<string, unknown>, t: OwnerType, reason: string, collectedAt: string): Row {
  const metadata = obj(object.metadata);
  const owners = arr(metadata.ownerReferences).map(obj);
  const owner = owners.find((o) => o.controller === true) ?? owners[0] ?? {};
  const namespace = str(metadata.namespace);
  const name = str(metadata.name);
  const created = firstTime(metadata.creationTimestamp);
  const { images, serviceAccount } = imagesOf(object);
  return {
    TimeGenerated: created ?? collectedAt,
    kind: t.kind,
    api_version: t.group ? `${t.group}/${t.version}` : t.version,
    namespace,
    name,
    pod: t.kind === 'Pod' ? name : '',
    uid: str(metadata.uid),
    creation_time: created ?? null,
    resource_version: str(metadata.resourceVersion),
    owner_kind: str(owner.kind),
    owner_name: str(owner.name),
    node_name: t.kind === 'Pod' ? str(obj(object.spec).nodeName) : '',
    service_account: serviceAccount,
    images: JSON.stringify(images),
    phase: str(obj(object.status).phase),
    target_reason: reason,
    event_reason: '',
    event_message: '',
    event_count: null,
    summary: `${t.kind} ${namespace ? `${namespace}/` : ''}${name} (incident target: ${reason})`.slice(0, 1000),
    raw_stream: t.resource,
  };
}

/** The kubetargets_CL row of an event about a described object. */
export function targetEventRow(event: Record<string, unknown>, about: { kind: string; namespace?: string; name: string }, collectedAt: string): Row {
  const metadata = obj(event.metadata);
  const series = obj(event.series);
  const reason = str(event.reason);
  const message = str(event.message);
  const count = typeof event.count === 'number' ? event.count : typeof series.count === 'number' ? series.count : 1;
  const where = `${about.namespace ? `${about.namespace}/` : ''}${about.name}`;
  return {
    TimeGenerated: firstTime(event.lastTimestamp, series.lastObservedTime, event.eventTime, event.firstTimestamp, metadata.creationTimestamp) ?? collectedAt,
    kind: 'Event',
    api_version: 'v1',
    namespace: str(metadata.namespace),
    name: str(metadata.name),
    pod: about.kind === 'Pod' ? about.name : '',
    uid: str(metadata.uid),
    creation_time: firstTime(metadata.creationTimestamp) ?? null,
    resource_version: str(metadata.resourceVersion),
    owner_kind: '',
    owner_name: '',
    node_name: '',
    service_account: '',
    images: '[]',
    phase: '',
    target_reason: `event of ${about.kind} ${where}`,
    event_reason: reason,
    event_message: message.slice(0, 4096),
    event_count: count,
    summary: `${about.kind} ${where}: ${reason} ${message}`.slice(0, 1000),
    raw_stream: 'events',
  };
}

async function* describeTargets(ctx: SourceContext): AsyncGenerator<SourceItem> {
  const api = KubeApi.for(ctx.kubeConfig);
  const opts = requestOptions(ctx);
  const collectedAt = () => toRfc3339(ctx.clock());
  const described: { kind: string; namespace?: string; name: string; target: string }[] = [];
  const missing: string[] = [];

  const get = async (t: OwnerType, name: string, namespace?: string): Promise<{ object: KubeListItem; gap?: undefined } | { object?: undefined; gap: SourceItem }> => {
    const path = `${t.prefix}${namespace ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${t.resource}/${encodeURIComponent(name)}`;
    const where = `${t.resource} ${namespace ? `${namespace}/` : ''}${name}`;
    try {
      return { object: withTypeMeta(await api.getJson<KubeListItem>(path, undefined, opts), t.group ? `${t.group}/${t.version}` : t.version, t.kind) };
    } catch (error) {
      if (isAbortError(error) || ctx.abortSignal?.aborted || !isExpectedKubeFailure(error)) throw error;
      const gone = error instanceof KubeApiError && error.status === 404;
      if (gone) missing.push(where);
      return {
        gap: {
          kind: 'gap',
          gap: gone
            ? {
                source: TARGETS_SOURCE,
                reason: 'not-found',
                detail: `${t.kind} named by the trigger (or in its owner chain) no longer exists`,
                resource: where,
                ...(namespace ? { namespace } : {}),
              }
            : gapFromError(TARGETS_SOURCE, error, where, namespace ? { namespace } : {}),
        },
      };
    }
  };

  /** The object as served, its row, and its events. */
  async function* keep(t: OwnerType, object: KubeListItem, target: string): AsyncGenerator<SourceItem> {
    const metadata = obj(object.metadata);
    const namespace = str(metadata.namespace) || undefined;
    const name = str(metadata.name);
    yield { kind: 'raw', object, stream: t.resource };
    yield { kind: 'row', row: targetRow(object, t, target, collectedAt()) };
    described.push({ kind: t.kind, ...(namespace ? { namespace } : {}), name, target });
    const uid = str(metadata.uid);
    if (!uid) return;
    // Events about exactly this object (its uid), from its namespace (cluster-scoped objects: "default", where node events live).
    const eventsNamespace = namespace ?? (t.kind === 'Namespace' ? name : 'default');
    const eventsPath = `/api/v1/namespaces/${encodeURIComponent(eventsNamespace)}/events`;
    let n = 0;
    try {
      for await (const event of listAll(api, eventsPath, { ...opts, fieldSelector: `involvedObject.uid=${uid}`, limit: 250 })) {
        // The field selector already says so; checked again so a server that ignores it cannot mix in other objects' events.
        if (str(obj(event.involvedObject).uid) !== uid) continue;
        if (++n > EVENTS_PER_OBJECT) break;
        const e = withTypeMeta(event, 'v1', 'Event');
        yield { kind: 'raw', object: e, stream: 'events' };
        yield { kind: 'row', row: targetEventRow(e, { kind: t.kind, ...(namespace ? { namespace } : {}), name }, collectedAt()) };
      }
    } catch (error) {
      if (isAbortError(error) || ctx.abortSignal?.aborted || !isExpectedKubeFailure(error)) throw error;
      yield { kind: 'gap', gap: gapFromError(TARGETS_SOURCE, error, `events of ${t.kind} ${namespace ? `${namespace}/` : ''}${name}`, namespace ? { namespace } : {}) };
    }
  }

  const pods = [...new Set(ctx.priorityPods ?? [])].slice(0, MAX_PODS);
  for (const ref of pods) {
    const [namespace = '', name = ''] = ref.split('/');
    if (!namespace || !name || !namespaceSelected(namespace, ctx.namespaces)) continue;
    const got = await get(POD, name, namespace);
    if (!got.object) {
      yield got.gap;
      continue;
    }
    const pod = got.object;
    yield* keep(POD, pod, `pod ${ref}`);
    // The owner chain: controller references up to the top-level workload.
    let current: KubeListItem = pod;
    for (let depth = 0; depth < MAX_CHAIN; depth++) {
      const owners = arr(obj(current.metadata).ownerReferences).map(obj);
      const owner = owners.find((o) => o.controller === true) ?? owners[0];
      if (!owner) break;
      const ownerType = OWNER_TYPES.get(`${str(owner.apiVersion)}/${str(owner.kind)}`);
      if (!ownerType) {
        yield {
          kind: 'gap',
          gap: {
            source: TARGETS_SOURCE,
            reason: 'unsupported',
            detail: `owner ${str(owner.kind)} (${str(owner.apiVersion)}) of ${str(obj(current.metadata).name)} is not a built-in workload kind: not described here (the snapshot source keeps every listable object)`,
            resource: `${str(owner.kind)} ${namespace}/${str(owner.name)}`,
            namespace,
          },
        };
        break;
      }
      const next = await get(ownerType, str(owner.name), namespace);
      if (!next.object) {
        yield next.gap;
        break;
      }
      yield* keep(ownerType, next.object, `owner of pod ${ref}`);
      current = next.object;
    }
  }
  for (const namespace of [...new Set(ctx.priorityNamespaces ?? [])].slice(0, 100)) {
    if (!namespaceSelected(namespace, ctx.namespaces)) continue;
    const ns = await get(NAMESPACE, namespace);
    if (ns.object) yield* keep(NAMESPACE, ns.object, `namespace ${namespace}`);
    else yield ns.gap;
  }
  for (const nodeName of [...new Set(ctx.priorityNodes ?? [])].slice(0, 100)) {
    const node = await get(NODE, nodeName);
    if (node.object) yield* keep(NODE, node.object, `node ${nodeName}`);
    else yield node.gap;
  }

  yield {
    kind: 'coverage',
    coverage: {
      [TARGETS_SOURCE]: {
        named: { pods: pods.length, namespaces: ctx.priorityNamespaces?.length ?? 0, nodes: ctx.priorityNodes?.length ?? 0 },
        described: described.slice(0, 1000),
        ...(missing.length ? { notFound: missing.slice(0, 200) } : {}),
        ...(pods.length + (ctx.priorityNamespaces?.length ?? 0) + (ctx.priorityNodes?.length ?? 0) === 0 ? { note: 'the trigger named no pod, namespace or node' } : {}),
      },
    },
  };
}

export const targetsSource: SourceDefinition = {
  name: TARGETS_SOURCE,
  description: "The pods, namespaces and nodes the trigger named, described in full first: each object as served, the pod's owner chain and every event about them.",
  tables: [TARGETS_TABLE],
  kubernetesAccess: [
    kubeAccess('get', 'pods'),
    kubeAccess('get', 'replicasets', { group: 'apps' }),
    kubeAccess('get', 'deployments', { group: 'apps' }),
    kubeAccess('get', 'statefulsets', { group: 'apps' }),
    kubeAccess('get', 'daemonsets', { group: 'apps' }),
    kubeAccess('get', 'jobs', { group: 'batch' }),
    kubeAccess('get', 'cronjobs', { group: 'batch' }),
    kubeAccess('get', 'replicationcontrollers'),
    kubeAccess('get', 'namespaces'),
    kubeAccess('get', 'nodes'),
    kubeAccess('list', 'events'),
  ],
  azurePermissions: [
    clusterRead('pods', 'targets: the pods the trigger named'),
    clusterRead('apps/replicasets', 'targets: owner chain'),
    clusterRead('apps/deployments', 'targets: owner chain'),
    clusterRead('apps/statefulsets', 'targets: owner chain'),
    clusterRead('apps/daemonsets', 'targets: owner chain'),
    clusterRead('batch/jobs', 'targets: owner chain'),
    clusterRead('batch/cronjobs', 'targets: owner chain'),
    clusterRead('replicationcontrollers', 'targets: owner chain'),
    clusterRead('namespaces', 'targets: the namespaces the trigger named'),
    clusterRead('nodes', 'targets: the nodes the trigger named'),
    clusterRead('events', 'targets: events about each described object'),
  ],
  collect: describeTargets,
};
