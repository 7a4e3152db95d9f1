import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const CONTAINER_LOGS_TABLE: TableDefinition = {
  name: 'kubelogs_CL',
  source: 'containerlogs',
  description: 'Container log lines, one row per line, current and previous containers.',
  columns: [
    timeGenerated(),
    c('message', 'string', 'Log line without its timestamp.'),
    c('container_name', 'string', 'Container name.'),
    c('namespace', 'string', 'Namespace.'),
    c('pod_name', 'string', 'Pod name.'),
    c('containerimages', 'string', 'Images of the pod containers (JSON array).'),
    c('labels', 'string', 'Pod labels (JSON).'),
    c('annotations', 'string', 'Pod annotations (JSON).'),
    c('container_type', 'string', 'container | init | ephemeral.'),
    c('previous', 'boolean', 'True for the log of the previous (restarted) container instance.'),
    c('timestamp_present', 'boolean', 'False when the line had no timestamp (TimeGenerated is then the collection time).'),
    c('line_number', 'long', 'Line number within this container log stream (1-based).'),
    c('pod_uid', 'string', 'Pod uid.'),
    c('node_name', 'string', 'Node the pod ran on.'),
    c('image', 'string', 'Image of this container.'),
  ],
  timeline: { eventType: 'ContainerLog', namespace: 'namespace', pod: 'pod_name', summary: 'message' },
};
