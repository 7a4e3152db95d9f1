import { column, type TableDefinition } from '../../tables/table.js';

/**
 * The cluster-state snapshot table: one compact row per API object. The object itself is in
 * the raw artifact named by raw_stream (sources/snapshot/...<raw_stream>.ndjson.gz), found by
 * uid; the row carries what an investigator filters on.
 */

const c = column;

export const SNAPSHOT_TABLE_NAME = 'kubesnapshot_CL';

export const SNAPSHOT_TABLE: TableDefinition = {
  name: SNAPSHOT_TABLE_NAME,
  source: 'snapshot',
  description: 'Cluster state snapshot: one row per API object of every listable type (Secrets by metadata only).',
  columns: [
    c('TimeGenerated', 'datetime', 'Object creation time (UTC); collection time when the object has none.'),
    c('kind', 'string', 'Object kind, e.g. Pod, ClusterRoleBinding, MutatingWebhookConfiguration, a custom kind.'),
    c('api_group', 'string', 'API group, empty for core.'),
    c('api_version', 'string', 'API version the object was listed at (the preferred one).'),
    // Not `resource`: Log Analytics reserves it (compared case-insensitively).
    c('object_resource', 'string', 'Plural resource name, e.g. pods.'),
    c('namespace', 'string', 'Namespace, empty for cluster-scoped objects.'),
    c('name', 'string', 'Object name.'),
    c('uid', 'string', 'Object uid.'),
    c('creation_time', 'datetime', 'metadata.creationTimestamp.'),
    c('resource_version', 'string', 'metadata.resourceVersion of the object.'),
    c('owner_kind', 'string', 'Kind of the controlling owner (or first owner).'),
    c('owner_name', 'string', 'Name of that owner.'),
    c('labels', 'string', 'Labels (JSON).'),
    c('images', 'string', 'Container images of the pod spec or pod template, init and ephemeral included (JSON array).'),
    c('service_account', 'string', 'Service account of the pod spec or pod template.'),
    c('node_name', 'string', 'Node the pod is bound to (or the node a VolumeAttachment targets).'),
    c('replicas', 'int', 'spec.replicas of scalable workloads.'),
    c('phase', 'string', 'status.phase (pods, namespaces, volumes).'),
    c('security_flags', 'string', 'Host access of the pod spec: hostNetwork, hostPID, hostIPC, privileged, hostPath:<path>, cap:<added capability> (comma-separated).'),
    c('webhook_targets', 'string', 'Admission webhook endpoints: url:<url> or service:<ns>/<name>:<port><path>, with the failure policy (JSON array).'),
    c('role_ref', 'string', 'RoleBinding/ClusterRoleBinding roleRef, <kind>/<name>.'),
    c('subjects', 'string', 'Binding subjects, <kind>:<namespace>/<name> (JSON array).'),
    c('secret_type', 'string', 'Secret type, from a field-selector partition (the metadata-only form has no type); "other" when not a well-known type.'),
    c('data_keys', 'string', 'Secret/ConfigMap data keys (JSON array). For Secrets only the keys the metadata reveals (managedFields, last-applied annotation).'),
    c('value_handling', 'string', 'How values were treated: metadata-only (never fetched), sha256 (values replaced by hashes), kept, or empty.'),
    c('detail', 'string', 'One-line kind-specific facts (schedule and command, service target, CRD group/kind, ...).'),
    c('summary', 'string', 'One line for the timeline: kind, namespace/name and detail.'),
    c('raw_stream', 'string', 'The raw artifact stream holding the full object (<group>_<version>_<resource>).'),
  ],
  timeline: { eventType: 'KubeObjectCreated', namespace: 'namespace', summary: 'summary' },
};
