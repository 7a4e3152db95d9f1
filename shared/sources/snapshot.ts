import { createHash } from 'node:crypto';
import { HttpMethod, RequestContext } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { fetch } from 'undici';
import { describeKubeError, gapReasonFor, KubeApi, KubeApiError, kubeApiErrorFromResponse, type QueryValue } from '../cluster/kubeApi.js';
import { withTypeMeta, type KubeListItem } from '../cluster/paginate.js';
import { isAbortError, RetriesExhaustedError, withRetry, type RetryOptions } from '../cluster/retry.js';
import type { Gap } from '../evidence/types.js';
import { toRfc3339 } from '../util/time.js';
import { ItemQueue, QueueStoppedError } from './itemQueue.js';
import { namespacedListPaths, namespaceSelected } from './namespaces.js';
import { arr, firstTime, obj, str } from './rowValues.js';
import { SNAPSHOT_TABLE_NAME } from './snapshotTable.js';
import type { Row, SourceContext, SourceDefinition, SourceItem } from './types.js';
import { appendAll } from '../util/arrays.js';

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

export type ConfigMapValues = 'keep' | 'hash' | 'metadata';

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
const JSON_ACCEPT = 'application/json';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
export const REDACTED_MARKER = '<redacted by aks-evidence: may contain Secret values>';

/** One listable resource type found by discovery. */
export interface DiscoveredType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

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

const resourceKey = (group: string, resource: string): string => (group ? `${group}/${resource}` : resource);
const gvPath = (group: string, version: string): string => (group ? `/apis/${group}/${version}` : `/api/${version}`);
export const streamFor = (t: Pick<DiscoveredType, 'group' | 'version' | 'resource'>): string => `${t.group || 'core'}_${t.version}_${t.resource}`;

interface RequestOpts {
  abortSignal?: AbortSignal;
  countRequest?: () => void;
  retry?: RetryOptions;
}

interface Fetched<T> {
  body: T;
  date?: string;
}

/**
 * One GET with an explicit Accept header through KubeApi's authentication and pooled
 * connection (KubeApi.getJson always asks for plain JSON, which must never be sent for Secrets).
 */
async function getOnce<T>(api: KubeApi, path: string, query: Record<string, QueryValue> | undefined, accept: string, options: RequestOpts): Promise<Fetched<T>> {
  const context = new RequestContext(api.url(path, query), HttpMethod.GET);
  context.setHeaderParam('Accept', accept);
  await api.authenticate(context);
  const timeout = AbortSignal.timeout(120_000);
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;
  options.countRequest?.();
  const dispatcher = context.getDispatcher();
  let response;
  try {
    response = await fetch(context.getUrl(), { method: 'GET', headers: context.getHeaders(), signal, ...(dispatcher ? { dispatcher: dispatcher as never } : {}) });
  } catch (error) {
    if (isAbortError(error) || options.abortSignal?.aborted) throw options.abortSignal?.reason ?? error;
    throw new KubeApiError({ status: 0, path, message: `GET ${path} failed: ${error instanceof Error ? error.message : String(error)}` }, { cause: error });
  }
  const date = response.headers.get('date') ?? undefined;
  if (response.status >= 200 && response.status < 300) {
    try {
      const body = (await response.json()) as T;
      return date ? { body, date } : { body };
    } catch (error) {
      throw new KubeApiError({ status: 0, path, message: `GET ${path}: the response body could not be read` }, { cause: error });
    }
  }
  const text = await response.text().catch(() => '');
  throw kubeApiErrorFromResponse('GET', path, response.status, text, response.headers.get('retry-after'));
}

async function get<T>(api: KubeApi, path: string, query: Record<string, QueryValue> | undefined, accept: string, options: RequestOpts): Promise<Fetched<T>> {
  const retry: RetryOptions = { ...options.retry };
  if (options.abortSignal) retry.abortSignal = options.abortSignal;
  return withRetry(() => getOnce<T>(api, path, query, accept, options), retry);
}

function expectedFailure(error: unknown): boolean {
  return error instanceof KubeApiError || error instanceof RetriesExhaustedError;
}

interface ApiResourceJson {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

export interface DiscoveryResult {
  types: DiscoveredType[];
  /** Group/versions whose discovery failed (aggregated API down, forbidden, ...). */
  failures: { group: string; version: string; error: unknown }[];
}

/**
 * Every listable resource type: for each group, every served version is read and each
 * resource is taken at the first version (in the server's preference order) that serves it,
 * like kubectl's ServerPreferredResources. Subresources (names with "/") and types without
 * the list verb are skipped.
 */
export async function discoverResourceTypes(api: KubeApi, options: RequestOpts = {}, concurrency = 8): Promise<DiscoveryResult> {
  const failures: DiscoveryResult['failures'] = [];
  const types: DiscoveredType[] = [];
  const groupVersions: { group: string; versions: string[] }[] = [];
  const core = await get<{ versions?: string[] }>(api, '/api', undefined, JSON_ACCEPT, options);
  groupVersions.push({ group: '', versions: core.body.versions ?? ['v1'] });
  const apis = await get<{ groups?: { name: string; versions?: { version: string }[]; preferredVersion?: { version: string } }[] }>(api, '/apis', undefined, JSON_ACCEPT, options);
  for (const g of apis.body.groups ?? []) {
    const versions = (g.versions ?? []).map((v) => v.version);
    const preferred = g.preferredVersion?.version;
    if (preferred && versions.includes(preferred)) {
      versions.splice(versions.indexOf(preferred), 1);
      versions.unshift(preferred);
    }
    groupVersions.push({ group: g.name, versions });
  }
  // Every group/version's resource list, fetched concurrently; merged in the server's order.
  const limit = pLimit(Math.max(1, concurrency));
  const lists = await Promise.all(
    groupVersions.flatMap(({ group, versions }) =>
      versions.map((version) =>
        limit(async () => {
          try {
            // An aggregated API that is down answers 503 persistently: one retry, not the full budget.
            const gvOptions: RequestOpts = { ...options, retry: { ...options.retry, maxAttempts: Math.min(options.retry?.maxAttempts ?? 2, 2) } };
            return { group, version, resources: (await get<{ resources?: ApiResourceJson[] }>(api, gvPath(group, version), undefined, JSON_ACCEPT, gvOptions)).body.resources ?? [] };
          } catch (error) {
            if (!expectedFailure(error)) throw error;
            return { group, version, error };
          }
        }),
      ),
    ),
  );
  const seen = new Set<string>();
  for (const l of lists) {
    if ('error' in l) {
      failures.push({ group: l.group, version: l.version, error: l.error });
      continue;
    }
    for (const r of l.resources) {
      // A resource is taken at the first (most preferred) version that serves it.
      if (r.name.includes('/') || !(r.verbs ?? []).includes('list') || seen.has(resourceKey(l.group, r.name))) continue;
      seen.add(resourceKey(l.group, r.name));
      types.push({ group: l.group, version: l.version, resource: r.name, kind: r.kind, namespaced: r.namespaced });
    }
  }
  return { types, failures };
}

// ---------------------------------------------------------------- value handling

const sha256 = (data: string | Buffer): string => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Keys a Secret's metadata reveals: managedFields f:data entries and the last-applied annotation's data keys. */
export function keysFromMetadata(metadata: Record<string, unknown>): string[] {
  const keys = new Set<string>();
  for (const entry of arr(metadata['managedFields'])) {
    const fields = obj(obj(entry)['fieldsV1']);
    for (const section of ['f:data', 'f:binaryData', 'f:stringData']) {
      for (const k of Object.keys(obj(fields[section]))) if (k.startsWith('f:')) keys.add(k.slice(2));
    }
  }
  const lastApplied = obj(metadata['annotations'])[LAST_APPLIED];
  if (typeof lastApplied === 'string') {
    try {
      const parsed = obj(JSON.parse(lastApplied));
      for (const section of ['data', 'binaryData', 'stringData']) for (const k of Object.keys(obj(parsed[section]))) keys.add(k);
    } catch {
      // Not JSON: no keys from it.
    }
  }
  return [...keys].sort();
}

/** Replace annotation values that may embed object values (kubectl's last-applied copy). */
function redactAnnotations(metadata: Record<string, unknown>, replacement: (value: string) => string): Record<string, unknown> {
  const annotations = metadata['annotations'];
  if (!annotations || typeof annotations !== 'object' || typeof (annotations as Record<string, unknown>)[LAST_APPLIED] !== 'string') return metadata;
  const a = annotations as Record<string, string>;
  return { ...metadata, annotations: { ...a, [LAST_APPLIED]: replacement(a[LAST_APPLIED]!) } };
}

function hashValues(map: unknown, binary: boolean): Record<string, string> | undefined {
  if (!map || typeof map !== 'object') return undefined;
  return Object.fromEntries(Object.entries(map as Record<string, unknown>).map(([k, v]) => [k, sha256(binary ? Buffer.from(str(v), 'base64') : str(v))]));
}

/** Apply `paths` (dotted, [*] for array elements) to a copy of `value`, hashing what they reach. */
export function redactPaths(value: Record<string, unknown>, paths: readonly string[]): Record<string, unknown> {
  const out = structuredClone(value);
  for (const path of paths) {
    const segments = path.split('.').flatMap((s) => s.split(/(\[\*\])/).filter(Boolean));
    const walk = (node: unknown, i: number): void => {
      if (node === null || typeof node !== 'object') return;
      const seg = segments[i]!;
      const last = i === segments.length - 1;
      if (seg === '[*]') {
        if (!Array.isArray(node)) return;
        node.forEach((child, j) => {
          if (last) node[j] = sha256(typeof child === 'string' ? child : JSON.stringify(child));
          else walk(child, i + 1);
        });
        return;
      }
      const rec = node as Record<string, unknown>;
      if (!(seg in rec)) return;
      if (last) rec[seg] = sha256(typeof rec[seg] === 'string' ? (rec[seg] as string) : JSON.stringify(rec[seg]));
      else walk(rec[seg], i + 1);
    };
    walk(out, 0);
  }
  return out;
}

// ---------------------------------------------------------------- rows

interface PodSpecLike {
  containers?: { name?: string; image?: string; command?: string[]; args?: string[]; securityContext?: { privileged?: boolean; capabilities?: { add?: string[] } } }[];
  initContainers?: PodSpecLike['containers'];
  ephemeralContainers?: PodSpecLike['containers'];
  serviceAccountName?: string;
  serviceAccount?: string;
  nodeName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  volumes?: { hostPath?: { path?: string } }[];
}

/** The pod spec of a pod or of a workload's pod template, when the object has one. */
export function podSpecOf(object: Record<string, unknown>): PodSpecLike | undefined {
  const spec = obj(object['spec']);
  switch (object['kind']) {
    case 'Pod':
      return spec as PodSpecLike;
    case 'PodTemplate':
      return obj(obj(object['template'])['spec']) as PodSpecLike;
    case 'CronJob':
      return obj(obj(obj(obj(spec['jobTemplate'])['spec'])['template'])['spec']) as PodSpecLike;
    default: {
      const template = obj(spec['template']);
      return template['spec'] ? (obj(template['spec']) as PodSpecLike) : undefined;
    }
  }
}

function allContainers(ps: PodSpecLike): NonNullable<PodSpecLike['containers']> {
  return [...(ps.initContainers ?? []), ...(ps.containers ?? []), ...(ps.ephemeralContainers ?? [])];
}

function securityFlags(ps: PodSpecLike): string {
  const flags: string[] = [];
  if (ps.hostNetwork) flags.push('hostNetwork');
  if (ps.hostPID) flags.push('hostPID');
  if (ps.hostIPC) flags.push('hostIPC');
  const containers = allContainers(ps);
  if (containers.some((c) => c.securityContext?.privileged === true)) flags.push('privileged');
  for (const v of ps.volumes ?? []) if (v.hostPath?.path !== undefined) flags.push(`hostPath:${v.hostPath.path}`);
  const caps = new Set(containers.flatMap((c) => c.securityContext?.capabilities?.add ?? []));
  for (const cap of caps) flags.push(`cap:${cap}`);
  return flags.join(',');
}

function webhookTargets(object: Record<string, unknown>): string[] {
  return arr(object['webhooks']).map((w) => {
    const hook = obj(w);
    const cc = obj(hook['clientConfig']);
    const svc = obj(cc['service']);
    const target = typeof cc['url'] === 'string' ? `url:${cc['url']}` : `service:${str(svc['namespace'])}/${str(svc['name'])}:${str(svc['port'] ?? 443)}${str(svc['path'])}`;
    return `${str(hook['name'])} ${target} failurePolicy=${str(hook['failurePolicy'] ?? 'Fail')}`;
  });
}

function conditionStatus(object: Record<string, unknown>, type: string): string | undefined {
  const c = arr(obj(object['status'])['conditions']).map(obj).find((x) => x['type'] === type);
  return c ? str(c['status']) : undefined;
}

function kindDetail(object: Record<string, unknown>, ps: PodSpecLike | undefined): string {
  const spec = obj(object['spec']);
  const status = obj(object['status']);
  switch (object['kind']) {
    case 'CronJob': {
      const first = ps?.containers?.[0];
      const cmd = first ? [...(first.command ?? []), ...(first.args ?? [])].join(' ') : '';
      return `schedule "${str(spec['schedule'])}"${spec['suspend'] === true ? ' (suspended)' : ''}${cmd ? `: ${cmd}` : ''}`;
    }
    case 'APIService': {
      const svc = obj(spec['service']);
      const available = conditionStatus(object, 'Available');
      const target = spec['service'] ? `service ${str(svc['namespace'])}/${str(svc['name'])}:${str(svc['port'] ?? 443)}` : 'Local';
      return `${str(spec['group']) || 'core'}/${str(spec['version'])} → ${target}${available ? ` (Available=${available})` : ''}${spec['insecureSkipTLSVerify'] === true ? ' insecureSkipTLSVerify' : ''}`;
    }
    case 'CustomResourceDefinition':
      return `${str(spec['group'])} ${str(obj(spec['names'])['kind'])} (${str(spec['scope'])})`;
    case 'Service': {
      const ingress = arr(obj(status['loadBalancer'])['ingress']).map((i) => str(obj(i)['ip'] ?? obj(i)['hostname']));
      return `${str(spec['type'] ?? 'ClusterIP')} ${str(spec['clusterIP'])}${ingress.length ? ` external ${ingress.join(',')}` : ''}`;
    }
    case 'ClusterRole':
    case 'Role': {
      const agg = obj(object['aggregationRule']);
      const selectors = arr(agg['clusterRoleSelectors']).map((s) => JSON.stringify(obj(s)['matchLabels'] ?? s));
      return `${arr(object['rules']).length} rules${selectors.length ? `, aggregates ${selectors.join(' ')}` : ''}`;
    }
    case 'Node': {
      const info = obj(status['nodeInfo']);
      return `${str(info['kubeletVersion'])} ${str(info['osImage'])}`.trim();
    }
    case 'Job': {
      return `succeeded ${str(status['succeeded'] ?? 0)}, failed ${str(status['failed'] ?? 0)}`;
    }
    default:
      return '';
  }
}

function ownerOf(metadata: Record<string, unknown>): { kind: string; name: string } {
  const owners = arr(metadata['ownerReferences']).map(obj);
  const o = owners.find((x) => x['controller'] === true) ?? owners[0];
  return o ? { kind: str(o['kind']), name: str(o['name']) } : { kind: '', name: '' };
}

/** The snapshot row of one object (already value-safe). */
export function snapshotRow(
  object: Record<string, unknown>,
  type: DiscoveredType,
  collectedAt: string,
  extra: { secretType?: string; dataKeys?: string[]; valueHandling?: string } = {},
): Row {
  const metadata = obj(object['metadata']);
  const kindObject = { ...object, kind: type.kind };
  const ps = podSpecOf(kindObject);
  const spec = obj(object['spec']);
  const owner = ownerOf(metadata);
  const roleRef = obj(object['roleRef']);
  const isBinding = type.kind === 'RoleBinding' || type.kind === 'ClusterRoleBinding';
  const namespace = str(metadata['namespace']);
  const name = str(metadata['name']);
  const detail = kindDetail(kindObject, ps);
  const created = firstTime(metadata['creationTimestamp']);
  const images = ps ? [...new Set(allContainers(ps).map((c) => str(c.image)).filter(Boolean))] : [];
  const row: Row = {
    TimeGenerated: created ?? collectedAt,
    kind: type.kind,
    api_group: type.group,
    api_version: type.version,
    resource: type.resource,
    namespace,
    name,
    uid: str(metadata['uid']),
    creation_time: created ?? null,
    resource_version: str(metadata['resourceVersion']),
    owner_kind: owner.kind,
    owner_name: owner.name,
    labels: JSON.stringify(obj(metadata['labels'])),
    images: JSON.stringify(images),
    service_account: ps ? str(ps.serviceAccountName ?? ps.serviceAccount) : '',
    node_name: type.kind === 'Pod' || type.kind === 'VolumeAttachment' ? str(spec['nodeName']) : '',
    replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : null,
    phase: str(obj(object['status'])['phase']),
    security_flags: ps ? securityFlags(ps) : '',
    webhook_targets: JSON.stringify(type.kind.endsWith('WebhookConfiguration') ? webhookTargets(object) : []),
    role_ref: isBinding ? `${str(roleRef['kind'])}/${str(roleRef['name'])}` : '',
    subjects: JSON.stringify(
      isBinding ? arr(object['subjects']).map((s) => `${str(obj(s)['kind'])}:${str(obj(s)['namespace'])}/${str(obj(s)['name'])}`) : [],
    ),
    secret_type: extra.secretType ?? '',
    data_keys: JSON.stringify(extra.dataKeys ?? []),
    value_handling: extra.valueHandling ?? '',
    detail,
    summary: `${type.kind} ${namespace ? `${namespace}/` : ''}${name}${detail ? `: ${detail}` : ''}`.slice(0, 1000),
    raw_stream: streamFor(type),
  };
  return row;
}

// ---------------------------------------------------------------- listing

interface ListDoc {
  apiVersion?: string;
  kind?: string;
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubeListItem[] | null;
}

interface ListCallbacks {
  onFirstPage(info: { resourceVersion?: string; date?: string; kind?: string }): void;
  onPage(): void;
  onRelist(): void;
}

/** Every item of one list call chain (limit/continue; relist from scratch on 410, skipping uids already yielded). */
async function* pages(
  api: KubeApi,
  path: string,
  query: Record<string, QueryValue>,
  accept: string,
  options: RequestOpts,
  callbacks: ListCallbacks,
  maxRelists = 3,
): AsyncGenerator<{ item: KubeListItem; doc: ListDoc }> {
  const seen = new Set<string>();
  let relisting = false;
  let relists = 0;
  let continueToken: string | undefined;
  let first = true;
  for (;;) {
    let page: Fetched<ListDoc>;
    try {
      page = await get<ListDoc>(api, path, { ...query, continue: continueToken }, accept, options);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 410 && continueToken !== undefined && relists < maxRelists) {
        relists++;
        relisting = true;
        continueToken = undefined;
        first = true;
        callbacks.onRelist();
        continue;
      }
      throw error;
    }
    if (first) {
      callbacks.onFirstPage({
        ...(page.body.metadata?.resourceVersion ? { resourceVersion: page.body.metadata.resourceVersion } : {}),
        ...(page.date ? { date: page.date } : {}),
        ...(page.body.kind ? { kind: page.body.kind } : {}),
      });
      first = false;
    }
    callbacks.onPage();
    for (const item of page.body.items ?? []) {
      const m = item.metadata ?? {};
      const key = m.uid ?? `${m.namespace ?? ''}/${m.name ?? ''}`;
      if (relisting && seen.has(key)) continue;
      seen.add(key);
      yield { item, doc: page.body };
    }
    continueToken = page.body.metadata?.continue || undefined;
    if (continueToken === undefined) return;
  }
}

function toDate(httpDate: string | undefined): string | undefined {
  if (!httpDate) return undefined;
  const t = Date.parse(httpDate);
  return Number.isNaN(t) ? undefined : toRfc3339(t);
}

interface ResolvedOptions {
  exclude: Set<string>;
  sensitive: Set<string>;
  configMapValues: ConfigMapValues;
  redact: Map<string, readonly string[]>;
  pageSize: number;
  secretTypes: boolean;
  retry?: RetryOptions;
}

function resolveOptions(options: SnapshotOptions): ResolvedOptions {
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
  if (!['keep', 'hash', 'metadata'].includes(resolved.configMapValues)) throw new RangeError(`configMapValues must be keep, hash or metadata, got ${String(resolved.configMapValues)}`);
  if (!Number.isInteger(resolved.pageSize) || resolved.pageSize < 1) throw new RangeError(`pageSize must be a positive integer, got ${resolved.pageSize}`);
  return resolved;
}

type Emit = (item: SourceItem) => Promise<void>;

/** List one type completely, emitting raw objects and rows; returns its coverage. */
async function listType(ctx: SourceContext, api: KubeApi, type: DiscoveredType, o: ResolvedOptions, emit: Emit): Promise<SnapshotTypeCoverage> {
  const key = resourceKey(type.group, type.resource);
  const isCoreSecrets = type.group === '' && type.resource === 'secrets';
  const isCoreConfigMaps = type.group === '' && type.resource === 'configmaps';
  const metadataOnly = o.sensitive.has(key) || (isCoreConfigMaps && o.configMapValues === 'metadata');
  const valueHandling: SnapshotTypeCoverage['valueHandling'] | undefined = metadataOnly ? 'metadata-only' : isCoreConfigMaps ? (o.configMapValues === 'hash' ? 'sha256' : 'kept') : undefined;
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
  const requestOpts: RequestOpts = {
    ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}),
    ...(ctx.countRequest ? { countRequest: ctx.countRequest } : {}),
    ...(o.retry ? { retry: o.retry } : {}),
  };
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

  const handleItem = async (item: KubeListItem, doc: ListDoc, secretType: string | undefined): Promise<void> => {
    if (type.namespaced && !namespaceSelected(item.metadata?.namespace, ctx.namespaces)) return;
    let object: Record<string, unknown>;
    let dataKeys: string[] | undefined;
    if (metadataOnly) {
      // Never keep anything but metadata, whatever the server sent.
      if (item.kind !== 'PartialObjectMetadata' && doc.kind !== 'PartialObjectMetadataList') notes.add('the server ignored the metadata-only request: everything but metadata was discarded on receipt');
      const metadata = obj(item.metadata);
      dataKeys = keysFromMetadata(metadata);
      object = { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: redactAnnotations(metadata, () => REDACTED_MARKER) };
      if (secretType !== undefined) object['type'] = secretType === 'other' ? '' : secretType;
    } else {
      object = withTypeMeta(item, doc.apiVersion, type.kind);
      if (isCoreConfigMaps) {
        dataKeys = [...new Set([...Object.keys(obj(object['data'])), ...Object.keys(obj(object['binaryData']))])].sort();
        if (o.configMapValues === 'hash') {
          const hashed: Record<string, unknown> = { ...object, metadata: redactAnnotations(obj(object['metadata']), (v) => sha256(v)) };
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
    const query: Record<string, QueryValue> = { limit: o.pageSize, fieldSelector: partition.fieldSelector };
    for await (const { item, doc } of pages(api, path, query, metadataOnly ? PARTIAL_LIST_ACCEPT : JSON_ACCEPT, requestOpts, {
      onFirstPage: (info) => {
        if (info.resourceVersion) coverage.resourceVersions!.push(info.resourceVersion);
        const when = toDate(info.date);
        if (when && !coverage.serverTime) coverage.serverTime = when;
      },
      onPage: () => {
        coverage.pages!++;
      },
      onRelist: () => {
        coverage.relists!++;
      },
    })) {
      await handleItem(item, doc, partition.secretType);
    }
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

/** Run the snapshot: discovery, then every type with bounded concurrency, then the coverage report. */
async function* collectSnapshot(ctx: SourceContext, options: SnapshotOptions): AsyncGenerator<SourceItem> {
  const o = resolveOptions(options);
  const api = KubeApi.for(ctx.kubeConfig);
  const requestOpts: RequestOpts = {
    ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}),
    ...(ctx.countRequest ? { countRequest: ctx.countRequest } : {}),
    ...(o.retry ? { retry: o.retry } : {}),
  };
  const startedAt = toRfc3339(ctx.clock());
  let discovery: DiscoveryResult;
  try {
    discovery = await discoverResourceTypes(api, requestOpts, ctx.concurrency);
  } catch (error) {
    if (isAbortError(error) || ctx.abortSignal?.aborted || !expectedFailure(error)) throw error;
    yield { kind: 'gap', gap: { source: 'snapshot', reason: gapReasonFor(error), detail: `API discovery failed, nothing listed: ${describeKubeError(error)}`, resource: 'discovery' } };
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
      types.push({ group: t.group, version: t.version, resource: t.resource, kind: t.kind, namespaced: t.namespaced, count: 0, status: 'excluded', detail: 'excluded by configuration (collected by another source or by request)' });
    } else toList.push(t);
  }

  const queue = new ItemQueue<SourceItem>(Math.max(64, ctx.concurrency * 32));
  const listed: SnapshotTypeCoverage[] = new Array<SnapshotTypeCoverage>(toList.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toList.length) {
      const i = next++;
      listed[i] = await listType(ctx, api, toList[i]!, o, (item) => queue.putAndWait(item));
      ctx.progress?.({ source: 'snapshot', records: listed.filter(Boolean).reduce((n, c) => n + c.count, 0), message: `listed ${resourceKey(toList[i]!.group, toList[i]!.resource)}` });
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

/** A snapshot source with non-default options (exclusions, sensitive types, ConfigMap values). */
export function createSnapshotSource(options: SnapshotOptions = {}): SourceDefinition {
  resolveOptions(options); // fail at configuration time, not mid-run
  return {
    name: 'snapshot',
    table: SNAPSHOT_TABLE_NAME,
    description:
      'Point-in-time snapshot of every object the API serves (core, built-in groups, aggregated APIs, custom resources), raw per type, Secrets by metadata only, ConfigMap values hashed, with a coverage report.',
    collect: (ctx) => collectSnapshot(ctx, options),
  };
}

export const snapshotSource: SourceDefinition = createSnapshotSource();
