import { KubeApi, describeKubeError, gapReasonFor, kubeErrorStatus } from '../../cluster/kubeApi.js';
import { isAbortError } from '../../cluster/retry.js';
import type { Gap } from '../../evidence/types.js';
import { toRfc3339 } from '../../util/time.js';
import { consumeProduced, ItemQueue } from '../common/itemQueue.js';
import { isExpectedKubeFailure } from '../common/listResource.js';
import { splitLogLine } from '../../util/lines.js';
import { LogStreamIdleError, LogStreamInterruptedError, streamContainerLog, type LogStreamResume } from '../../cluster/podLogStream.js';
import { describeContainerState, iteratePods, podContainers, restartCount, type ContainerType, type PodContainer } from '../common/pods.js';
import { obj, str } from '../../util/values.js';
import { redactedMapJson } from '../../util/valueRedaction.js';
import { TaskPool } from '../common/taskPool.js';
import { StreamAdmission } from '../common/admission.js';
import { clusterRead, kubeAccess, queueWeight, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { CONTAINER_LOGS_TABLE } from './table.js';
import { LogRowEncoder, SlabPool, type LogRowColumns } from './rowBytes.js';

/**
 * Container logs: every container of every pod of the run (init and ephemeral too, finished
 * pods too), the current log and, wherever a container restarted, the previous one.
 * Lines stream from the API server into rows as they arrive, several logs at a time (a few,
 * up to ctx.concurrency as the run needs: StreamAdmission), through a bounded queue: memory
 * does not grow with log volume.
 */

const SOURCE = 'containerlogs';
/** Rows queued before log streams pause (a soft bound: one chunk's rows always go in whole). */
const LOG_QUEUE_ROWS = 1024;

/** Pod columns shared by every row of the pod, serialized once. */
interface PodColumns {
  namespace: string;
  pod_name: string;
  containerimages: string;
  labels: string;
  annotations: string;
  pod_uid: string;
  node_name: string;
}

interface LogTask {
  pod: PodColumns;
  container: PodContainer;
  previous: boolean;
}

export function podColumns(pod: Record<string, unknown>): PodColumns {
  const metadata = obj(pod.metadata);
  return {
    namespace: str(metadata.namespace),
    pod_name: str(metadata.name),
    containerimages: JSON.stringify(podContainers(pod).map((c) => c.image)),
    // Every row of the pod carries these: annotations holding object values (last-applied) are hashed.
    labels: redactedMapJson(metadata.labels),
    annotations: redactedMapJson(metadata.annotations),
    pod_uid: str(metadata.uid),
    node_name: str(obj(pod.spec).nodeName),
  };
}

/**
 * A kubelogs_CL row of one raw log line, as an object: the reference shape that
 * logRowSerializer writes as JSON text, byte for byte (the tests compare the two).
 */
export function logRow(
  pod: PodColumns,
  container: { name: string; type: ContainerType; image: string },
  previous: boolean,
  lineNumber: number,
  line: string,
  collectedAt: string,
): Row {
  const { timestamp, message } = splitLogLine(line);
  return {
    TimeGenerated: timestamp ?? collectedAt,
    message,
    container_name: container.name,
    namespace: pod.namespace,
    pod_name: pod.pod_name,
    containerimages: pod.containerimages,
    labels: pod.labels,
    annotations: pod.annotations,
    container_type: container.type,
    previous,
    timestamp_present: timestamp !== undefined,
    line_number: lineNumber,
    pod_uid: pod.pod_uid,
    node_name: pod.node_name,
    image: container.image,
  };
}

/** The JSON text of `value`'s members without the braces ('' for none). */
function members(value: Record<string, unknown>): string {
  return JSON.stringify(value).slice(1, -1);
}

/**
 * The JSON text of the columns every row of one container's log shares, around the per-line
 * ones: `middle` goes between message and timestamp_present, `end` closes the row.
 */
export function logRowColumns(pod: PodColumns, container: { name: string; type: ContainerType; image: string }, previous: boolean): LogRowColumns {
  const shared = members({
    container_name: container.name,
    namespace: pod.namespace,
    pod_name: pod.pod_name,
    containerimages: pod.containerimages,
    labels: pod.labels,
    annotations: pod.annotations,
    container_type: container.type,
    previous,
  });
  const tail = members({ pod_uid: pod.pod_uid, node_name: pod.node_name, image: container.image });
  return { middle: shared === '' ? '' : `,${shared}`, end: tail === '' ? '}' : `,${tail}}` };
}

/**
 * A serializer of one container's log lines into kubelogs_CL rows as JSON text, byte for byte
 * JSON.stringify(logRow(...)): the columns shared by every line of the stream are serialized
 * once, so a line costs its timestamp split and the JSON escaping of its message. The hot path
 * writes the same bytes without strings (rowBytes.ts); this is its reference and its fallback.
 */
export function logRowSerializer(
  pod: PodColumns,
  container: { name: string; type: ContainerType; image: string },
  previous: boolean,
): (lineNumber: number, line: string, collectedAt: string) => string {
  const { middle, end } = logRowColumns(pod, container, previous);
  return (lineNumber, line, collectedAt) => {
    const { timestamp, message } = splitLogLine(line);
    // Both times are RFC 3339 text (checked by splitLogLine, or made by toRfc3339): no escaping needed.
    return `{"TimeGenerated":"${timestamp ?? collectedAt}","message":${JSON.stringify(message)}${middle},"timestamp_present":${timestamp !== undefined},"line_number":${lineNumber}${end}`;
  };
}

/**
 * Which log streams of a pod to read, and which containers certainly have none (never started:
 * counted as coverage, not a gap — there is no log to miss).
 * A container with no status is still asked for (the API answers 400 if it never ran);
 * one that reports waiting with no restart has no log yet.
 */
export function planPodLogs(pod: Record<string, unknown>): { current: PodContainer[]; previous: PodContainer[]; notRunning: PodContainer[] } {
  const current: PodContainer[] = [];
  const previous: PodContainer[] = [];
  const notRunning: PodContainer[] = [];
  for (const container of podContainers(pod)) {
    const status = container.status;
    const state = obj(status?.state);
    const restarted = restartCount(status) > 0 || obj(status?.lastState).terminated !== undefined;
    const neverStarted = status !== undefined && state.waiting !== undefined && !restarted;
    if (neverStarted) notRunning.push(container);
    else current.push(container);
    if (restarted) previous.push(container);
  }
  return { current, previous, notRunning };
}

async function* collectContainerLogs(ctx: SourceContext): AsyncGenerator<SourceItem> {
  const api = KubeApi.for(ctx.kubeConfig);
  const stop = new AbortController();
  const signal = ctx.abortSignal ? AbortSignal.any([ctx.abortSignal, stop.signal]) : stop.signal;
  // A short queue: rows that wait long get promoted to V8's old space and linger as garbage.
  // Weighed in rows: each chunk of a log arrives as one 'rowsJson' item.
  const queue = new ItemQueue<SourceItem>(LOG_QUEUE_ROWS, queueWeight);
  // Streams open at once: from a few up to the source's share of the budget, as the run needs (admission.ts).
  const pool = new TaskPool(Math.max(1, ctx.concurrency));
  const admission = new StreamAdmission(pool, queue);
  const slabs = new SlabPool();
  const vanished = new Set<string>();
  const forbidden = { streams: 0, namespaces: new Set<string>(), first: '' };
  /** The task's coverage item: a container that never started has no log (a count, not a gap). */
  const coverage = { containers: 0, streams: 0, notStarted: 0, resumedStreams: 0, peakOpenStreams: 0 };
  let records = 0;

  const gap = (g: Omit<Gap, 'source'>): void => queue.put({ kind: 'gap', gap: { source: SOURCE, ...g } });
  const resumed = (task: LogTask, resumes: readonly LogStreamResume[]): void => {
    if (resumes.length > 0) coverage.resumedStreams++;
    for (const r of resumes) {
      queue.put({
        kind: 'resume',
        resume: { source: SOURCE, namespace: task.pod.namespace, pod: task.pod.pod_name, container: task.container.name, previous: task.previous, ...r },
      });
    }
  };

  const runTask = async (task: LogTask): Promise<void> => {
    const { pod, container, previous } = task;
    const key = `${pod.namespace}/${pod.pod_name}`;
    if (vanished.has(key)) return;
    const resource = `pods/log ${key} (${container.name}${previous ? ', previous' : ''})`;
    const where = { namespace: pod.namespace, pod: pod.pod_name, container: container.name, resource };
    let lineNumber = 0;
    const encoder = new LogRowEncoder(logRowColumns(pod, container, previous), logRowSerializer(pod, container, previous), slabs);
    try {
      const result = await streamContainerLog(
        api,
        { namespace: pod.namespace, pod: pod.pod_name, container: container.name, previous, sinceSeconds: ctx.sinceSeconds },
        {
          abortSignal: signal,
          ...(ctx.countRequest ? { countRequest: ctx.countRequest } : {}),
          ...(ctx.logIdleTimeoutInMs !== undefined ? { idleTimeoutInMs: ctx.logIdleTimeoutInMs } : {}),
          // Rows are written from the log's bytes (rowBytes.ts): no string per line.
          onLineBytes: (lines) => {
            const collectedAt = toRfc3339(ctx.clock());
            for (const rows of encoder.encode(lines, lineNumber + 1, collectedAt)) queue.put({ kind: 'rowsNdjson', bytes: rows.bytes, rows: rows.rows, release: rows.release });
            lineNumber += lines.count;
            records += lines.count;
            return queue.full ? queue.room() : undefined;
          },
        },
      );
      if (result.resumes.length > 0) resumed(task, result.resumes);
    } catch (error) {
      if (queue.isStopped || isAbortError(error) || signal.aborted) return;
      const status = kubeErrorStatus(error);
      if (error instanceof LogStreamInterruptedError) {
        resumed(task, error.resumes);
        gap({
          reason: error.cause instanceof LogStreamIdleError ? 'timeout' : 'error',
          detail: `${error.message}; lines up to ${lineNumber} are kept, the rest of this log is missing`,
          ...where,
        });
      } else if (status === 404) {
        if (!vanished.has(key)) {
          vanished.add(key);
          gap({ reason: 'pod-vanished', detail: `pod deleted during collection (logs of its remaining containers are lost)`, ...where });
        }
      } else if (status === 400) {
        // The API answers 400 for a container that never ran, or has no previous instance.
        if (previous) gap({ reason: 'not-found', detail: 'no previous container log (the API answered 400: the previous instance is gone)', ...where });
        else gap({ reason: 'container-not-running', detail: `no log: container ${describeContainerState(container.status)} (the API answered 400)`, ...where });
      } else if (status === 403) {
        forbidden.streams++;
        forbidden.namespaces.add(pod.namespace);
        forbidden.first ||= describeKubeError(error);
      } else if (isExpectedKubeFailure(error)) {
        gap({ reason: gapReasonFor(error), detail: describeKubeError(error), ...where });
      } else {
        throw error;
      }
    }
  };

  const produce = async (): Promise<void> => {
    for await (const event of iteratePods({ ...ctx, abortSignal: signal }, SOURCE, { sharded: true })) {
      if (signal.aborted || pool.failed) break;
      if (event.kind !== 'object') {
        await queue.putAndWait(event);
        continue;
      }
      const pod = event.object;
      await queue.putAndWait({ kind: 'raw', object: pod });
      const columns = podColumns(pod);
      const plan = planPodLogs(pod);
      coverage.containers += plan.current.length + plan.notRunning.length;
      coverage.notStarted += plan.notRunning.length;
      coverage.streams += plan.current.length + plan.previous.length;
      for (const container of plan.current) await pool.run(() => runTask({ pod: columns, container, previous: false }));
      for (const container of plan.previous) await pool.run(() => runTask({ pod: columns, container, previous: true }));
    }
    await pool.drain();
    if (forbidden.streams > 0) {
      gap({
        reason: 'forbidden',
        detail: `reading pods/log was refused for ${forbidden.streams} log stream(s) in namespace(s) ${[...forbidden.namespaces].sort().join(', ')}: ${forbidden.first}`,
        resource: 'pods/log',
      });
    }
    coverage.peakOpenStreams = pool.peak;
    if (!signal.aborted) queue.put({ kind: 'coverage', coverage: { [SOURCE]: { ...coverage } } });
  };

  let lastProgress = 0;
  yield* consumeProduced(queue, produce, stop, () => {
    admission.tick();
    if (ctx.progress && records - lastProgress >= 10_000) {
      lastProgress = records;
      ctx.progress({ source: SOURCE, records });
    }
  });
  if (ctx.abortSignal?.aborted) throw ctx.abortSignal.reason;
}

export const containerLogsSource: SourceDefinition = {
  name: SOURCE,
  description: 'Logs of every container (init and ephemeral too) of every pod, current and previous instances, line by line with the kubelet timestamp split off.',
  tables: [CONTAINER_LOGS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'pods'), kubeAccess('get', 'pods', { subresource: 'log' })],
  // AKS authorizes GET pods/log with pods/read: pods/log has no data action of its own.
  azurePermissions: [clusterRead('pods', 'list pods and read their logs (pods/log)')],
  sharding: 'pods',
  collect: collectContainerLogs,
};
