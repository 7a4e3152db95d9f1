import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const EVENTS_TABLE: TableDefinition = {
  name: 'kubeevents_CL',
  source: 'events',
  description: 'Kubernetes events from all namespaces.',
  columns: [
    timeGenerated(),
    c('action', 'string', 'Event action.'),
    c('first_timestamp', 'datetime', 'First occurrence.'),
    c('involved_object_name', 'string', 'Involved object name.'),
    c('involved_object_uid', 'string', 'Involved object uid.'),
    c('last_timestamp', 'datetime', 'Last occurrence.'),
    c('message', 'string', 'Event message.'),
    c('reason', 'string', 'Event reason.'),
    c('reporting_component', 'string', 'Reporting component.'),
    // KubeForenSys names this column `type`; Log Analytics reserves it (compared case-insensitively with Type).
    c('event_type', 'string', 'Normal | Warning.'),
    c('namespace', 'string', 'Event namespace.'),
    c('name', 'string', 'Event object name.'),
    c('involved_object_kind', 'string', 'Involved object kind.'),
    c('involved_object_namespace', 'string', 'Involved object namespace.'),
    c('reporting_instance', 'string', 'Reporting instance.'),
    c('count', 'int', 'Occurrences.'),
  ],
  timeline: { eventType: 'KubeEvent', namespace: 'namespace', pod: 'involved_object_name', summary: 'message' },
};
