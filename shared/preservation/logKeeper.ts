import pLimit from 'p-limit';
import { describeKubeError, gapReasonFor, kubeErrorStatus, type KubeApi } from '../cluster/kubeApi.js';
import type { KubeListItem } from '../cluster/paginate.js';
import { LogStreamInterruptedError, streamContainerLog } from '../cluster/podLogStream.js';
import { isAbortError } from '../cluster/retry.js';
import { logRowSerializer, podColumns } from '../sources/containerlogs/source.js';
import { splitLogLine } from '../util/lines.js';
import { toRfc3339, type Clock } from '../util/time.js';
import type { LogFetchRequest, PodTrigger } from './podTriggers.js';
import type { Segment } from './segment.js';

/**
 * Fetches the logs a pod change asks for, at once and in parallel (bounded), through the same
 * container-log stream and row serializer as the first collection, into the segment that saw the
 * change. The same container instance fetched twice (terminating, then terminated; terminated,
 * then restarted) is kept once: a fetch skips the lines an earlier fetch of that instance already
 * kept, by their kubelet timestamp (lines of the last second kept are matched exactly), so a log
 * rotated meanwhile loses nothing either.
 */

/** What one log fetch did (progress, tests). */
export interface LogFetchOutcome {
  namespace: string;
  pod: string;
  container: string;
  previous: boolean;
  reason: LogFetchRequest['reason'];
  /** New lines kept by this fetch. */
  lines: number;
  /** Lines the API served that an earlier fetch of the same instance had kept. */
  skipped: number;
  outcome: 'kept' | 'gone' | 'no-log' | 'forbidden' | 'interrupted' | 'failed';
  detail?: string;
}

interface InstanceState {
  lines: number;
  /** Normalized time of the newest line kept, and the lines kept with exactly that time. */
  lastTime?: string;
  boundary: Set<string>;
}

export interface LogKeeperOptions {
  /** Log streams read at once (default 8). */
  concurrency?: number;
  clock: Clock;
  abortSignal?: AbortSignal;
  countRequest?: () => void;
  onFetched?: (outcome: LogFetchOutcome) => void;
}

export class LogKeeper {
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly instances = new Map<string, InstanceState>();
  /** One fetch of an instance at a time: the second waits and keeps only what is new. */
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly api: KubeApi,
    private readonly options: LogKeeperOptions,
  ) {
    this.limit = pLimit(Math.max(1, options.concurrency ?? 8));
  }

  /** Start the fetches a trigger asks for, tracked by `segment` (its seal waits for them). */
  keep(segment: Segment, pod: KubeListItem, trigger: PodTrigger): void {
    const m = pod.metadata ?? {};
    const namespace = String(m.namespace ?? '');
    const name = String(m.name ?? '');
    for (const lost of trigger.lostInstances) {
      segment.addGap({
        source: 'containerlogs',
        reason: 'not-found',
        detail: `container ${lost.container} of pod ${namespace}/${name} restarted more than once between two looks: the logs of instance(s) ${lost.from}${lost.to > lost.from ? `-${lost.to}` : ''} are kept by no kubelet any more`,
        namespace,
        pod: name,
        container: lost.container,
      });
    }
    for (const request of trigger.fetches) {
      const key = `${String(m.uid ?? `${namespace}/${name}`)}/${request.container.name}/${request.instance}`;
      const before = this.running.get(key) ?? Promise.resolve();
      const run = before.then(() => this.limit(() => this.fetch(segment, pod, request, key)));
      const settled = run.catch(() => undefined);
      this.running.set(key, settled);
      void settled.finally(() => {
        if (this.running.get(key) === settled) this.running.delete(key);
      });
      void segment.track(run);
    }
  }

  private async fetch(segment: Segment, pod: KubeListItem, request: LogFetchRequest, key: string): Promise<void> {
    const columns = podColumns(pod);
    const { container, previous } = request;
    const where = {
      namespace: columns.namespace,
      pod: columns.pod_name,
      container: container.name,
      resource: `pods/log ${columns.namespace}/${columns.pod_name} (${container.name}${previous ? ', previous' : ''})`,
    };
    const state = this.instances.get(key) ?? { lines: 0, boundary: new Set<string>() };
    this.instances.set(key, state);
    const serialize = logRowSerializer(columns, container, previous);
    let kept = 0;
    let skipped = 0;
    const report = (outcome: LogFetchOutcome['outcome'], detail?: string): void => {
      segment.counts.logStreams++;
      this.options.onFetched?.({
        namespace: columns.namespace,
        pod: columns.pod_name,
        container: container.name,
        previous,
        reason: request.reason,
        lines: kept,
        skipped,
        outcome,
        ...(detail ? { detail } : {}),
      });
    };
    try {
      await streamContainerLog(
        this.api,
        { namespace: columns.namespace, pod: columns.pod_name, container: container.name, previous },
        {
          ...(this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {}),
          ...(this.options.countRequest ? { countRequest: this.options.countRequest } : {}),
          onLines: (lines) => {
            const collectedAt = toRfc3339(this.options.clock());
            const json: string[] = [];
            for (const line of lines) {
              const time = normalizedTime(splitLogLine(line).timestamp);
              if (time !== undefined && state.lastTime !== undefined && (time < state.lastTime || (time === state.lastTime && state.boundary.has(line)))) {
                skipped++;
                continue;
              }
              if (time !== undefined && (state.lastTime === undefined || time > state.lastTime)) {
                state.lastTime = time;
                state.boundary = new Set();
              }
              if (time !== undefined) state.boundary.add(line);
              json.push(serialize(++state.lines, line, collectedAt));
            }
            kept += json.length;
            segment.counts.logLines += json.length;
            return json.length ? segment.append('logRows', json) : undefined;
          },
        },
      );
      report('kept');
    } catch (error) {
      if (isAbortError(error) || this.options.abortSignal?.aborted) {
        report('failed', 'stopped with the window');
        return;
      }
      const status = kubeErrorStatus(error);
      const why = `${request.reason === 'deleted' ? 'pod deleted' : request.reason === 'terminating' ? 'pod terminating' : request.reason === 'restarted' ? 'container restarted' : 'container terminated'}`;
      if (error instanceof LogStreamInterruptedError) {
        segment.addGap({
          source: 'containerlogs',
          reason: 'error',
          detail: `${why}: ${error.message}; the ${kept} line(s) read are kept, the rest of this log is missing`,
          ...where,
        });
        report('interrupted', error.message);
      } else if (status === 404 && state.lines > 0) {
        // Kept by an earlier fetch (terminating, terminated): the pod is gone now, as expected.
        report('gone', `already kept ${state.lines} line(s) of this instance; the pod is gone now`);
      } else if (status === 404) {
        segment.addGap({
          source: 'containerlogs',
          reason: 'pod-vanished',
          detail: `${why}: the pod was gone before its ${previous ? 'previous ' : ''}log could be read (${describeKubeError(error)})`,
          ...where,
        });
        report('gone', describeKubeError(error));
      } else if (status === 400) {
        segment.addGap({
          source: 'containerlogs',
          reason: previous ? 'not-found' : 'container-not-running',
          detail: `${why}: no ${previous ? 'previous ' : ''}log (the API answered 400: ${describeKubeError(error)})`,
          ...where,
        });
        report('no-log', describeKubeError(error));
      } else if (status === 403) {
        segment.addGap({ source: 'containerlogs', reason: 'forbidden', detail: `${why}: ${describeKubeError(error)}`, ...where });
        report('forbidden', describeKubeError(error));
      } else {
        segment.addGap({ source: 'containerlogs', reason: gapReasonFor(error), detail: `${why}: ${describeKubeError(error)}`, ...where });
        report('failed', describeKubeError(error));
      }
    }
  }
}

/** A kubelet timestamp as comparable text: nanoseconds always 9 digits (RFC3339Nano trims trailing zeros). */
function normalizedTime(timestamp: string | undefined): string | undefined {
  if (!timestamp) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z$/.exec(timestamp);
  if (!m) return timestamp;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
}
