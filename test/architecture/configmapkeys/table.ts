import { column as c, timeGenerated, type TableDefinition } from '../../../shared/tables/table.js';

/** The toy source's table: one row per ConfigMap key. */
export const CONFIGMAP_KEYS_TABLE: TableDefinition = {
  name: 'configmapkeys_CL',
  source: 'configmapkeys',
  description: 'ConfigMap keys, one row per key (values never copied).',
  columns: [
    timeGenerated('ConfigMap creation time (UTC).'),
    c('namespace', 'string', 'Namespace.'),
    c('configmap', 'string', 'ConfigMap name.'),
    c('key', 'string', 'Data key.'),
    c('value_bytes', 'long', 'Length of the value in bytes.'),
  ],
  timeline: { eventType: 'ConfigMapKey', namespace: 'namespace', summary: 'key' },
};
