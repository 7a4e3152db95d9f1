import { describeKubeError, gapReasonFor, KubeApi } from '../../cluster/kubeApi.js';
import { isAbortError } from '../../cluster/retry.js';
import { toRfc3339 } from '../../util/time.js';
import { ItemQueue } from '../common/itemQueue.js';
import { clusterDataAction, clusterRead, kubeAccess, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { discoverResourceTypes, expectedFailure, resourceKey, type DiscoveredType, type DiscoveryResult } from './discovery.js';
import { listType, resolveOptions, snapshotRequestOptions, type SnapshotOptions, type SnapshotTypeCoverage } from './listing.js';
import { SNAPSHOT_TABLE } from './table.js';
import { appendAll } from '../../util/arrays.js';

/**
 * The cluster-state snapshot: every object of every resource type the API server lists —
 * core, built-in groups, aggregated APIs and custom resources — found by discovery, listed
 * page by page, preserved raw (one raw stream per type) with one compact row per object, and
 * a coverage report of what was listed, forbidden, failed or excluded.
 *
 * Secrets never leave the cluster as values: sensitive resources (Secrets by default) are
 * requested ONLY as PartialObjectMetadataList, so no value is ever sent to the collector. That
 * form has no `type` and no `data` keys; the snapshot recovers the type by listing the Secrets
 * once per well-known type with a field selector (type=..., then the rest with type!=...), and
 * the keys from what the metadata itself reveals (managedFields `f:data`, and the keys of a
 * kubectl last-applied-configuration annotation). That annotation holds the values when the
 * Secret was created with `kubectl apply`: it is replaced by a redaction marker before anything
 * else sees the object. The raw object written is the served PartialObjectMetadata with that
 * redaction and the recovered `type` added.
 *
 * ConfigMaps are not secret by contract but routinely hold credentials (connection strings,
 * tokens), and the bundle goes to a workspace many analysts can read. Default 'hash': every
 * value is replaced by its SHA-256, which still proves whether a value equals a known-good one
 * (tampered Corefile, kube-proxy config) without copying credentials. 'keep' copies values;
 * 'metadata' lists ConfigMaps like Secrets.
 */

/** Run the snapshot: discovery, then every type with bounded concurrency, then the coverage report. */
async function* collectSnapshot(ctx: SourceContext, options: SnapshotOptions): AsyncGenerator<SourceItem> {
  const o = resolveOptions(options);
  const api = KubeApi.for(ctx.kubeConfig);
  const requestOpts = snapshotRequestOptions(ctx, o);
  const startedAt = toRfc3339(ctx.clock());
  let discovery: DiscoveryResult;
  try {
    discovery = await discoverResourceTypes(api, requestOpts, ctx.concurrency);
  } catch (error) {
    if (isAbortError(error) || ctx.abortSignal?.aborted || !expectedFailure(error)) throw error;
    yield {
      kind: 'gap',
      gap: { source: 'snapshot', reason: gapReasonFor(error), detail: `API discovery failed, nothing listed: ${describeKubeError(error)}`, resource: 'discovery' },
    };
    yield { kind: 'coverage', coverage: { snapshot: { startedAt, discoveryFailed: describeKubeError(error), types: [] } } };
    return;
  }
  const types: SnapshotTypeCoverage[] = [];
  for (const f of discovery.failures) {
    const reason = gapReasonFor(f.error);
    const detail = `discovery of ${f.group ? `${f.group}/` : ''}${f.version} failed: ${describeKubeError(f.error)}`;
    types.push({ group: f.group, version: f.version, resource: '*', kind: '', namespaced: false, count: 0, status: reason === 'forbidden' ? 'forbidden' : 'failed', detail });
    yield { kind: 'gap', gap: { source: 'snapshot', reason, detail, resource: `${f.group ? `${f.group}/` : ''}${f.version}` } };
  }
  const toList: DiscoveredType[] = [];
  for (const t of discovery.types) {
    const key = resourceKey(t.group, t.resource);
    if (o.exclude.has(key) || (t.group === '' && o.exclude.has(`core/${t.resource}`))) {
      types.push({
        group: t.group,
        version: t.version,
        resource: t.resource,
        kind: t.kind,
        namespaced: t.namespaced,
        count: 0,
        status: 'excluded',
        detail: 'excluded by configuration (collected by another source or by request)',
      });
    } else toList.push(t);
  }

  const queue = new ItemQueue<SourceItem>(Math.max(64, ctx.concurrency * 32));
  const listed: SnapshotTypeCoverage[] = new Array<SnapshotTypeCoverage>(toList.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toList.length) {
      const i = next++;
      listed[i] = await listType(ctx, api, toList[i]!, o, (item) => queue.putAndWait(item));
      ctx.progress?.({
        source: 'snapshot',
        records: listed.filter(Boolean).reduce((n, c) => n + c.count, 0),
        message: `listed ${resourceKey(toList[i]!.group, toList[i]!.resource)}`,
      });
    }
  };
  const workers = Array.from({ length: Math.max(1, Math.min(ctx.concurrency, toList.length)) }, () => worker());
  void Promise.all(workers).then(
    () => queue.end(),
    (error: unknown) => queue.fail(error),
  );
  yield* queue;
  appendAll(types, listed);
  types.sort((a, b) => a.group.localeCompare(b.group) || a.resource.localeCompare(b.resource) || a.version.localeCompare(b.version));
  yield {
    kind: 'coverage',
    coverage: {
      snapshot: {
        startedAt,
        endedAt: toRfc3339(ctx.clock()),
        objects: types.reduce((n, t) => n + t.count, 0),
        typesListed: types.filter((t) => t.status === 'listed').length,
        typesForbidden: types.filter((t) => t.status === 'forbidden').map((t) => resourceKey(t.group, t.resource)),
        typesFailed: types.filter((t) => t.status === 'failed').map((t) => resourceKey(t.group, t.resource)),
        excluded: [...o.exclude],
        sensitiveResources: [...o.sensitive],
        configMapValues: o.configMapValues,
        types,
      },
    },
  };
}

/** Built-in types the snapshot lists (every type discovery serves, Kubernetes 1.30), as Azure RBAC read data actions. */
const BUILT_IN_TYPES = [
  'pods',
  'namespaces',
  'nodes',
  'serviceaccounts',
  'configmaps',
  'endpoints',
  'limitranges',
  'persistentvolumeclaims',
  'persistentvolumes',
  'podtemplates',
  'replicationcontrollers',
  'resourcequotas',
  'services',
  'componentstatuses',
  'rbac.authorization.k8s.io/roles',
  'rbac.authorization.k8s.io/rolebindings',
  'rbac.authorization.k8s.io/clusterroles',
  'rbac.authorization.k8s.io/clusterrolebindings',
  'apps/deployments',
  'apps/daemonsets',
  'apps/statefulsets',
  'apps/replicasets',
  'apps/controllerrevisions',
  'batch/jobs',
  'batch/cronjobs',
  'autoscaling/horizontalpodautoscalers',
  'policy/poddisruptionbudgets',
  'networking.k8s.io/networkpolicies',
  'networking.k8s.io/ingressclasses',
  'networking.k8s.io/ingresses',
  'admissionregistration.k8s.io/mutatingwebhookconfigurations',
  'admissionregistration.k8s.io/validatingwebhookconfigurations',
  'admissionregistration.k8s.io/validatingadmissionpolicies',
  'admissionregistration.k8s.io/validatingadmissionpolicybindings',
  'apiextensions.k8s.io/customresourcedefinitions',
  'apiregistration.k8s.io/apiservices',
  'certificates.k8s.io/certificatesigningrequests',
  'coordination.k8s.io/leases',
  'discovery.k8s.io/endpointslices',
  'flowcontrol.apiserver.k8s.io/flowschemas',
  'flowcontrol.apiserver.k8s.io/prioritylevelconfigurations',
  'node.k8s.io/runtimeclasses',
  'scheduling.k8s.io/priorityclasses',
  'storage.k8s.io/csidrivers',
  'storage.k8s.io/csinodes',
  'storage.k8s.io/csistoragecapacities',
  'storage.k8s.io/storageclasses',
  'storage.k8s.io/volumeattachments',
] as const;

/** A snapshot source with non-default options (exclusions, sensitive types, ConfigMap values). */
export function createSnapshotSource(options: SnapshotOptions = {}): SourceDefinition {
  resolveOptions(options); // fail at configuration time, not mid-run
  return {
    name: 'snapshot',
    description:
      'Point-in-time snapshot of every object the API serves (core, built-in groups, aggregated APIs, custom resources), raw per type, Secrets by metadata only, ConfigMap values hashed, with a coverage report.',
    tables: [SNAPSHOT_TABLE],
    kubernetesAccess: [
      kubeAccess('list', 'namespaces'),
      kubeAccess('list', 'pods'),
      kubeAccess('list', 'nodes'),
      kubeAccess('list', 'configmaps'),
      // Secrets are recorded by metadata only, but listing them still needs list secrets.
      kubeAccess('list', 'secrets'),
      kubeAccess('list', 'deployments', { group: 'apps' }),
      kubeAccess('list', 'daemonsets', { group: 'apps' }),
      kubeAccess('list', 'roles', { group: 'rbac.authorization.k8s.io' }),
      kubeAccess('list', 'clusterroles', { group: 'rbac.authorization.k8s.io' }),
    ],
    // Custom resources cannot be named in advance: their lists answer 403 and the coverage
    // report names each one; grant `<group>/<resource>/read` for CRDs that matter.
    azurePermissions: [
      ...BUILT_IN_TYPES.map((t) => clusterRead(t, 'snapshot of every built-in type')),
      // Azure RBAC has no metadata-only permission: secrets/read also allows reading values, which the collector never does.
      clusterDataAction('secrets/read', 'Secrets by metadata only (PartialObjectMetadata)', 'allowSecretMetadataRead'),
    ],
    collect: (ctx) => collectSnapshot(ctx, options),
  };
}

export const snapshotSource: SourceDefinition = createSnapshotSource();
