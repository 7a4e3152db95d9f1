import { z } from 'zod';
import { ManifestError } from './errors.js';
import { sha256Hex } from './hash.js';
import { artifactPath, artifactSchema, count, sha256, utc } from './schemas.js';
import {
  MANIFEST_PATH,
  MANIFEST_SHA256_PATH,
  type ArtifactRef,
  type CollectorAction,
  type EvidenceStore,
  type Gap,
  type Manifest,
  type ProtectionReport,
  type WrittenArtifact,
} from './types.js';

/** The largest manifest readManifest accepts (a run of many thousands of artifacts is a few MB). */
const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

const gapReasons = [
  'forbidden',
  'unauthorized',
  'not-found',
  'pod-vanished',
  'container-not-running',
  'no-shell',
  'no-history',
  'exec-failed',
  'retries-exhausted',
  'expired-continue',
  'timeout',
  'not-enabled',
  'unsupported',
  'error',
] as const;

const gapSchema = z.object({
  source: z.string(),
  reason: z.enum(gapReasons),
  detail: z.string(),
  resource: z.string().optional(),
  namespace: z.string().optional(),
  pod: z.string().optional(),
  container: z.string().optional(),
  prerequisite: z.string().optional(),
});

const actionSchema = z.object({
  kind: z.literal('exec'),
  at: utc,
  namespace: z.string(),
  pod: z.string(),
  container: z.string(),
  command: z.array(z.string()),
  outcome: z.enum(['ok', 'no-shell', 'no-history', 'failed', 'vanished']),
  attempt: z.number().int().positive().optional(),
  exitCode: z.number().int().optional(),
  detail: z.string().optional(),
  durationMs: z.number().nonnegative().optional(),
});

const sourceSummarySchema = z.object({
  status: z.enum(['complete', 'partial', 'failed', 'skipped']),
  records: count,
  rawObjects: count,
  gaps: z.array(gapSchema),
  artifacts: z.array(z.string()),
  startedAt: utc.optional(),
  endedAt: utc.optional(),
  apiRequests: count.optional(),
  resumes: count.optional(),
});

const protectionSchema = z.object({
  store: z.string().min(1),
  versionLevelImmutability: z.union([z.boolean(), z.literal('unknown')]),
  legalHold: z.object({ requested: z.boolean(), applied: z.boolean(), detail: z.string().optional() }).optional(),
  retentionPolicy: z.object({ requested: z.boolean(), applied: z.boolean(), expiresOn: z.string().optional(), detail: z.string().optional() }).optional(),
  versionLevelPolicy: z
    .object({ state: z.enum(['locked', 'unlocked', 'none', 'unknown']), detail: z.string(), expiresOn: z.string().optional(), checkedPath: z.string().optional() })
    .optional(),
  notes: z.array(z.string()),
});

const resolutionStepSchema = z.object({
  step: z.string(),
  outcome: z.enum(['found', 'nothing', 'failed', 'skipped']),
  detail: z.string(),
  clusters: z.array(z.string()).optional(),
});

const manifestSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string().min(1),
  caseId: z.string().min(1),
  cluster: z.object({
    server: z.string().min(1),
    name: z.string().optional(),
    resourceId: z.string().optional(),
    kubernetesVersion: z.string().optional(),
  }),
  collector: z.object({
    tool: z.literal('aks-evidence'),
    version: z.string().min(1),
    gitCommit: z.string().optional(),
    host: z.string(),
    identity: z.string().optional(),
    runtime: z.string().min(1),
  }),
  request: z.object({
    caseId: z.string().min(1),
    requester: z.string().optional(),
    reason: z.string().optional(),
    incidentId: z.string().optional(),
    sources: z.array(z.string()),
    namespaces: z.array(z.string()).optional(),
    excludeNamespaces: z.array(z.string()).optional(),
    sinceSeconds: z.number().nonnegative(),
    concurrency: z.number().int().positive().optional(),
    logIdleTimeoutSeconds: z.number().positive().optional(),
    priorityPods: z.array(z.string()).optional(),
    priorityNamespaces: z.array(z.string()).optional(),
    priorityNodes: z.array(z.string()).optional(),
    incidentResolution: z
      .object({
        reads: z.array(resolutionStepSchema),
        ways: z.array(resolutionStepSchema),
      })
      .optional(),
    legalHold: z.boolean().optional(),
    retentionDays: z.number().nonnegative().optional(),
    envValues: z.enum(['hash', 'keep']).optional(),
  }),
  startedAt: utc,
  endedAt: utc,
  artifacts: z.array(artifactSchema),
  sources: z.record(z.string(), sourceSummarySchema),
  gaps: z.array(gapSchema),
  actions: z.array(actionSchema),
  protection: protectionSchema,
  clusterFacts: z.record(z.string(), z.unknown()).optional(),
  coverage: z.record(z.string(), z.unknown()).optional(),
  custody: z.object({ claimSha256: sha256, nonce: z.string().regex(/^[0-9a-f]{32,128}$/), chainHead: z.object({ seq: count, sha256 }) }).optional(),
  interrupted: z
    .object({
      reason: z.string(),
      at: utc,
      lastCustodyStep: z.string(),
      unfinishedTasks: z.array(z.object({ source: z.string(), shard: z.string().optional(), detail: z.string() })),
    })
    .optional(),
  previousAttempt: z.object({ runId: z.string().min(1), runtimeStatus: z.string().optional() }).optional(),
  unattributed: z.array(z.object({ path: artifactPath, sha256, bytes: count, reason: z.string() })).optional(),
  valueHandling: z
    .object({
      secrets: z.literal('metadata-only'),
      envValues: z.enum(['sha256', 'kept-in-raw-artifacts']),
      serializedAnnotations: z.enum(['sha256', 'kept-in-raw-artifacts']),
      rows: z.literal('redacted'),
    })
    .optional(),
});

// Compile-time guards: the schema must name every field of the contract in shared/evidence/types.ts.
type Missing<T, S> = Exclude<keyof T, keyof S>;
type MustBeNever<T extends never> = T;
export type ManifestSchemaCoversContract = [
  MustBeNever<Missing<Manifest, z.output<typeof manifestSchema>>>,
  MustBeNever<Missing<ArtifactRef, z.output<typeof artifactSchema>>>,
  MustBeNever<Missing<Gap, z.output<typeof gapSchema>>>,
  MustBeNever<Missing<CollectorAction, z.output<typeof actionSchema>>>,
  MustBeNever<Missing<ProtectionReport, z.output<typeof protectionSchema>>>,
  MustBeNever<Exclude<Gap['reason'], (typeof gapReasons)[number]>>,
];
// ...and what the schema accepts must be a Manifest.
const _schemaIsContract: (m: z.output<typeof manifestSchema>) => Manifest = (m) => m;
void _schemaIsContract;

/** Top-level key order in manifest.json: identity first, the long lists last. */
const TOP_LEVEL_ORDER = [
  'schemaVersion',
  'runId',
  'caseId',
  'startedAt',
  'endedAt',
  'interrupted',
  'previousAttempt',
  'custody',
  'cluster',
  'collector',
  'request',
  'valueHandling',
  'protection',
  'gaps',
  'sources',
  'actions',
  'artifacts',
  'unattributed',
  'clusterFacts',
  'coverage',
];

/**
 * Validate a manifest against schema version 1 and the bundle rules (valid paths, no artifact
 * listed twice). Returns the input unchanged (fields unknown to this version are kept).
 */
export function validateManifest(value: unknown): Manifest {
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 12).map((i) => `${formatIssuePath(i.path)}: ${i.message}`);
    const more = parsed.error.issues.length > 12 ? `; and ${parsed.error.issues.length - 12} more` : '';
    throw new ManifestError(`manifest does not match schema version 1: ${issues.join('; ')}${more}`);
  }
  const seen = new Map<string, string>();
  for (const artifact of parsed.data.artifacts) {
    const previous = seen.get(artifact.path);
    if (previous !== undefined) {
      throw new ManifestError(
        previous === artifact.sha256
          ? `manifest lists artifact ${artifact.path} twice`
          : `manifest lists artifact ${artifact.path} twice with different hashes (${previous} and ${artifact.sha256})`,
      );
    }
    seen.set(artifact.path, artifact.sha256);
  }
  if (parsed.data.request.caseId !== parsed.data.caseId) {
    throw new ManifestError(`manifest caseId ${parsed.data.caseId} differs from request.caseId ${parsed.data.request.caseId}`);
  }
  return value as Manifest;
}

/** Assemble a manifest: schemaVersion set, artifacts sorted by path (so the same run seals to the same bytes), validated. */
export function buildManifest(parts: Omit<Manifest, 'schemaVersion'>): Manifest {
  const manifest: Manifest = {
    ...parts,
    schemaVersion: 1,
    artifacts: [...parts.artifacts].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  };
  return validateManifest(manifest);
}

/** manifest.json bytes: validated, stable key order, 2-space JSON, trailing newline. */
export function serializeManifest(manifest: Manifest): string {
  validateManifest(manifest);
  return JSON.stringify(canonical(manifest, true), null, 2) + '\n';
}

/** The content of manifest.json.sha256 (sha256sum format). */
export function manifestSha256FileContent(sha256hex: string): string {
  return `${sha256hex}  ${MANIFEST_PATH}\n`;
}

/** Parse manifest.json.sha256 ("<hex>  manifest.json"). */
export function parseManifestSha256File(text: string): string {
  const m = /^([0-9a-fA-F]{64})[ \t]+\*?manifest\.json\r?\n?$/.exec(text.trim() + '\n');
  if (!m?.[1]) throw new ManifestError(`${MANIFEST_SHA256_PATH} is not "<sha256>  manifest.json"`);
  return m[1].toLowerCase();
}

export interface WrittenManifest extends WrittenArtifact {
  /** The manifest.json.sha256 artifact. */
  sha256File: WrittenArtifact;
}

/**
 * Seal the bundle: write manifest.json once, then manifest.json.sha256, and apply the store's
 * protection (legal hold / retention) to both. Re-sealing with identical content succeeds
 * (alreadyExisted); different content is an ArtifactConflictError.
 */
export async function writeManifest(store: EvidenceStore, manifest: Manifest): Promise<WrittenManifest> {
  const text = serializeManifest(manifest);
  const written = await store.writeArtifact(MANIFEST_PATH, text, {
    contentType: 'application/json',
    metadata: { kind: 'manifest', runId: manifest.runId, caseId: manifest.caseId },
  });
  const sha256File = await store.writeArtifact(MANIFEST_SHA256_PATH, manifestSha256FileContent(written.sha256), {
    contentType: 'text/plain',
    metadata: { kind: 'manifest-sha256', runId: manifest.runId, caseId: manifest.caseId },
  });
  await store.protect?.(MANIFEST_PATH);
  await store.protect?.(MANIFEST_SHA256_PATH);
  return { ...written, sha256File };
}

export interface ReadManifestResult {
  manifest: Manifest;
  /** SHA-256 of manifest.json as stored. */
  sha256: string;
  bytes: number;
}

/** Read and validate manifest.json, with the hash of its stored bytes. */
export async function readManifestWithHash(store: EvidenceStore, options: { abortSignal?: AbortSignal } = {}): Promise<ReadManifestResult> {
  const info = await store.stat(MANIFEST_PATH);
  if (!info) throw new ManifestError(`${store.location} has no ${MANIFEST_PATH}: the run was not sealed, or this is not a bundle`);
  if (info.bytes > MAX_MANIFEST_BYTES) throw new ManifestError(`${MANIFEST_PATH} is ${info.bytes} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`);
  const bytes = await readSmallArtifact(store, MANIFEST_PATH, MAX_MANIFEST_BYTES, options);
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ManifestError(`${MANIFEST_PATH} in ${store.location} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  return { manifest: validateManifest(value), sha256: sha256Hex(bytes), bytes: bytes.byteLength };
}

/** Read and validate manifest.json. */
export async function readManifest(store: EvidenceStore, options: { abortSignal?: AbortSignal } = {}): Promise<Manifest> {
  return (await readManifestWithHash(store, options)).manifest;
}

/** Read a small artifact fully into memory, refusing more than maxBytes. */
export async function readSmallArtifact(store: EvidenceStore, path: string, maxBytes: number, options: { abortSignal?: AbortSignal } = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of await store.read(path, options)) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    total += buf.byteLength;
    if (total > maxBytes) throw new ManifestError(`${path} is over the ${maxBytes}-byte limit for this read`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = 'manifest';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

/** A JSON value with object keys in a stable order (top level by TOP_LEVEL_ORDER, elsewhere sorted). */
function canonical(value: unknown, topLevel = false): unknown {
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return canonical(withJson.toJSON());
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : canonical(v)));
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined && typeof obj[k] !== 'function');
  const rank = (k: string): number => {
    const i = topLevel ? TOP_LEVEL_ORDER.indexOf(k) : -1;
    return i === -1 ? TOP_LEVEL_ORDER.length : i;
  };
  keys.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = canonical(obj[k]);
  return out;
}
