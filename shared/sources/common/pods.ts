import { KubeApi, KubeApiError } from '../../cluster/kubeApi.js';
import { withTypeMeta, type KubeListItem } from '../../cluster/paginate.js';
import { isAbortError } from '../../cluster/retry.js';
import { gapFromError, isExpectedKubeFailure, listResource, requestOptions, type ListEvent } from './listResource.js';
import { namespaceSelected } from './namespaces.js';
import { inPodShard } from './shard.js';
import { arr, obj, str } from '../../util/values.js';
import type { SourceContext } from '../types.js';

/**
 * The pods a pod-based source works on: the trigger's priority pods first (fetched one by
 * one, before any list page), then the pods on the nodes and in the namespaces the trigger
 * named, then every other pod of the run from the paginated list.
 * With ctx.shard (when `sharded`), only the pods of that shard. A pod list that cannot be read
 * (or read to its end) is a gap marked as a failed prerequisite.
 */
export async function* iteratePods(ctx: SourceContext, source: string, options: { sharded: boolean }): AsyncGenerator<ListEvent> {
  const shard = options.sharded ? ctx.shard : undefined;
  const api = KubeApi.for(ctx.kubeConfig);
  const done = new Set<string>();
  for (const ref of ctx.priorityPods ?? []) {
    const slash = ref.indexOf('/');
    if (slash <= 0 || slash === ref.length - 1) continue;
    const namespace = ref.slice(0, slash);
    const name = ref.slice(slash + 1);
    const key = `${namespace}/${name}`;
    if (done.has(key) || !namespaceSelected(namespace, ctx.namespaces) || !inPodShard(namespace, name, shard)) continue;
    done.add(key);
    try {
      const pod = await api.getJson<KubeListItem>(`/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`, undefined, requestOptions(ctx));
      yield { kind: 'object', object: withTypeMeta(pod, 'v1', 'Pod') };
    } catch (error) {
      if (isAbortError(error) || ctx.abortSignal?.aborted || !isExpectedKubeFailure(error)) throw error;
      const vanished = error instanceof KubeApiError && error.status === 404;
      yield {
        kind: 'gap',
        gap: vanished
          ? { source, reason: 'pod-vanished', detail: 'priority pod named by the trigger no longer exists', resource: `pods ${key}`, namespace, pod: name }
          : gapFromError(source, error, `pods ${key}`, { namespace, pod: name }),
      };
    }
  }
  // Then the pods on the nodes and in the namespaces the trigger named, before the rest of the cluster.
  const podsListing = { source, groupVersionPath: '/api/v1', resource: 'pods', namespaced: true } as const;
  const priorityLists: { ctx: SourceContext; fieldSelector?: string }[] = [
    ...[...new Set(ctx.priorityNodes ?? [])].map((node) => ({ ctx, fieldSelector: `spec.nodeName=${node}` })),
    ...[...new Set(ctx.priorityNamespaces ?? [])]
      .filter((ns) => namespaceSelected(ns, ctx.namespaces))
      .map((ns) => ({ ctx: { ...ctx, namespaces: { include: [ns], ...(ctx.namespaces.exclude ? { exclude: ctx.namespaces.exclude } : {}) } } })),
  ];
  for (const list of priorityLists) {
    for await (const event of listResource(list.ctx, { ...podsListing, ...(list.fieldSelector ? { fieldSelector: list.fieldSelector } : {}) })) {
      if (event.kind === 'coverage') continue;
      if (event.kind === 'object') {
        const namespace = str(event.object.metadata?.namespace);
        const name = str(event.object.metadata?.name);
        const key = `${namespace}/${name}`;
        if (done.has(key) || !namespaceSelected(namespace, ctx.namespaces) || !inPodShard(namespace, name, shard)) continue;
        done.add(key);
      }
      yield event;
    }
  }
  for await (const event of listResource(ctx, podsListing)) {
    if (event.kind === 'object') {
      const namespace = str(event.object.metadata?.namespace);
      const name = str(event.object.metadata?.name);
      if (done.has(`${namespace}/${name}`) || !inPodShard(namespace, name, shard)) continue;
    }
    // The pod list is what a pod-based source works from: without it, what is missing has no
    // name. Its failure is a failed prerequisite (the task fails, the run names it).
    if (event.kind === 'gap') yield { kind: 'gap', gap: { ...event.gap, prerequisite: 'pod list' } };
    else yield event;
  }
}

export type ContainerType = 'container' | 'init' | 'ephemeral';

/** One container of a pod with its status (undefined when the pod reports none for it). */
export interface PodContainer {
  name: string;
  type: ContainerType;
  image: string;
  status: Record<string, unknown> | undefined;
}

const GROUPS: [ContainerType, string, string][] = [
  ['init', 'initContainers', 'initContainerStatuses'],
  ['container', 'containers', 'containerStatuses'],
  ['ephemeral', 'ephemeralContainers', 'ephemeralContainerStatuses'],
];

/** Every container of a pod (init, regular, ephemeral), with its status. */
export function podContainers(pod: Record<string, unknown>): PodContainer[] {
  const spec = obj(pod.spec);
  const status = obj(pod.status);
  const result: PodContainer[] = [];
  for (const [type, specField, statusField] of GROUPS) {
    const statuses = new Map(
      arr(status[statusField])
        .map(obj)
        .map((s) => [str(s.name), s] as const),
    );
    for (const c of arr(spec[specField]).map(obj)) {
      result.push({ name: str(c.name), type, image: str(c.image), status: statuses.get(str(c.name)) });
    }
  }
  return result;
}

/** The state a container status reports, as one phrase: "running", "waiting: CrashLoopBackOff", "terminated: Completed (exit 0)". */
export function describeContainerState(status: Record<string, unknown> | undefined): string {
  if (!status) return 'no status reported (pod not scheduled or not started)';
  const state = obj(status.state);
  if (state.running !== undefined) return 'running';
  if (state.terminated !== undefined) {
    const t = obj(state.terminated);
    return `terminated: ${str(t.reason) || 'unknown'} (exit ${str(t.exitCode)})`;
  }
  if (state.waiting !== undefined) return `waiting: ${str(obj(state.waiting).reason) || 'unknown'}`;
  return 'state unknown';
}

export function isRunning(status: Record<string, unknown> | undefined): boolean {
  return status !== undefined && obj(status.state).running !== undefined;
}

export function restartCount(status: Record<string, unknown> | undefined): number {
  const n = status?.restartCount;
  return typeof n === 'number' ? n : 0;
}
