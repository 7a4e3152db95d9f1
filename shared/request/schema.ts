import { z } from 'zod';
import type { CollectionRequestRecord } from '../evidence/types.js';
import { isSafeId } from '../pipeline/runId.js';
import { SOURCES } from '../sources/registry.js';
import { parseDurationSeconds } from '../util/time.js';
import {
  buildClusterRef,
  CLUSTER_NAME_PATTERN,
  EXAMPLE_CLUSTER_ID,
  parseManagedClusterId,
  RESOURCE_GROUP_PATTERN,
  SUBSCRIPTION_ID_PATTERN,
  type ClusterRef,
} from '../cluster/clusterRef.js';
import { capProblems, type FieldProblem } from './problem.js';
import { appendAll } from '../util/arrays.js';
import { MAX_PRESERVE_SECONDS, preserveForProblem } from '../preservation/resources.js';
export { MIN_PRESERVE_SECONDS } from '../preservation/resources.js';

/** Container logs look-back bounds: at least a second, at most 30 days (kubelets rotate long before). */
export const MIN_SINCE_SECONDS = 1;
export const MAX_SINCE_SECONDS = 30 * 86400;
export const DEFAULT_SINCE_SECONDS = 86400;

const NAMESPACE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** A namespace name is a DNS-1123 label (the CLI's --namespaces checks the same). */
export const NAMESPACE_PATTERN = NAMESPACE;
export const NAMESPACE_RULE =
  'a Kubernetes namespace name (DNS-1123 label): lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters, e.g. "kube-system"';
export const MAX_NAMESPACES = 500;
/** Env values in raw objects: hashed (default) or kept in the bundle only. */
export const ENV_VALUE_MODES = ['hash', 'keep'] as const;
const POD_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/;

/** What the deployment decides when the request does not say (from app settings). */
export interface RequestDefaults {
  /** Sources collected when the request names none (default: every source). */
  sources?: readonly string[];
  sinceSeconds?: number;
  legalHold?: boolean;
  retentionDays?: number;
  /** The cluster's load budget: Kubernetes API requests in flight at once across the whole run. */
  concurrency?: number;
}

export interface ParseRequestOptions {
  defaults?: RequestDefaults;
  /** Source names a request may ask for (default: the pipeline's registry). */
  knownSources?: readonly string[];
  /** Request time; used only to derive a default case id (UTC date). */
  now?: Date;
}

/** A validated request: what to collect, from which cluster, and whether to force a new run. */
export interface ParsedCollectionRequest {
  cluster: ClusterRef;
  record: CollectionRequestRecord;
  /** Start a new run even when one for the same cluster and case exists. */
  force: boolean;
  /** True when caseId was not given and was derived from the cluster and the date. */
  caseIdDerived: boolean;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; problems: FieldProblem[] };

const text = (field: string, max: number) =>
  z
    .string({ error: `${field} must be a string` })
    .trim()
    .min(1, { error: `${field} must not be empty` })
    .max(max, { error: `${field} must be at most ${max} characters` });

const namespaceList = (field: string) =>
  z
    .array(
      z.string({ error: 'must be a namespace name (string)' }).regex(NAMESPACE, {
        error: `must be ${NAMESPACE_RULE}`,
      }),
      { error: `${field} must be an array of namespace names, e.g. ["default","payments"]` },
    )
    .max(MAX_NAMESPACES, { error: `${field} may list at most ${MAX_NAMESPACES} namespaces` });

const bodySchema = (knownSources: readonly string[]) =>
  z
    .object(
      {
        // Validated by parseClusterField (three accepted shapes, one message each).
        cluster: z.unknown().optional(),
        caseId: z
          .string({ error: 'caseId must be a string' })
          .refine((v) => isSafeId(v), {
            error:
              'caseId may hold only letters, digits, ".", "_" and "-", start with a letter or digit, be at most 128 characters and not contain ".." (it becomes a path segment), e.g. "INC-2041"',
          })
          .optional(),
        sources: z
          .array(
            z.string({ error: 'must be a source name (string)' }).refine((s) => knownSources.includes(s), {
              error: `unknown source; choose from ${knownSources.join(', ')}`,
            }),
            { error: `sources must be an array of source names, e.g. ["containerlogs","events"]; choose from ${knownSources.join(', ')}` },
          )
          .min(1, { error: `sources must name at least one source (leave it out to collect all: ${knownSources.join(', ')})` })
          .refine((a) => new Set(a).size === a.length, { error: 'sources lists a source more than once; name each once' })
          .optional(),
        namespaces: namespaceList('namespaces').optional(),
        excludeNamespaces: namespaceList('excludeNamespaces').optional(),
        since: z
          .union([z.string(), z.number()], {
            error: `since must be a duration like "24h", "90m", "7d", or a number of seconds from ${MIN_SINCE_SECONDS} to ${MAX_SINCE_SECONDS}`,
          })
          .optional(),
        requester: text('requester', 256).optional(),
        reason: text('reason', 2048).optional(),
        legalHold: z.boolean({ error: 'legalHold must be true or false' }).optional(),
        retentionDays: z
          .number({ error: 'retentionDays must be a whole number of days' })
          .int({ error: 'retentionDays must be a whole number of days' })
          .min(1, { error: 'retentionDays must be at least 1' })
          .max(36500, { error: 'retentionDays must be at most 36500' })
          .optional(),
        priorityPods: z
          .array(
            z.string({ error: 'must be "namespace/pod"' }).refine(isNamespacedPod, {
              error: 'must be "namespace/pod" with a valid namespace and pod name, e.g. "default/web-7d9f"',
            }),
            { error: 'priorityPods must be an array of "namespace/pod" strings' },
          )
          .max(1000, { error: 'priorityPods may list at most 1000 pods' })
          .optional(),
        force: z.boolean({ error: 'force must be true or false' }).optional(),
        preserveFor: z
          .union([z.string(), z.number()], {
            error: `preserveFor must be a duration like "24h", "90m", "7d", or a number of seconds from 60 to ${MAX_PRESERVE_SECONDS} (7 days)`,
          })
          .optional(),
        envValues: z
          .enum(ENV_VALUE_MODES, {
            error:
              'envValues must be "hash" (default: raw objects keep the SHA-256 of env values) or "keep" (env values kept in the bundle\'s raw artifacts, never in Log Analytics rows)',
          })
          .optional(),
      },
      { error: 'the request body must be a JSON object, e.g. {"cluster": "' + EXAMPLE_CLUSTER_ID + '"}' },
    )
    .strict();

const ALLOWED_FIELDS = Object.keys(bodySchema([]).shape);

export function isNamespacedPod(value: string): boolean {
  const [ns, pod, ...rest] = value.split('/');
  return rest.length === 0 && ns !== undefined && pod !== undefined && NAMESPACE.test(ns) && POD_NAME.test(pod);
}

/** "sources[2]" / "cluster.resourceGroup" from a zod path. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Turn zod issues into field problems; unknown keys each become their own entry. */
export function zodProblems(issues: readonly z.core.$ZodIssue[], allowed: readonly string[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        problems.push({
          field: fieldPath([...issue.path, key]),
          message: `unknown field; remove it or use one of: ${allowed.join(', ')}`,
        });
      }
    } else {
      problems.push({ field: fieldPath(issue.path), message: issue.message });
    }
  }
  return problems;
}

/**
 * Validate the cluster a request names: an ARM resource id string, { resourceId }, or
 * { subscriptionId, resourceGroup, name }.
 */
export function parseClusterField(value: unknown, field = 'cluster'): ParseResult<ClusterRef> {
  const shapes = `"${EXAMPLE_CLUSTER_ID}", or {"subscriptionId": "<guid>", "resourceGroup": "<group>", "name": "<cluster>"}`;
  if (value === undefined || value === null) {
    return { ok: false, problems: [{ field, message: `required: the AKS cluster to collect from, as ${shapes}` }] };
  }
  if (typeof value === 'string') {
    const parsed = parseManagedClusterId(value);
    return parsed.ok ? { ok: true, value: parsed.ref } : { ok: false, problems: [{ field, message: parsed.reason }] };
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, problems: [{ field, message: `must be ${shapes}` }] };
  }
  const obj = value as Record<string, unknown>;
  if ('resourceId' in obj) {
    const extra = Object.keys(obj).filter((k) => k !== 'resourceId');
    if (extra.length) {
      return { ok: false, problems: extra.map((k) => ({ field: `${field}.${k}`, message: 'unknown field; with resourceId give nothing else' })) };
    }
    if (typeof obj.resourceId !== 'string') return { ok: false, problems: [{ field: `${field}.resourceId`, message: 'must be a string' }] };
    const parsed = parseManagedClusterId(obj.resourceId);
    return parsed.ok ? { ok: true, value: parsed.ref } : { ok: false, problems: [{ field: `${field}.resourceId`, message: parsed.reason }] };
  }
  const problems: FieldProblem[] = [];
  const allowed = ['subscriptionId', 'resourceGroup', 'name'];
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) problems.push({ field: `${field}.${key}`, message: `unknown field; use resourceId, or ${allowed.join(', ')}` });
  }
  const { subscriptionId, resourceGroup, name } = obj;
  if (typeof subscriptionId !== 'string' || !SUBSCRIPTION_ID_PATTERN.test(subscriptionId)) {
    problems.push({ field: `${field}.subscriptionId`, message: 'required: the subscription GUID, e.g. "00000000-0000-0000-0000-000000000000"' });
  }
  if (typeof resourceGroup !== 'string' || !RESOURCE_GROUP_PATTERN.test(resourceGroup)) {
    problems.push({
      field: `${field}.resourceGroup`,
      message: 'required: the resource group name (1-90 letters, digits, "_", "-", ".", "(", ")", not ending in ".")',
    });
  }
  if (typeof name !== 'string' || !CLUSTER_NAME_PATTERN.test(name)) {
    problems.push({
      field: `${field}.name`,
      message: 'required: the AKS cluster name (1-63 letters, digits, "_" and "-", starting and ending with a letter or digit)',
    });
  }
  if (problems.length) return { ok: false, problems };
  return { ok: true, value: buildClusterRef(subscriptionId as string, resourceGroup as string, name as string) };
}

/** Parse the since field: "24h" / "90m" / "7d" / "3600s" or a number of seconds, bounded. */
export function parseSince(value: string | number | undefined, fallback: number): ParseResult<number> {
  if (value === undefined) return { ok: true, value: fallback };
  let seconds: number;
  if (typeof value === 'number') {
    seconds = value;
  } else {
    try {
      seconds = parseDurationSeconds(value);
    } catch {
      return { ok: false, problems: [{ field: 'since', message: `"${value}" is not a duration: use a number with s, m, h or d, e.g. "24h"` }] };
    }
  }
  if (!Number.isInteger(seconds) || seconds < MIN_SINCE_SECONDS || seconds > MAX_SINCE_SECONDS) {
    return {
      ok: false,
      problems: [{ field: 'since', message: `must be from ${MIN_SINCE_SECONDS} second to 30 days (${MAX_SINCE_SECONDS} seconds), e.g. "24h"; got ${String(value)}` }],
    };
  }
  return { ok: true, value: seconds };
}

/**
 * Parse preserveFor: keep preserving after the seal for this long ("24h", "7d", or seconds),
 * from a minute to 7 days. The window's watch streams each hold a permit of the load budget, so
 * the budget must leave room for them and for log fetches.
 */
export function parsePreserveFor(value: string | number | undefined, concurrency: number | undefined, field = 'preserveFor'): ParseResult<number | undefined> {
  if (value === undefined) return { ok: true, value: undefined };
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else {
    try {
      seconds = parseDurationSeconds(value);
    } catch {
      return { ok: false, problems: [{ field, message: `"${value.slice(0, 100)}" is not a duration: use a number with s, m, h or d, e.g. "24h" (at most "7d")` }] };
    }
  }
  const problem = preserveForProblem(seconds, concurrency);
  return problem ? { ok: false, problems: [{ field, message: problem }] } : { ok: true, value: seconds };
}

/** The case id used when the request gives none: one per cluster per UTC day. */
export function deriveCaseId(cluster: ClusterRef, now: Date): string {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '');
  return `aks-${cluster.name.toLowerCase()}-${day}`;
}

/**
 * Validate a POST /api/collections body. Every invalid field is reported at once, each with
 * its fix; nothing is defaulted silently except what `defaults` says.
 */
export function parseCollectionRequest(body: unknown, options: ParseRequestOptions = {}): ParseResult<ParsedCollectionRequest> {
  const knownSources = options.knownSources ?? SOURCES.names();
  const defaults = options.defaults ?? {};
  const parsed = bodySchema(knownSources).safeParse(body);
  const problems: FieldProblem[] = [];
  if (!parsed.success) {
    appendAll(problems, zodProblems(parsed.error.issues, ALLOWED_FIELDS));
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, problems };
  }
  const raw = (body ?? {}) as Record<string, unknown>;
  const cluster = parseClusterField(raw.cluster);
  if (!cluster.ok) appendAll(problems, cluster.problems);
  const since = parseSince(typeof raw.since === 'string' || typeof raw.since === 'number' ? raw.since : undefined, defaults.sinceSeconds ?? DEFAULT_SINCE_SECONDS);
  if (!since.ok) appendAll(problems, since.problems);
  const preserveFor = parsePreserveFor(typeof raw.preserveFor === 'string' || typeof raw.preserveFor === 'number' ? raw.preserveFor : undefined, defaults.concurrency);
  if (!preserveFor.ok) appendAll(problems, preserveFor.problems);
  if (problems.length || !parsed.success || !cluster.ok || !since.ok || !preserveFor.ok) {
    return { ok: false, problems: capProblems(dedupe(problems)) };
  }

  const v = parsed.data;
  const caseId = v.caseId ?? deriveCaseId(cluster.value, options.now ?? new Date());
  const legalHold = v.legalHold ?? defaults.legalHold;
  const retentionDays = v.retentionDays ?? defaults.retentionDays;
  const record: CollectionRequestRecord = {
    caseId,
    sources: [...(v.sources ?? defaults.sources ?? knownSources)],
    sinceSeconds: since.value,
    ...(v.requester ? { requester: v.requester } : {}),
    ...(v.reason ? { reason: v.reason } : {}),
    ...(v.namespaces?.length ? { namespaces: [...new Set(v.namespaces)] } : {}),
    ...(v.excludeNamespaces?.length ? { excludeNamespaces: [...new Set(v.excludeNamespaces)] } : {}),
    ...(v.priorityPods?.length ? { priorityPods: [...new Set(v.priorityPods)] } : {}),
    ...(defaults.concurrency !== undefined ? { concurrency: defaults.concurrency } : {}),
    ...(legalHold !== undefined ? { legalHold } : {}),
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    ...(v.envValues === 'keep' ? { envValues: 'keep' as const } : {}),
    ...(preserveFor.value !== undefined ? { preserveForSeconds: preserveFor.value } : {}),
  };
  return { ok: true, value: { cluster: cluster.value, record, force: v.force ?? false, caseIdDerived: v.caseId === undefined } };
}

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.field}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
