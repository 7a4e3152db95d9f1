import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const SERVICE_ACCOUNTS_TABLE: TableDefinition = {
  name: 'serviceaccounts_CL',
  source: 'serviceaccounts',
  description: 'Service accounts from all namespaces.',
  columns: [
    timeGenerated(),
    c('namespace', 'string', 'Namespace.'),
    c('name', 'string', 'Service account name.'),
    c('automount_service_account_token', 'string', 'true | false | unset.'),
    c('image_pull_secrets', 'string', 'Image pull secret names (JSON array).'),
    c('secrets', 'string', 'Referenced secret names (JSON array).'),
    c('annotations', 'string', 'Annotations (JSON), workload identity client ids included.'),
    c('workload_identity_client_id', 'string', 'azure.workload.identity/client-id annotation, when present.'),
    c('uid', 'string', 'Object uid.'),
  ],
  timeline: { eventType: 'ServiceAccount', namespace: 'namespace', summary: 'name' },
};
