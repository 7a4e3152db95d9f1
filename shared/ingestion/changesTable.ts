import { column as c, timeGenerated, type TableDefinition } from '../tables/table.js';

/**
 * kubechanges_CL: one row per object change a preservation window saw after the first
 * collection was sealed — a pod, workload, RBAC object, admission webhook or CronJob added,
 * modified or deleted — with what changed. The objects before and after are in the increment's
 * raw artifact (EvidencePath), value-redacted like every raw object (Secrets: metadata only).
 *
 * Written by the preservation window, not by a source (like evidencecustody_CL, which is
 * declared beside it for the same reason): the source registry adds it to the table registry,
 * so the template, the DCRs, the emulator and the timeline get it like any other table.
 */
export const CHANGES_TABLE: TableDefinition = {
  name: 'kubechanges_CL',
  source: 'preservation',
  description: 'Object changes seen by a preservation window: pods, workloads, RBAC, admission webhooks and CronJobs added, modified or deleted, with the paths that changed.',
  columns: [
    timeGenerated('When the change was seen (UTC).'),
    c('change_type', 'string', 'added | modified | deleted.'),
    c('kind', 'string', 'Object kind, e.g. Pod, RoleBinding, MutatingWebhookConfiguration.'),
    c('api_version', 'string', 'apiVersion of the object.'),
    c('namespace', 'string', 'Namespace, empty for cluster-scoped objects.'),
    c('name', 'string', 'Object name.'),
    c('uid', 'string', 'Object uid.'),
    c('resource_version', 'string', 'metadata.resourceVersion after the change (before it, for a deletion).'),
    c('previous_resource_version', 'string', 'metadata.resourceVersion before the change, when it was known.'),
    c('changed_paths', 'string', 'Field paths that differ between before and after (JSON array; at most 50).'),
    c(
      'seen_by',
      'string',
      'watch: the change as it happened; relist: found by a relist after the watch history was compacted (intermediate states unknown); window-start: differs from the first collection.',
    ),
    c('before_sha256', 'string', 'SHA-256 of the object before (as stored in the raw artifact: value-redacted), empty when unknown or added.'),
    c('after_sha256', 'string', 'SHA-256 of the object after (as stored), empty for a deletion.'),
    c('summary', 'string', 'One line for the timeline: change, kind, namespace/name and what changed.'),
  ],
  timeline: { eventType: 'KubeObjectChanged', namespace: 'namespace', summary: 'summary' },
};
