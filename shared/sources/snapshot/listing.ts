import type { KubeApi, KubeRequestOptions } from '../../cluster/kubeApi.js';
import { describeKubeError, gapReasonFor, KubeApiError } from '../../cluster/kubeApi.js';
import { listAll, withTypeMeta, type KubeListItem, type ListOptions } from '../../cluster/paginate.js';
import { isAbortError, type RetryOptions } from '../../cluster/retry.js';
import type { Gap } from '../../evidence/types.js';
import { toRfc3339 } from '../../util/time.js';
import { obj } from '../../util/values.js';
import { QueueStoppedError } from '../common/itemQueue.js';
import { namespacedListPaths, namespaceSelected } from '../common/namespaces.js';
import type { SourceContext, SourceItem } from '../types.js';
import { expectedFailure, gvPath, resourceKey, streamFor, type DiscoveredType } from './discovery.js';
import { hashValues, keysFromMetadata, redactMetadata, redactPaths, redactSecretMetadata, type ConfigMapValues } from './redaction.js';
import { snapshotRow } from './rows.js';

/** Listing one discovered type completely: page by page, values handled, raw objects and rows emitted. */

export interface SnapshotOptions {
  /**
   * Resource types not listed, as "<resource>" (core) or "<group>/<resource>". Default
   * SNAPSHOT_DEFAULT_EXCLUSIONS (events: the events source collects them).
   */
  exclude?: readonly string[];
  /** Resource types fetched as metadata only, same notation. Default ["secrets"]. Secrets are always included. */
  sensitiveResources?: readonly string[];
  /** ConfigMap values: 'hash' (default), 'keep' or 'metadata'. */
  configMapValues?: ConfigMapValues;
  /**
   * Fields replaced by "sha256:<hex>" of their value before anything is written, per resource,
   * as dotted paths with [*] for every array element, e.g.
   * { resource: 'pods', paths: ['spec.containers[*].env[*].value'] }.
   */
  redactFields?: readonly { resource: string; paths: readonly string[] }[];
  /** Page size (default 500). */
  pageSize?: number;
  /** Recover Secret types with field-selector lists (default true). */
  secretTypes?: boolean;
  /** Retry policy for each page (default: KubeApi's). */
  retry?: RetryOptions;
}

/** Events are the events source's; pod logs are not a listable resource (pods/log is a subresource). */
export const SNAPSHOT_DEFAULT_EXCLUSIONS: readonly string[] = ['events', 'events.k8s.io/events'];

export const DEFAULT_SENSITIVE_RESOURCES: readonly string[] = ['secrets'];

/** Secret types the snapshot partitions by (field selector type=...). Everything else is "other". */
export const KNOWN_SECRET_TYPES: readonly string[] = [
  'Opaque',
  'kubernetes.io/service-account-token',
  'kubernetes.io/dockerconfigjson',
  'kubernetes.io/dockercfg',
  'kubernetes.io/basic-auth',
  'kubernetes.io/ssh-auth',
  'kubernetes.io/tls',
  'bootstrap.kubernetes.io/token',
  'helm.sh/release.v1',
];

const PARTIAL_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/** Coverage of one type (or one group/version whose discovery failed, resource "*"). */
export interface SnapshotTypeCoverage {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  count: number;
  status: 'listed' | 'forbidden' | 'failed' | 'excluded';
  detail: string;
  /** How values were treated for this type. */
  valueHandling?: 'metadata-only' | 'sha256' | 'kept';
  /** metadata.resourceVersion of each list (one per list call chain). */
  resourceVersions?: string[];
  /** The API server's Date header on the first page. */
  serverTime?: string;
  pages?: number;
  relists?: number;
}

function toDate(httpDate: string | undefined): string | undefined {
  if (!httpDate) return undefined;
  const t = Date.parse(httpDate);
  return Number.isNaN(t) ? undefined : toRfc3339(t);
}

export interface ResolvedOptions {
  exclude: Set<string>;
  sensitive: Set<string>;
  configMapValues: ConfigMapValues;
  redact: Map<string, readonly string[]>;
  pageSize: number;
  secretTypes: boolean;
  retry?: RetryOptions;
}

export function resolveOptions(options: SnapshotOptions): ResolvedOptions {
  const redact = new Map<string, readonly string[]>();
  for (const r of options.redactFields ?? []) redact.set(r.resource, [...(redact.get(r.resource) ?? []), ...r.paths]);
  const resolved: ResolvedOptions = {
    exclude: new Set(options.exclude ?? SNAPSHOT_DEFAULT_EXCLUSIONS),
    sensitive: new Set([...(options.sensitiveResources ?? DEFAULT_SENSITIVE_RESOURCES), 'secrets']),
    configMapValues: options.configMapValues ?? 'hash',
    redact,
    pageSize: options.pageSize ?? 500,
    secretTypes: options.secretTypes ?? true,
  };
  if (options.retry) resolved.retry = options.retry;
  if (!['keep', 'hash', 'metadata'].includes(resolved.configMapValues))
    throw new RangeError(`configMapValues must be keep, hash or metadata, got ${String(resolved.configMapValues)}`);
  if (!Number.isInteger(resolved.pageSize) || resolved.pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${resolved.pageSize}`);
  return resolved;
}

/** Request options of every snapshot request. */
export function snapshotRequestOptions(ctx: SourceContext, o: Pick<ResolvedOptions, 'retry'>): KubeRequestOptions {
  const options: KubeRequestOptions = {};
  if (ctx.abortSignal) options.abortSignal = ctx.abortSignal;
  if (ctx.countRequest) options.countRequest = ctx.countRequest;
  if (o.retry) options.retry = o.retry;
  return options;
}

export type Emit = (item: SourceItem) => Promise<void>;

/** List one type completely, emitting raw objects and rows; returns its coverage. */
export async function listType(ctx: SourceContext, api: KubeApi, type: DiscoveredType, o: ResolvedOptions, emit: Emit): Promise<SnapshotTypeCoverage> {
  const key = resourceKey(type.group, type.resource);
  const isCoreSecrets = type.group === '' && type.resource === 'secrets';
  const isCoreConfigMaps = type.group === '' && type.resource === 'configmaps';
  const metadataOnly = o.sensitive.has(key) || (isCoreConfigMaps && o.configMapValues === 'metadata');
  const valueHandling: SnapshotTypeCoverage['valueHandling'] | undefined = metadataOnly
    ? 'metadata-only'
    : isCoreConfigMaps
      ? o.configMapValues === 'hash'
        ? 'sha256'
        : 'kept'
      : undefined;
  const coverage: SnapshotTypeCoverage = {
    group: type.group,
    version: type.version,
    resource: type.resource,
    kind: type.kind,
    namespaced: type.namespaced,
    count: 0,
    status: 'listed',
    detail: '',
    ...(valueHandling ? { valueHandling } : {}),
    resourceVersions: [],
    pages: 0,
    relists: 0,
  };
  const notes = new Set<string>();
  const base = gvPath(type.group, type.version);
  const paths = type.namespaced ? namespacedListPaths(base, type.resource, ctx.namespaces) : [`${base}/${type.resource}`];
  const requestOpts = snapshotRequestOptions(ctx, o);
  // Secrets: one list per well-known type, then the rest, so each object's type is known.
  let partitions: { fieldSelector?: string; secretType?: string }[] = [{}];
  if (isCoreSecrets && o.secretTypes) {
    partitions = [
      ...KNOWN_SECRET_TYPES.map((t) => ({ fieldSelector: `type=${t}`, secretType: t })),
      { fieldSelector: KNOWN_SECRET_TYPES.map((t) => `type!=${t}`).join(','), secretType: 'other' },
    ];
  }
  const collectedAt = toRfc3339(ctx.clock());
  const redactPathsFor = o.redact.get(key) ?? (type.group === '' ? o.redact.get(`core/${type.resource}`) : undefined);

  const handleItem = async (item: KubeListItem, secretType: string | undefined): Promise<void> => {
    if (type.namespaced && !namespaceSelected(item.metadata?.namespace, ctx.namespaces)) return;
    let object: Record<string, unknown>;
    let dataKeys: string[] | undefined;
    if (metadataOnly) {
      // Never keep anything but metadata, whatever the server sent.
      // listAll restores each item's kind from the list's: PartialObjectMetadata unless the server ignored the Accept header.
      if (item.kind !== 'PartialObjectMetadata') notes.add('the server ignored the metadata-only request: everything but metadata was discarded on receipt');
      const metadata = obj(item.metadata);
      dataKeys = keysFromMetadata(metadata);
      object = { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: redactSecretMetadata(metadata) };
      if (secretType !== undefined) object['type'] = secretType === 'other' ? '' : secretType;
    } else {
      object = withTypeMeta(item, undefined, type.kind);
      if (isCoreConfigMaps) {
        dataKeys = [...new Set([...Object.keys(obj(object['data'])), ...Object.keys(obj(object['binaryData']))])].sort();
        if (o.configMapValues === 'hash') {
          const hashed: Record<string, unknown> = { ...object, metadata: redactMetadata(obj(object['metadata'])) };
          const data = hashValues(object['data'], false);
          const binaryData = hashValues(object['binaryData'], true);
          if (data) hashed['data'] = data;
          if (binaryData) hashed['binaryData'] = binaryData;
          object = hashed;
        }
      }
      if (redactPathsFor) object = redactPaths(object, redactPathsFor);
    }
    coverage.count++;
    await emit({ kind: 'raw', object, stream: streamFor(type) });
    const extra: Parameters<typeof snapshotRow>[3] = {};
    if (secretType !== undefined) extra.secretType = secretType;
    if (dataKeys) extra.dataKeys = dataKeys;
    if (valueHandling) extra.valueHandling = valueHandling;
    await emit({ kind: 'row', row: snapshotRow(object, type, collectedAt, extra) });
  };

  const listPartition = async (path: string, partition: { fieldSelector?: string; secretType?: string }): Promise<void> => {
    const options: ListOptions = {
      ...requestOpts,
      limit: o.pageSize,
      accept: metadataOnly ? PARTIAL_LIST_ACCEPT : 'application/json',
      onPage: (info) => {
        coverage.pages!++;
        if (!info.first) return;
        if (info.resourceVersion) coverage.resourceVersions!.push(info.resourceVersion);
        const when = toDate(info.date);
        if (when && !coverage.serverTime) coverage.serverTime = when;
      },
      onRelist: () => {
        coverage.relists!++;
      },
    };
    if (partition.fieldSelector) options.fieldSelector = partition.fieldSelector;
    for await (const item of listAll(api, path, options)) await handleItem(item, partition.secretType);
  };

  try {
    for (const path of paths) {
      if (partitions.length === 1) {
        await listPartition(path, partitions[0]!);
        continue;
      }
      try {
        await listPartition(path, partitions[0]!);
      } catch (error) {
        // A server refusing the type field selector: one list without types.
        if (error instanceof KubeApiError && error.status === 400 && coverage.count === 0) {
          notes.add('the type field selector was refused: Secret types unknown');
          await listPartition(path, {});
          continue;
        }
        throw error;
      }
      for (const p of partitions.slice(1)) await listPartition(path, p);
    }
  } catch (error) {
    if (error instanceof QueueStoppedError || isAbortError(error) || ctx.abortSignal?.aborted || !expectedFailure(error)) throw error;
    const reason = gapReasonFor(error);
    coverage.status = reason === 'forbidden' ? 'forbidden' : 'failed';
    const partialNote = coverage.count > 0 ? ` after ${coverage.count} objects` : '';
    coverage.detail = `${describeKubeError(error)}${partialNote}`;
    const gap: Gap = { source: 'snapshot', reason, detail: `${key}: ${coverage.detail}`, resource: key };
    await emit({ kind: 'gap', gap });
  }
  if (coverage.relists) notes.add(`relisted ${coverage.relists} time(s) after expired continue tokens`);
  if (notes.size > 0) coverage.detail = [coverage.detail, ...notes].filter(Boolean).join('; ');
  return coverage;
}
