import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/**
 * The pods, namespaces and nodes a trigger named, described first: one row per object (the
 * pod, each owner up its chain, the named namespaces and nodes) and one per event about them.
 * The objects themselves are in the raw artifacts named by raw_stream.
 */
export const TARGETS_TABLE: TableDefinition = {
  name: 'kubetargets_CL',
  source: 'targets',
  description: 'What the trigger (a Sentinel incident) named, described first: pods with their owner chain, namespaces, nodes, and the events about each.',
  columns: [
    timeGenerated("Object creation time, or the event's last time (UTC); collection time when neither is known."),
    c('kind', 'string', 'Object kind: Pod, ReplicaSet, Deployment, Job, CronJob, StatefulSet, DaemonSet, ReplicationController, Namespace, Node, Event.'),
    c('api_version', 'string', 'API version the object was read at.'),
    c('namespace', 'string', 'Namespace, empty for cluster-scoped objects.'),
    c('name', 'string', 'Object name.'),
    c('pod', 'string', 'The pod the row is about (the pod itself, or the pod an event is about).'),
    c('uid', 'string', 'Object uid.'),
    c('creation_time', 'datetime', 'metadata.creationTimestamp.'),
    c('resource_version', 'string', 'metadata.resourceVersion.'),
    c('owner_kind', 'string', 'Kind of the controlling owner.'),
    c('owner_name', 'string', 'Name of that owner.'),
    c('node_name', 'string', 'Node a pod is bound to.'),
    c('service_account', 'string', 'Service account of a pod or pod template.'),
    c('images', 'string', 'Container images of the pod spec or pod template, init and ephemeral included (JSON array).'),
    c('phase', 'string', 'status.phase of pods and namespaces.'),
    c('target_reason', 'string', 'Why it was described: "pod <ns>/<name>" (named by the trigger), "owner of pod …", "namespace …", "node …", "event of …".'),
    c('event_reason', 'string', 'Events: reason.'),
    c('event_message', 'string', 'Events: message.'),
    c('event_count', 'int', 'Events: occurrences.'),
    c('summary', 'string', 'One line for the timeline.'),
    c('raw_stream', 'string', 'The raw artifact stream holding the full object (pods, replicasets, …, events).'),
  ],
  timeline: { eventType: 'IncidentTarget', namespace: 'namespace', pod: 'pod', summary: 'summary' },
};
