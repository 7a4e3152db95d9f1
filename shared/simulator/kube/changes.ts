/**
 * Scripted changes over time, as a cluster under attack (or under a kubelet) makes them: delete
 * a pod (terminating first, then gone, its logs with it), restart a container (restartCount + 1,
 * the old instance's log becomes `previous`, the new one starts empty), emit an event, append
 * log lines, edit any object (a RoleBinding gaining a subject). Each change is a new
 * resourceVersion and a watch event. Driven by a test through FixtureCluster.changes, or by a
 * scenario's timeline (times relative to the server's start).
 */
import { randomBytes } from 'node:crypto';
import type { ClusterChanges, ContainerLogs, KubeObject, Scenario, TimelineStep } from './scenario.js';
import type { ObjectStore } from './store.js';

export type { ClusterChanges } from './scenario.js';

interface ContainerStatusLike {
  name: string;
  restartCount?: number;
  state?: Record<string, { startedAt?: string; [k: string]: unknown } | undefined>;
  lastState?: Record<string, unknown>;
  [k: string]: unknown;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function clusterChanges(store: ObjectStore, scenario: Scenario, now: () => Date): ClusterChanges {
  const put = (obj: KubeObject): KubeObject => {
    const stored = store.put(obj, now().getTime());
    const i = scenario.objects.findIndex(
      (o) => o.kind === stored.kind && o.metadata.name === stored.metadata.name && (o.metadata.namespace ?? undefined) === (stored.metadata.namespace ?? undefined),
    );
    if (i >= 0) scenario.objects[i] = stored;
    else scenario.objects.push(stored);
    return stored;
  };
  const get = (apiVersion: string, kind: string, namespace: string | undefined, name: string): { key: string; obj: KubeObject } => {
    const key = store.storeKeyFor(apiVersion, kind);
    const obj = key ? store.get(key, namespace, name) : undefined;
    if (!key || !obj) throw new Error(`simulator: no ${kind} ${namespace ? `${namespace}/` : ''}${name}`);
    return { key, obj };
  };

  const pending = new Set<NodeJS.Timeout>();
  const changes: ClusterChanges = {
    deletePod(namespace, name, options = {}) {
      const { key, obj } = get('v1', 'Pod', namespace, name);
      const grace = options.graceMs ?? 0;
      const terminating = structuredClone(obj);
      terminating.metadata['deletionTimestamp'] = iso(now().getTime() + grace);
      terminating.metadata['deletionGracePeriodSeconds'] = Math.ceil(grace / 1000);
      put(terminating);
      const gone = (): void => {
        if (!store.get(key, namespace, name)) return;
        store.delete(key, namespace, name, now().getTime());
        const i = scenario.objects.findIndex((o) => o.kind === 'Pod' && o.metadata.name === name && o.metadata.namespace === namespace);
        if (i >= 0) scenario.objects.splice(i, 1);
        for (const k of Object.keys(scenario.logs ?? {})) if (k.startsWith(`${namespace}/${name}/`)) delete scenario.logs![k];
      };
      if (grace > 0) {
        const t = setTimeout(() => {
          pending.delete(t);
          gone();
        }, grace).unref();
        pending.add(t);
      } else gone();
    },

    dispose() {
      for (const t of pending) clearTimeout(t);
      pending.clear();
    },

    restartContainer(namespace, podName, container, options = {}) {
      const { obj } = get('v1', 'Pod', namespace, podName);
      const pod = structuredClone(obj) as KubeObject & { status?: { containerStatuses?: ContainerStatusLike[]; initContainerStatuses?: ContainerStatusLike[] } };
      const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
      const st = statuses.find((s) => s.name === container);
      if (!st) throw new Error(`simulator: pod ${namespace}/${podName} has no container status for ${container}`);
      const t = now().getTime();
      const startedAt = st.state?.['running']?.startedAt ?? String(pod.metadata.creationTimestamp ?? iso(t));
      st.lastState = { terminated: { exitCode: options.exitCode ?? 137, reason: options.reason ?? 'Error', startedAt, finishedAt: iso(t) } };
      st.state = { running: { startedAt: iso(t + 1000) } };
      st.restartCount = (st.restartCount ?? 0) + 1;
      put(pod);
      // The kubelet keeps one previous instance's log: the current one moves there.
      scenario.logs ??= {};
      const key = `${namespace}/${podName}/${container}`;
      const logs: ContainerLogs = scenario.logs[key] ?? {};
      const next: ContainerLogs = { current: options.newLines ?? [] };
      if (logs.current !== undefined || logs.generated === undefined) next.previous = logs.current ?? [];
      if (logs.generated) next.generatedPrevious = logs.generated;
      scenario.logs[key] = next;
      const involved = { kind: 'Pod', name: podName, namespace, apiVersion: 'v1', fieldPath: `spec.containers{${container}}` };
      changes.emitEvent({
        namespace,
        involvedObject: involved,
        reason: 'BackOff',
        message: `Back-off restarting failed container ${container} in pod ${podName}_${namespace}(${obj.metadata.uid ?? ''})`,
        type: 'Warning',
        component: 'kubelet',
      });
      changes.emitEvent({ namespace, involvedObject: involved, reason: 'Started', message: `Started container ${container}`, component: 'kubelet' });
    },

    emitEvent(e) {
      const t = iso(now().getTime());
      const involved = { ...e.involvedObject, namespace: e.involvedObject.namespace ?? e.namespace };
      const ref = store.storeKeyFor(involved.apiVersion ?? 'v1', involved.kind);
      const target = ref ? store.get(ref, involved.namespace, involved.name) : undefined;
      const event: KubeObject = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.name}.${randomBytes(8).toString('hex')}`, namespace: e.namespace, creationTimestamp: t },
        involvedObject: { ...involved, ...(target?.metadata.uid ? { uid: target.metadata.uid } : {}) },
        reason: e.reason,
        message: e.message,
        type: e.type ?? 'Normal',
        source: { component: e.component ?? 'simulator' },
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
        reportingComponent: e.component ?? 'simulator',
      };
      return put(event);
    },

    appendLog(namespace, pod, container, lines) {
      get('v1', 'Pod', namespace, pod);
      scenario.logs ??= {};
      const key = `${namespace}/${pod}/${container}`;
      const logs = (scenario.logs[key] ??= {});
      if (logs.generated) throw new Error(`simulator: ${key} has a generated log; append to explicit logs only`);
      const t = iso(now().getTime());
      logs.current = [...(logs.current ?? []), ...lines.map((l) => ({ time: l.time ?? t, message: l.message }))];
    },

    modifyObject(apiVersion, kind, namespace, name, edit) {
      const { obj } = get(apiVersion, kind, namespace, name);
      const copy = structuredClone(obj);
      edit(copy);
      return put(copy);
    },
  };
  return changes;
}

/** Run a scenario timeline: each step at its offset (ms after `start`) on real timers. Returns a stop function. */
export function runTimeline(steps: readonly TimelineStep[], changes: ClusterChanges, onError: (step: TimelineStep, error: unknown) => void): () => void {
  const timers = steps.map((step) =>
    setTimeout(() => {
      try {
        applyStep(step, changes);
      } catch (e) {
        onError(step, e);
      }
    }, step.afterMs).unref(),
  );
  return () => timers.forEach((t) => clearTimeout(t));
}

export function applyStep(step: TimelineStep, changes: ClusterChanges): void {
  switch (step.action) {
    case 'deletePod':
      return changes.deletePod(step.namespace, step.pod, step.graceMs !== undefined ? { graceMs: step.graceMs } : {});
    case 'restartContainer':
      return changes.restartContainer(step.namespace, step.pod, step.container, {
        ...(step.newLines ? { newLines: step.newLines } : {}),
        ...(step.exitCode !== undefined ? { exitCode: step.exitCode } : {}),
      });
    case 'emitEvent':
      changes.emitEvent(step.event);
      return;
    case 'appendLog':
      return changes.appendLog(step.namespace, step.pod, step.container, step.lines);
    case 'addSubject':
      changes.modifyObject('rbac.authorization.k8s.io/v1', step.kind, step.namespace, step.name, (o) => {
        o['subjects'] = [...((o['subjects'] as unknown[] | undefined) ?? []), step.subject];
      });
      return;
  }
}
