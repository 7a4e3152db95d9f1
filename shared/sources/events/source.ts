import { listResource } from '../common/listResource.js';
import { firstTime, obj, str } from '../../util/values.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { toRfc3339 } from '../../util/time.js';
import { EVENTS_TABLE } from './table.js';

/**
 * Kubernetes events (core/v1) from every namespace in the run. Events expire after an hour
 * on most clusters: this is often the only record of what the scheduler and kubelet saw.
 */

/** Map one core/v1 Event to a kubeevents_CL row. */
export function eventRow(event: Record<string, unknown>, collectedAt: string): Row {
  const metadata = obj(event.metadata);
  const involved = obj(event.involvedObject);
  const source = obj(event.source);
  const series = obj(event.series);
  const first = firstTime(event.firstTimestamp, event.eventTime, metadata.creationTimestamp);
  const last = firstTime(event.lastTimestamp, series.lastObservedTime, event.eventTime, event.firstTimestamp, metadata.creationTimestamp);
  const count = typeof event.count === 'number' ? event.count : typeof series.count === 'number' ? series.count : 1;
  return {
    TimeGenerated: firstTime(event.lastTimestamp, event.eventTime, event.firstTimestamp, metadata.creationTimestamp) ?? collectedAt,
    action: str(event.action),
    first_timestamp: first ?? null,
    involved_object_name: str(involved.name),
    involved_object_uid: str(involved.uid),
    last_timestamp: last ?? null,
    message: str(event.message),
    reason: str(event.reason),
    // Older reporters fill only source.component / source.host.
    reporting_component: str(event.reportingComponent) || str(source.component),
    event_type: str(event.type),
    namespace: str(metadata.namespace),
    name: str(metadata.name),
    involved_object_kind: str(involved.kind),
    involved_object_namespace: str(involved.namespace),
    reporting_instance: str(event.reportingInstance) || str(source.host),
    count,
  };
}

async function* collectEvents(ctx: SourceContext): AsyncGenerator<SourceItem> {
  let records = 0;
  for await (const item of listResource(ctx, { source: 'events', groupVersionPath: '/api/v1', resource: 'events', namespaced: true })) {
    if (item.kind !== 'object') {
      yield item;
      continue;
    }
    yield { kind: 'raw', object: item.object };
    yield { kind: 'row', row: eventRow(item.object, toRfc3339(ctx.clock())) };
    if (++records % 1000 === 0) ctx.progress?.({ source: 'events', records });
  }
}

export const eventsSource: SourceDefinition = {
  name: 'events',
  description: 'Kubernetes events from every namespace: type, reason, message, involved object, first/last time, count, reporter.',
  tables: [EVENTS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'events')],
  azurePermissions: [clusterRead('events', 'events (core/v1)'), clusterRead('events.k8s.io/events', 'events (events.k8s.io/v1)')],
  collect: collectEvents,
};
