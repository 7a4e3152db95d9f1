import type { KubeListItem } from '../cluster/paginate.js';
import { podContainers, restartCount, type PodContainer } from '../sources/common/pods.js';
import { obj } from '../util/values.js';

/**
 * When a pod change means its logs are about to go: the pod is being deleted (terminating: the
 * kubelet still serves them during the grace period) or is gone, a container terminated, or a
 * container restarted (the kubelet keeps only the previous instance's log: one more restart and
 * it is gone). Each such change asks for the affected containers' logs at once.
 */

export type LogTriggerReason = 'terminating' | 'deleted' | 'terminated' | 'restarted';

export interface LogFetchRequest {
  container: PodContainer;
  /** The previous (restarted) instance's log. */
  previous: boolean;
  /** Which instance of the container: its restart count when it ran (0 = first). */
  instance: number;
  reason: LogTriggerReason;
}

export interface PodTrigger {
  reason: LogTriggerReason;
  fetches: LogFetchRequest[];
  /** Restarts between two looks whose logs no kubelet keeps any more (more than one restart). */
  lostInstances: { container: string; from: number; to: number }[];
}

function terminated(container: PodContainer | undefined): boolean {
  return container !== undefined && obj(obj(container.status).state).terminated !== undefined;
}

function restarted(container: PodContainer): boolean {
  return restartCount(container.status) > 0 || obj(obj(container.status).lastState).terminated !== undefined;
}

/** Every log stream of a pod: each container's current instance, and the previous one where it restarted. */
function allStreams(pod: KubeListItem, reason: LogTriggerReason): LogFetchRequest[] {
  const out: LogFetchRequest[] = [];
  for (const container of podContainers(pod)) {
    const n = restartCount(container.status);
    out.push({ container, previous: false, instance: n, reason });
    if (restarted(container)) out.push({ container, previous: true, instance: Math.max(0, n - 1), reason });
  }
  return out;
}

/** The logs a pod event asks for (undefined when it asks for none). */
export function podLogTrigger(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: KubeListItem, previous: KubeListItem | undefined): PodTrigger | undefined {
  if (type === 'DELETED') return { reason: 'deleted', fetches: allStreams(pod, 'deleted'), lostInstances: [] };
  if (type === 'ADDED' || !previous) return undefined;
  const wasTerminating = previous.metadata?.['deletionTimestamp'] !== undefined;
  const isTerminating = pod.metadata?.['deletionTimestamp'] !== undefined;
  if (isTerminating && !wasTerminating) return { reason: 'terminating', fetches: allStreams(pod, 'terminating'), lostInstances: [] };

  const before = new Map(podContainers(previous).map((c) => [c.name, c] as const));
  const fetches: LogFetchRequest[] = [];
  const lostInstances: PodTrigger['lostInstances'] = [];
  let reason: LogTriggerReason | undefined;
  for (const container of podContainers(pod)) {
    const old = before.get(container.name);
    const was = restartCount(old?.status);
    const now = restartCount(container.status);
    if (now > was) {
      // The instance that just ended is now "previous"; the new one has started.
      fetches.push({ container, previous: true, instance: now - 1, reason: 'restarted' });
      fetches.push({ container, previous: false, instance: now, reason: 'restarted' });
      if (now - was > 1) lostInstances.push({ container: container.name, from: was, to: now - 2 });
      reason = 'restarted';
    } else if (terminated(container) && !terminated(old)) {
      fetches.push({ container, previous: false, instance: now, reason: 'terminated' });
      reason ??= 'terminated';
    }
  }
  return reason ? { reason, fetches, lostInstances } : undefined;
}

/**
 * A pod the window finds already terminating when it starts afresh (deleted between the first
 * collection and the window): its logs are fetched at once, as for a deletion seen by the watch.
 */
export function podStartTrigger(pod: KubeListItem): PodTrigger | undefined {
  if (pod.metadata?.['deletionTimestamp'] === undefined) return undefined;
  return { reason: 'terminating', fetches: allStreams(pod, 'terminating'), lostInstances: [] };
}
