import type { TokenCredential } from '@azure/identity';
import { writeWhole } from './writeWhole.js';
import { ContainerClient, type BlockBlobClient } from '@azure/storage-blob';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { ArtifactConflictError, redactUrl } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { parseBlobUrl, sasDeleteRights, sasPermissions } from './blobUrl.js';
import { ArtifactNotFoundError, EvidenceStoreError } from './errors.js';
import { hashStream, isSha256Hex } from './hash.js';
import { checkWriteOptions } from './localStore.js';
import { validateArtifactPath, validateBundleId } from './paths.js';
import type { ArtifactWriteOptions, ArtifactWriter, EvidenceStore, ProtectionReport, StoredArtifactInfo, WrittenArtifact } from './types.js';

const MIB = 1024 * 1024;
export const DEFAULT_BLOCK_SIZE_BYTES = 4 * MIB;
const MIN_BLOCK_SIZE_BYTES = 64 * 1024;
const MAX_BLOCK_SIZE_BYTES = 100 * MIB;
/** The service's limit on committed blocks per blob. */
const MAX_BLOCKS = 50_000;
const DAY_MS = 86_400_000;

export interface BlobBundleOptions {
  /** https://<account>.blob.core.windows.net/<container>, or Azurite's http://127.0.0.1:10000/devstoreaccount1/<container>. A SAS in the query is accepted only without delete rights. */
  containerUrl: string;
  caseId: string;
  runId: string;
  /** Entra credential (DefaultAzureCredential, managed identity): needs Storage Blob Data Contributor on the container. */
  credential?: TokenCredential;
  /** Connection string (Azurite, local use). Must point at the same account as containerUrl. */
  connectionString?: string;
  /** Apply a legal hold to every artifact passed to protect(). Default false. */
  legalHold?: boolean;
  /** Apply an unlocked time-based retention policy of this many days to every artifact passed to protect(). */
  retentionDays?: number;
  /** Bytes per staged block; memory per open writer is at most two blocks. Default 4 MiB (64 KiB – 100 MiB). */
  blockSizeBytes?: number;
  /**
   * Blob index tags (sha256, runId, caseId, source, kind) at write time. They need the
   * tags/write data action (Storage Blob Data Owner; Contributor does not have it). 'auto'
   * (default) sets them and drops them for the rest of the run if the service refuses with 403.
   */
  indexTags?: boolean | 'auto';
  /** Create the container if it does not exist (Azurite, local use). Default false: infra creates it with immutability. */
  createContainer?: boolean;
  clock?: Clock;
}

/** Open the bundle <container>/<caseId>/<runId>/ in Blob Storage. */
export async function openBlobBundle(options: BlobBundleOptions): Promise<EvidenceStore> {
  validateBundleId('caseId', options.caseId);
  validateBundleId('runId', options.runId);
  const blockSize = options.blockSizeBytes ?? DEFAULT_BLOCK_SIZE_BYTES;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE_BYTES || blockSize > MAX_BLOCK_SIZE_BYTES) {
    throw new EvidenceStoreError(`blockSizeBytes must be an integer from ${MIN_BLOCK_SIZE_BYTES} to ${MAX_BLOCK_SIZE_BYTES}, got ${blockSize}`);
  }
  if (options.retentionDays !== undefined && !(Number.isFinite(options.retentionDays) && options.retentionDays > 0)) {
    throw new EvidenceStoreError(`retentionDays must be a positive number of days, got ${options.retentionDays}`);
  }
  const container = containerClientFor(options);
  if (options.createContainer) {
    try {
      await container.createIfNotExists();
    } catch (error) {
      throw storeError(`cannot create container ${publicUrl(container)}`, error);
    }
  }
  return new BlobEvidenceStore(container, options, blockSize);
}

function containerClientFor(options: BlobBundleOptions): ContainerClient {
  const parsed = parseBlobUrl(options.containerUrl);
  if (parsed.rest.length > 0) {
    throw new EvidenceStoreError(
      `${redactUrl(options.containerUrl)} is not a container URL: give ${parsed.accountUrl}/${parsed.container} (case and run become <caseId>/<runId> under it)`,
    );
  }
  const urlSas = parsed.query && new URLSearchParams(parsed.query).has('sig') ? parsed.query : '';
  if (urlSas) refuseDeleteSas(sasPermissions(urlSas), 'the container URL');
  const bareUrl = `${parsed.accountUrl}/${encodeURIComponent(parsed.container)}`;
  if (options.connectionString) {
    const csSas = connectionStringField(options.connectionString, 'SharedAccessSignature');
    if (csSas) refuseDeleteSas(sasPermissions(csSas), 'the connection string');
    let client: ContainerClient;
    try {
      client = new ContainerClient(options.connectionString, parsed.container);
    } catch {
      // The SDK's message can quote the connection string: never pass it (or the error) on.
      throw new EvidenceStoreError("the storage connection string is not valid (expected AccountName=…;AccountKey=…;BlobEndpoint=…, or Azurite's)");
    }
    const fromCs = publicUrl(client).replace(/\/+$/, '');
    if (fromCs.toLowerCase() !== bareUrl.toLowerCase()) {
      throw new EvidenceStoreError(`the connection string points at ${fromCs}, but the evidence location is ${bareUrl}: they must name the same account`);
    }
    return client;
  }
  if (options.credential) {
    if (!bareUrl.startsWith('https://')) {
      throw new EvidenceStoreError(`an Entra credential needs an https:// Blob URL, not ${bareUrl}; for Azurite use its connection string (AZURE_STORAGE_CONNECTION_STRING)`);
    }
    return new ContainerClient(bareUrl, options.credential);
  }
  if (urlSas) return new ContainerClient(`${bareUrl}?${urlSas}`);
  throw new EvidenceStoreError(
    `no credential for ${bareUrl}: use an Entra identity (DefaultAzureCredential / managed identity) or, for Azurite, a connection string (AZURE_STORAGE_CONNECTION_STRING)`,
  );
}

function refuseDeleteSas(permissions: string, where: string): void {
  const rights = sasDeleteRights(permissions);
  if (rights.length > 0) {
    throw new EvidenceStoreError(
      `refusing the SAS in ${where}: it grants delete rights (sp contains ${rights.join(', ')}); evidence credentials must not be able to delete. Use an Entra identity or a SAS without d/x/y`,
    );
  }
}

function connectionStringField(cs: string, name: string): string | undefined {
  for (const part of cs.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === name.toLowerCase()) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The container URL without any query: safe to print. */
function publicUrl(container: ContainerClient): string {
  const u = new URL(container.url);
  u.search = '';
  return redactUrl(u.toString());
}

interface RestLike {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

function restInfo(error: unknown): { status?: number; code?: string } {
  const e = (error ?? {}) as RestLike;
  const code = e.code ?? e.details?.errorCode;
  return { ...(e.statusCode !== undefined ? { status: e.statusCode } : {}), ...(code ? { code } : {}) };
}

function describeRest(error: unknown): string {
  const { status, code } = restInfo(error);
  if (status !== undefined || code) return [status, code].filter((x) => x !== undefined).join(' ');
  if (error instanceof Error) return error.name === 'AbortError' ? 'aborted' : (error.message.split('\n')[0] ?? error.name);
  return String(error);
}

function storeError(what: string, error: unknown): EvidenceStoreError {
  const { status, code } = restInfo(error);
  let hint = '';
  if (code === 'ContainerNotFound') hint = ': the container does not exist (infra creates it with version-level immutability)';
  else if (status === 403) hint = ': access denied (the identity needs Storage Blob Data Contributor on the container)';
  else if (status === 401) hint = ': not authenticated (check the credential)';
  return new EvidenceStoreError(`${what} (${describeRest(error)})${hint}`, { cause: error });
}

function isNotFound(error: unknown): boolean {
  return restInfo(error).status === 404;
}

/** What this process learned while applying one kind of protection. */
interface ProtectionAttempts {
  attempted: number;
  applied: number;
  /** Set once the service says it cannot do it at all (501 / not supported): further attempts are skipped. */
  unsupported?: string;
  /** The last refusal that was not "unsupported" (e.g. 409 because the container lacks immutability support). */
  lastFailure?: string;
  /** The same refusal repeated without any success: after a few, stop asking. */
  repeatedRefusal?: { key: string; count: number };
}

/** Identical refusals (same status and code) in a row, with no success, after which attempts stop. */
const REFUSALS_BEFORE_GIVING_UP = 3;

class BlobEvidenceStore implements EvidenceStore {
  readonly location: string;
  private readonly prefix: string;
  private readonly clock: Clock;
  private tagsMode: boolean | 'auto';
  private tagsNote: string | undefined;
  private readonly protectedPaths = new Set<string>();
  private readonly legalHold: ProtectionAttempts = { attempted: 0, applied: 0 };
  private readonly retention: ProtectionAttempts = { attempted: 0, applied: 0 };
  private retentionExpiresOn: Date | undefined;

  constructor(
    private readonly container: ContainerClient,
    private readonly options: BlobBundleOptions,
    private readonly blockSize: number,
  ) {
    this.prefix = `${options.caseId}/${options.runId}/`;
    this.location = `${publicUrl(container).replace(/\/+$/, '')}/${options.caseId}/${options.runId}`;
    this.clock = options.clock ?? systemClock;
    this.tagsMode = options.indexTags ?? 'auto';
  }

  private blob(path: string): BlockBlobClient {
    validateArtifactPath(path);
    return this.container.getBlockBlobClient(this.prefix + path);
  }

  async openWriter(path: string, options: ArtifactWriteOptions): Promise<ArtifactWriter> {
    const blob = this.blob(path);
    checkWriteOptions(options);
    return new BlobArtifactWriter(path, blob, options, this.blockSize, this);
  }

  writeArtifact(path: string, data: Uint8Array | string, options: ArtifactWriteOptions): Promise<WrittenArtifact> {
    return writeWhole(this, path, data, options);
  }

  async read(path: string, options: { abortSignal?: AbortSignal } = {}): Promise<NodeJS.ReadableStream> {
    const blob = this.blob(path);
    try {
      const response = await blob.download(0, undefined, {
        maxRetryRequests: 5,
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
      });
      if (!response.readableStreamBody) throw new EvidenceStoreError(`the service returned no body for ${path}`);
      return response.readableStreamBody;
    } catch (error) {
      if (isNotFound(error)) throw new ArtifactNotFoundError(path, this.location, { cause: error });
      if (error instanceof EvidenceStoreError) throw error;
      throw storeError(`cannot read ${path} from ${this.location}`, error);
    }
  }

  async stat(path: string): Promise<StoredArtifactInfo | undefined> {
    const blob = this.blob(path);
    try {
      const p = await blob.getProperties();
      const metadata = p.metadata ?? {};
      const recorded = metaValue(metadata, 'sha256');
      return {
        path,
        bytes: p.contentLength ?? 0,
        ...(isSha256Hex(recorded) ? { recordedSha256: recorded } : {}),
        metadata,
        ...(p.contentType ? { contentType: p.contentType } : {}),
        ...(p.contentEncoding ? { contentEncoding: p.contentEncoding } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw storeError(`cannot read the properties of ${path} in ${this.location}`, error);
    }
  }

  async *list(prefix = ''): AsyncIterable<StoredArtifactInfo> {
    try {
      for await (const item of this.container.listBlobsFlat({ prefix: this.prefix + prefix, includeMetadata: true })) {
        const metadata = item.metadata ?? {};
        if (metaValue(metadata, 'hdi_isfolder') === 'true') continue; // directory markers on HNS accounts
        const recorded = metaValue(metadata, 'sha256');
        yield {
          path: item.name.slice(this.prefix.length),
          bytes: item.properties.contentLength ?? 0,
          ...(isSha256Hex(recorded) ? { recordedSha256: recorded } : {}),
          metadata,
          ...(item.properties.contentType ? { contentType: item.properties.contentType } : {}),
          ...(item.properties.contentEncoding ? { contentEncoding: item.properties.contentEncoding } : {}),
        };
      }
    } catch (error) {
      throw storeError(`cannot list ${this.location}`, error);
    }
  }

  /** Apply the requested legal hold / retention to one written artifact. Records refusals; never throws for them. */
  async protect(path: string): Promise<void> {
    const wantHold = this.options.legalHold === true;
    const wantRetention = this.options.retentionDays !== undefined;
    if (!wantHold && !wantRetention) return;
    if (this.protectedPaths.has(path)) return;
    this.protectedPaths.add(path);
    const blob = this.blob(path);
    if (wantHold && !this.legalHold.unsupported) {
      this.legalHold.attempted++;
      try {
        const r = await blob.setLegalHold(true);
        if (r.legalHold === true) this.legalHold.applied++;
        else this.legalHold.lastFailure = `setLegalHold on ${path} succeeded but the service did not confirm the hold`;
      } catch (error) {
        this.recordRefusal(this.legalHold, 'setLegalHold', path, error);
      }
    }
    if (wantRetention && !this.retention.unsupported) {
      this.retention.attempted++;
      this.retentionExpiresOn ??= new Date(this.clock().getTime() + (this.options.retentionDays ?? 0) * DAY_MS);
      try {
        await blob.setImmutabilityPolicy({ expiriesOn: this.retentionExpiresOn, policyMode: 'Unlocked' });
        this.retention.applied++;
      } catch (error) {
        this.recordRefusal(this.retention, 'setImmutabilityPolicy', path, error);
      }
    }
  }

  private recordRefusal(state: ProtectionAttempts, operation: string, path: string, error: unknown): void {
    const { status, code } = restInfo(error);
    const what = `${operation} answered ${describeRest(error)}`;
    if (status === 501 || code === 'APINotImplemented' || code === 'FeatureNotSupported' || code === 'NotImplemented') {
      state.unsupported = `${what}: the service does not support it${this.location.startsWith('http://') ? ' (Azurite does not implement immutability policies or legal holds)' : ''}`;
      return;
    }
    state.lastFailure = `${what} for ${path}`;
    const key = `${status ?? ''} ${code ?? ''}`;
    state.repeatedRefusal = state.repeatedRefusal?.key === key ? { key, count: state.repeatedRefusal.count + 1 } : { key, count: 1 };
    if (state.applied === 0 && state.repeatedRefusal.count >= REFUSALS_BEFORE_GIVING_UP) {
      // e.g. 409 on every blob because the container lacks version-level immutability support.
      state.unsupported = `${what} on ${state.repeatedRefusal.count} artifacts in a row, never succeeding: stopped asking (does the container have version-level immutability support enabled?)`;
    }
  }

  /** Tag policy for writers: whether to send index tags now. */
  useTags(): boolean {
    return this.tagsMode !== false;
  }

  /** In 'auto' mode a 403 on a write with tags may be the tags alone: the writer retries without them. */
  mayDropTags(error: unknown): boolean {
    return this.tagsMode === 'auto' && restInfo(error).status === 403;
  }

  /** The write without tags worked: drop tags for the rest of the run and say so. */
  tagsDropped(error: unknown): void {
    this.tagsMode = false;
    this.tagsNote = `Blob index tags were not set: the service refused them (${describeRest(error)}; setting tags needs the tags/write data action, e.g. Storage Blob Data Owner). The same facts are in each blob's metadata.`;
  }

  get caseId(): string {
    return this.options.caseId;
  }

  get runId(): string {
    return this.options.runId;
  }

  async protection(): Promise<ProtectionReport> {
    const notes: string[] = [];
    let versionLevelImmutability: boolean | 'unknown' = 'unknown';
    try {
      const p = await this.container.getProperties();
      if (p.isImmutableStorageWithVersioningEnabled === true) {
        versionLevelImmutability = true;
        notes.push(
          'The container has version-level immutability (WORM) support enabled. Whether a default time-based retention policy locks every blob version is set in Azure Resource Manager and not readable here; check it with `az storage container immutability-policy show` or the portal.',
        );
      } else if (p.isImmutableStorageWithVersioningEnabled === false) {
        versionLevelImmutability = false;
        notes.push(
          'NOT WORM-protected: the container does not have version-level immutability, so anyone with write or delete rights on it can change or remove evidence; integrity then rests on the manifest hashes and verify.',
        );
      } else {
        notes.push(
          `Version-level immutability is unknown: the service did not report it${this.location.startsWith('http://') ? ' (Azurite does not implement immutability)' : ''}.`,
        );
      }
      if (p.hasImmutabilityPolicy) notes.push('The container has a container-level immutability policy.');
      if (p.hasLegalHold) notes.push('The container has a container-level legal hold.');
    } catch (error) {
      notes.push(`Version-level immutability is unknown: reading the container properties failed (${describeRest(error)}).`);
    }

    const report: ProtectionReport = { store: 'azure-blob', versionLevelImmutability, versionLevelPolicy: await this.versionLevelPolicy(versionLevelImmutability), notes };
    const wantHold = this.options.legalHold === true;
    const wantRetention = this.options.retentionDays !== undefined;
    if (wantHold || wantRetention) {
      // Ask the service, not our memory: other processes (activities) may have written and protected artifacts.
      const scan = await this.scanProtection();
      if (wantHold && scan.total - scan.withHold > 0 && !this.legalHold.unsupported) {
        for (const path of scan.withoutHold) await this.protect(path);
      }
      if (wantRetention && scan.total - scan.withPolicy > 0 && !this.retention.unsupported) {
        for (const path of scan.withoutPolicy) await this.protect(path);
      }
      const after = this.legalHold.applied > 0 || this.retention.applied > 0 ? await this.scanProtection() : scan;
      if (wantHold) {
        const applied = after.total > 0 && after.withHold === after.total;
        const detail = [`${after.withHold} of ${after.total} blob(s) in the bundle report a legal hold`, this.legalHold.unsupported, this.legalHold.lastFailure]
          .filter(Boolean)
          .join('; ');
        report.legalHold = { requested: true, applied, detail };
        if (!applied) notes.push(`Legal hold was requested but is NOT in place on every artifact: ${detail}.`);
      }
      if (wantRetention) {
        const applied = after.total > 0 && after.withPolicy === after.total;
        const detail = [`${after.withPolicy} of ${after.total} blob(s) in the bundle report a time-based retention policy`, this.retention.unsupported, this.retention.lastFailure]
          .filter(Boolean)
          .join('; ');
        report.retentionPolicy = {
          requested: true,
          applied,
          ...(after.earliestExpiry ? { expiresOn: toRfc3339(after.earliestExpiry) } : {}),
          detail,
        };
        if (!applied) notes.push(`A ${this.options.retentionDays}-day retention policy was requested but is NOT in place on every artifact: ${detail}.`);
      }
      if ((wantHold && report.legalHold?.applied) || (wantRetention && report.retentionPolicy?.applied)) {
        notes.push('manifest.json and manifest.json.sha256 are written after this report and protected the same way when sealed.');
      }
    }
    if (this.tagsNote) notes.push(this.tagsNote);
    return report;
  }

  /**
   * Whether the version-level policy on what this run wrote is locked, read back from the
   * first blob the run wrote (its claim): a container's default policy shows on each blob
   * version it applies to. The container's own policy lock state is an ARM property the Blob
   * API does not serve, so the blob's is the evidence here.
   */
  private async versionLevelPolicy(support: boolean | 'unknown'): Promise<NonNullable<ProtectionReport['versionLevelPolicy']>> {
    const checkedPath = 'custody/claim.json';
    if (support === false) return { state: 'none', detail: 'the container has no version-level immutability support', checkedPath };
    try {
      const p = await this.blob(checkedPath).getProperties();
      const mode = p.immutabilityPolicyMode;
      const expiresOn = p.immutabilityPolicyExpiresOn ? { expiresOn: toRfc3339(p.immutabilityPolicyExpiresOn) } : {};
      if (mode === 'Locked')
        return {
          state: 'locked',
          detail: `${checkedPath} carries a LOCKED immutability policy${expiresOn.expiresOn ? ` until ${expiresOn.expiresOn}` : ''}`,
          checkedPath,
          ...expiresOn,
        };
      if (mode === 'Unlocked')
        return { state: 'unlocked', detail: `${checkedPath} carries an UNLOCKED immutability policy: an administrator can still shorten or remove it`, checkedPath, ...expiresOn };
      if (support === 'unknown') {
        return {
          state: 'unknown',
          detail: `unknown (the service did not report it${this.location.startsWith('http://') ? '; Azurite does not implement immutability policies' : ''})`,
          checkedPath,
        };
      }
      return {
        state: 'none',
        detail: `${checkedPath} carries no immutability policy: the container supports version-level immutability but has no default policy in force`,
        checkedPath,
      };
    } catch (error) {
      if (isNotFound(error)) return { state: 'unknown', detail: `unknown: ${checkedPath} is not in the bundle to read the policy from`, checkedPath };
      return { state: 'unknown', detail: `unknown: reading ${checkedPath}'s properties failed (${describeRest(error)})`, checkedPath };
    }
  }

  private async scanProtection(): Promise<{
    total: number;
    withHold: number;
    withPolicy: number;
    withoutHold: string[];
    withoutPolicy: string[];
    earliestExpiry?: Date;
  }> {
    let total = 0;
    let withHold = 0;
    let withPolicy = 0;
    const withoutHold: string[] = [];
    const withoutPolicy: string[] = [];
    let earliestExpiry: Date | undefined;
    try {
      for await (const item of this.container.listBlobsFlat({ prefix: this.prefix, includeLegalHold: true, includeImmutabilityPolicy: true })) {
        total++;
        const path = item.name.slice(this.prefix.length);
        if (item.properties.legalHold === true) withHold++;
        else withoutHold.push(path);
        const until = item.properties.immutabilityPolicyExpiresOn;
        if (until) {
          withPolicy++;
          if (!earliestExpiry || until < earliestExpiry) earliestExpiry = until;
        } else withoutPolicy.push(path);
      }
    } catch (error) {
      throw storeError(`cannot list ${this.location} to check its protection`, error);
    }
    return { total, withHold, withPolicy, withoutHold, withoutPolicy, ...(earliestExpiry ? { earliestExpiry } : {}) };
  }
}

function metaValue(metadata: Record<string, string>, key: string): string | undefined {
  for (const [k, v] of Object.entries(metadata)) if (k.toLowerCase() === key) return v;
  return undefined;
}

/** Metadata keys are case-insensitive in the service: merge so ours win and no key is sent twice. */
function mergeMetadata(user: Record<string, string> | undefined, ours: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  const ourKeys = new Set(Object.keys(ours).map((k) => k.toLowerCase()));
  for (const [k, v] of Object.entries(user ?? {})) if (!ourKeys.has(k.toLowerCase())) out[k] = v;
  return { ...out, ...ours };
}

/** Blob index tags: at most 10; keys/values limited to letters, digits, space and + - . / : = _. */
function indexTags(metadata: Record<string, string>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const key of ['sha256', 'runId', 'caseId', 'source', 'kind', 'shard', 'table']) {
    const value = metaValue(metadata, key.toLowerCase());
    if (value !== undefined && value.length <= 256 && /^[A-Za-z0-9 +\-./:=_]*$/.test(value)) tags[key] = value;
  }
  return tags;
}

type WriterState = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

/**
 * Streams into blocks of blockSize bytes, double-buffered: one block fills while the previous
 * one uploads, so memory per writer is two blocks whatever the artifact's size. Nothing is
 * visible until commitBlockList, which is conditional on the blob not existing.
 */
class BlobArtifactWriter implements ArtifactWriter {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private readonly buffers: [Buffer, Buffer];
  private current = 0;
  private filled = 0;
  private readonly blockIds: string[] = [];
  private inflight: Promise<void> | undefined;
  private readonly nonce = randomBytes(8).toString('hex');
  private state: WriterState = 'open';
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    readonly path: string,
    private readonly blob: BlockBlobClient,
    private readonly options: ArtifactWriteOptions,
    blockSize: number,
    private readonly store: BlobEvidenceStore,
  ) {
    this.buffers = [Buffer.allocUnsafe(blockSize), Buffer.allocUnsafe(blockSize)];
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new EvidenceStoreError(`cannot write to ${this.path}: the writer is ${this.state}`));
    const next = this.chain.then(() => this.append(chunk));
    this.chain = next.catch((error: unknown) => {
      this.state = 'failed';
      this.failure ??= error;
    });
    return next;
  }

  private async append(chunk: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const buffer = this.buffers[this.current] as Buffer;
      const n = Math.min(buffer.byteLength - this.filled, chunk.byteLength - offset);
      buffer.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === buffer.byteLength) await this.stageCurrent();
    }
  }

  /** Upload the current buffer as the next block (after the previous upload finished) and switch buffers. */
  private async stageCurrent(): Promise<void> {
    if (this.filled === 0) return;
    if (this.inflight) await this.inflight;
    if (this.blockIds.length >= MAX_BLOCKS) {
      throw new EvidenceStoreError(`${this.path} exceeds ${MAX_BLOCKS} blocks; raise blockSizeBytes`);
    }
    const id = Buffer.from(`${this.nonce}-${String(this.blockIds.length).padStart(6, '0')}`).toString('base64');
    this.blockIds.push(id);
    const body = (this.buffers[this.current] as Buffer).subarray(0, this.filled);
    const length = this.filled;
    const upload = this.blob.stageBlock(id, body, length).then(
      () => undefined,
      (error: unknown) => {
        throw storeError(`cannot upload a block of ${this.path}`, error);
      },
    );
    // Surface a failure on the next await even if nobody awaits this one yet.
    upload.catch(() => undefined);
    this.inflight = upload;
    this.current = 1 - this.current;
    this.filled = 0;
  }

  async close(): Promise<WrittenArtifact> {
    if (this.state !== 'open') throw new EvidenceStoreError(`cannot close ${this.path}: the writer is ${this.state}`);
    this.state = 'closing';
    await this.chain;
    if (this.failure !== undefined) {
      this.state = 'failed';
      await this.inflight?.catch(() => undefined);
      throw this.failure;
    }
    // An artifact that fits one block and has staged none is written with one Put Blob: no
    // uncommitted blocks exist for anyone to re-stage under our block ids before the commit.
    const single = this.blockIds.length === 0 ? Buffer.from((this.buffers[this.current] as Buffer).subarray(0, this.filled)) : undefined;
    try {
      if (!single) {
        await this.stageCurrent();
        await this.inflight;
      }
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
    const sha256 = this.hash.digest('hex');
    const metadata = mergeMetadata(this.options.metadata, {
      sha256,
      runId: this.store.runId,
      caseId: this.store.caseId,
    });
    try {
      await this.commit(sha256, metadata, single);
      this.state = 'closed';
      return { path: this.path, sha256, bytes: this.bytes };
    } catch (error) {
      const { status, code } = restInfo(error);
      if (status === 409 || status === 412 || code === 'BlobAlreadyExists') {
        const existing = await this.existingSha256();
        this.state = 'closed';
        if (existing !== sha256) throw new ArtifactConflictError(this.path, existing, sha256);
        return { path: this.path, sha256, bytes: this.bytes, alreadyExisted: true };
      }
      this.state = 'failed';
      throw storeError(`cannot commit ${this.path} to ${this.store.location}`, error);
    }
  }

  private async commit(sha256: string, metadata: Record<string, string>, single: Buffer | undefined): Promise<void> {
    const commitOnce = (withTags: boolean) => {
      const options = {
        conditions: { ifNoneMatch: '*' },
        metadata,
        ...(withTags ? { tags: indexTags({ ...metadata, sha256 }) } : {}),
        blobHTTPHeaders: {
          blobContentType: this.options.contentType,
          ...(this.options.contentEncoding ? { blobContentEncoding: this.options.contentEncoding } : {}),
        },
      };
      return single ? this.blob.upload(single, single.byteLength, options) : this.blob.commitBlockList(this.blockIds, options);
    };
    const withTags = this.store.useTags();
    try {
      await commitOnce(withTags);
    } catch (error) {
      if (!withTags || !this.store.mayDropTags(error)) throw error;
      await commitOnce(false);
      this.store.tagsDropped(error);
    }
  }

  /**
   * The SHA-256 of the content of the blob already at this name, recomputed from its bytes.
   * Never taken from its metadata: whoever planted the blob also chose its metadata.
   */
  private async existingSha256(): Promise<string> {
    try {
      const response = await this.blob.download(0, undefined, { maxRetryRequests: 5 });
      if (!response.readableStreamBody) throw new EvidenceStoreError(`the service returned no body for ${this.path}`);
      return (await hashStream(response.readableStreamBody)).sha256;
    } catch (error) {
      if (error instanceof EvidenceStoreError) throw error;
      throw storeError(`${this.path} already exists but cannot be read to compare hashes`, error);
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.chain.catch(() => undefined);
    await this.inflight?.catch(() => undefined);
    // Staged blocks that are never committed are discarded by the service (after 7 days).
  }
}
