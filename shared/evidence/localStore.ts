import { createHash, randomBytes, type Hash } from 'node:crypto';
import { writeWhole } from './writeWhole.js';
import { constants as fsConstants, createReadStream } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, opendir, rmdir, stat as fsStat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ArtifactConflictError } from '../util/errors.js';
import { ArtifactNotFoundError, EvidenceStoreError } from './errors.js';
import { hashStream } from './hash.js';
import { validateArtifactPath, validateBundleId } from './paths.js';
import type { ArtifactWriteOptions, ArtifactWriter, EvidenceStore, ProtectionReport, StoredArtifactInfo, WrittenArtifact } from './types.js';

/** Temp files live inside the bundle (same filesystem, so publishing is a hard link). Never listed. */
const PARTIAL_DIR = '.partial';
/** Small writes are gathered into this many bytes before they reach the file. */
const WRITE_BUFFER_BYTES = 256 * 1024;
const READ_ONLY_MODE = 0o444;

export interface LocalBundleOptions {
  /** The request asked for a legal hold; a directory cannot give one, and protection() says so. */
  legalHold?: boolean;
  /** The request asked for per-artifact retention (days); a directory cannot enforce it, and protection() says so. */
  retentionDays?: number;
}

/** Create (or reopen) the bundle <outDir>/<runId>/ for writing. */
export async function openLocalBundle(outDir: string, runId: string, options: LocalBundleOptions = {}): Promise<EvidenceStore> {
  validateBundleId('runId', runId);
  const bundleDir = resolve(outDir, runId);
  try {
    await mkdir(bundleDir, { recursive: true });
  } catch (error) {
    throw new EvidenceStoreError(`cannot create the evidence directory ${bundleDir}: ${(error as Error).message}`, { cause: error });
  }
  return new LocalEvidenceStore(bundleDir, options);
}

/** Open an existing bundle directory (the one holding manifest.json), for verify, read or export. */
export async function openLocalBundleAt(bundleDir: string, options: LocalBundleOptions & { create?: boolean } = {}): Promise<EvidenceStore> {
  const dir = resolve(bundleDir);
  if (options.create) await mkdir(dir, { recursive: true });
  let info;
  try {
    info = await fsStat(dir);
  } catch (error) {
    throw new EvidenceStoreError(`evidence bundle directory ${dir} does not exist or cannot be read: ${(error as Error).message}`, { cause: error });
  }
  if (!info.isDirectory()) throw new EvidenceStoreError(`${dir} is not a directory; give the bundle directory that holds manifest.json`);
  return new LocalEvidenceStore(dir, options);
}

class LocalEvidenceStore implements EvidenceStore {
  readonly location: string;

  constructor(
    private readonly dir: string,
    private readonly options: LocalBundleOptions,
  ) {
    this.location = pathToFileURL(dir).href;
  }

  private fileFor(path: string): string {
    validateArtifactPath(path);
    const file = join(this.dir, ...path.split('/'));
    // validateArtifactPath already rules out escapes; this is the belt to its braces.
    if (!file.startsWith(this.dir + sep)) throw new EvidenceStoreError(`evidence path ${path} resolves outside the bundle`);
    return file;
  }

  async openWriter(path: string, options: ArtifactWriteOptions): Promise<ArtifactWriter> {
    const file = this.fileFor(path);
    checkWriteOptions(options);
    const partialDir = join(this.dir, PARTIAL_DIR);
    for (let attempt = 0; ; attempt++) {
      const temp = join(partialDir, `${randomBytes(12).toString('hex')}.tmp`);
      try {
        await mkdir(partialDir, { recursive: true });
        const fh = await open(temp, 'wx', 0o600);
        return new LocalArtifactWriter(path, file, temp, partialDir, fh);
      } catch (error) {
        // Another writer may have removed the (empty) partial directory between our mkdir and open.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' && attempt < 5) continue;
        throw new EvidenceStoreError(`cannot start writing ${path} in ${this.dir}: ${(error as Error).message}`, { cause: error });
      }
    }
  }

  writeArtifact(path: string, data: Uint8Array | string, options: ArtifactWriteOptions): Promise<WrittenArtifact> {
    return writeWhole(this, path, data, options);
  }

  async read(path: string, options: { abortSignal?: AbortSignal } = {}): Promise<NodeJS.ReadableStream> {
    const file = this.fileFor(path);
    let fh: FileHandle;
    try {
      fh = await open(file, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') throw new ArtifactNotFoundError(path, this.location, { cause: error });
      throw new EvidenceStoreError(`cannot read ${path} from ${this.dir}: ${(error as Error).message}`, { cause: error });
    }
    const info = await fh.stat();
    if (!info.isFile()) {
      await fh.close();
      throw new ArtifactNotFoundError(path, this.location);
    }
    return fh.createReadStream(options.abortSignal ? { signal: options.abortSignal } : {});
  }

  async stat(path: string): Promise<StoredArtifactInfo | undefined> {
    const file = this.fileFor(path);
    try {
      const info = await lstat(file);
      if (!info.isFile()) return undefined;
      return { path, bytes: info.size };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new EvidenceStoreError(`cannot stat ${path} in ${this.dir}: ${(error as Error).message}`, { cause: error });
    }
  }

  async *list(prefix = ''): AsyncIterable<StoredArtifactInfo> {
    // Start the walk at the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const startRel = slash >= 0 ? prefix.slice(0, slash) : '';
    if (startRel) validateArtifactPath(startRel);
    yield* this.walk(startRel, prefix);
  }

  private async *walk(rel: string, prefix: string): AsyncGenerator<StoredArtifactInfo> {
    const abs = rel ? join(this.dir, ...rel.split('/')) : this.dir;
    let entries: { name: string; isDir: boolean; isFile: boolean; isLink: boolean }[] = [];
    try {
      const dir = await opendir(abs);
      for await (const d of dir) entries.push({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile(), isLink: d.isSymbolicLink() });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw new EvidenceStoreError(`cannot list ${abs}: ${(error as Error).message}`, { cause: error });
    }
    entries = entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (!rel && entry.name === PARTIAL_DIR) continue;
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDir) {
        // Only descend where the prefix can still match.
        if (childRel.startsWith(prefix) || prefix.startsWith(childRel + '/')) yield* this.walk(childRel, prefix);
      } else if ((entry.isFile || entry.isLink) && childRel.startsWith(prefix)) {
        // Symlinks are listed (so verify reports them) but never followed.
        const info = await lstat(join(abs, entry.name)).catch(() => undefined);
        if (info) yield { path: childRel, bytes: info.size };
      }
    }
  }

  async protection(): Promise<ProtectionReport> {
    const report: ProtectionReport = {
      store: 'local-directory',
      versionLevelImmutability: false,
      notes: [
        'Local directory: each artifact is published once (hard link, never overwritten) and made read-only (0444), ' +
          'which stops accidental change but not an account with write access to the directory; integrity rests on the ' +
          'manifest hashes and `aks-evidence verify`.',
      ],
    };
    if (this.options.legalHold) {
      report.legalHold = { requested: true, applied: false, detail: 'a local directory cannot hold evidence under legal hold' };
      report.notes.push('Legal hold was requested but NOT applied: legal holds exist only in Azure Blob Storage.');
    }
    if (this.options.retentionDays !== undefined) {
      report.retentionPolicy = {
        requested: true,
        applied: false,
        detail: `a local directory cannot enforce a ${this.options.retentionDays}-day retention policy`,
      };
      report.notes.push('A retention policy was requested but NOT applied: time-based retention exists only in Azure Blob Storage.');
    }
    return report;
  }
}

/** Metadata must be ASCII with identifier keys, in every store, so a bundle moves between them unchanged. */
export function checkWriteOptions(options: ArtifactWriteOptions): void {
  if (!options || typeof options.contentType !== 'string' || options.contentType.length === 0) {
    throw new EvidenceStoreError('an artifact needs a contentType (e.g. application/x-ndjson)');
  }
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new EvidenceStoreError(`metadata key ${JSON.stringify(key)} must be letters, digits and _ (starting with a letter or _)`);
    if (typeof value !== 'string' || !/^[\x20-\x7e]*$/.test(value)) throw new EvidenceStoreError(`metadata value of ${key} must be printable ASCII`);
  }
}

type WriterState = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

class LocalArtifactWriter implements ArtifactWriter {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private readonly buffer = Buffer.allocUnsafe(WRITE_BUFFER_BYTES);
  private buffered = 0;
  private state: WriterState = 'open';
  /** Serializes writes, so calls that are not awaited still land in order. */
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    readonly path: string,
    private readonly file: string,
    private readonly temp: string,
    private readonly partialDir: string,
    private readonly fh: FileHandle,
  ) {}

  write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new EvidenceStoreError(`cannot write to ${this.path}: the writer is ${this.state}`));
    const next = this.chain.then(() => this.append(chunk));
    // A failed write fails the writer; later calls see the state, not an unhandled rejection.
    this.chain = next.catch((error: unknown) => {
      this.state = 'failed';
      this.failure = error;
    });
    return next;
  }

  private async append(chunk: Uint8Array): Promise<void> {
    if (this.state === 'failed') throw this.failure;
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
    if (chunk.byteLength >= WRITE_BUFFER_BYTES) {
      await this.flush();
      await writeAll(this.fh, chunk);
      return;
    }
    if (this.buffered + chunk.byteLength > WRITE_BUFFER_BYTES) await this.flush();
    this.buffer.set(chunk, this.buffered);
    this.buffered += chunk.byteLength;
  }

  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    await writeAll(this.fh, this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
  }

  async close(): Promise<WrittenArtifact> {
    if (this.state !== 'open') throw new EvidenceStoreError(`cannot close ${this.path}: the writer is ${this.state}`);
    this.state = 'closing';
    await this.chain;
    if (this.failure !== undefined) {
      await this.discard();
      this.state = 'failed';
      throw this.failure;
    }
    const sha256 = this.hash.digest('hex');
    try {
      await this.flush();
      await this.fh.chmod(READ_ONLY_MODE);
      await this.fh.sync();
      await this.fh.close();
    } catch (error) {
      await this.discard();
      this.state = 'failed';
      throw new EvidenceStoreError(`cannot write ${this.path}: ${(error as Error).message}`, { cause: error });
    }
    try {
      const result = await publish(this.temp, this.file, this.path, sha256, this.bytes);
      this.state = 'closed';
      return result;
    } catch (error) {
      this.state = 'failed';
      throw error;
    } finally {
      await unlink(this.temp).catch(() => undefined);
      await rmdir(this.partialDir).catch(() => undefined);
    }
  }

  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.chain.catch(() => undefined);
    await this.discard();
  }

  private async discard(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await unlink(this.temp).catch(() => undefined);
    await rmdir(this.partialDir).catch(() => undefined);
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await fh.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Publish the finished temp file under its final name without ever replacing an existing file. */
async function publish(temp: string, file: string, path: string, sha256: string, bytes: number): Promise<WrittenArtifact> {
  await mkdir(dirname(file), { recursive: true });
  try {
    await link(temp, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return compareExisting(file, path, sha256, bytes);
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EXDEV') {
      // Filesystems without hard links: an exclusive copy still never overwrites.
      try {
        await copyFile(temp, file, fsConstants.COPYFILE_EXCL);
        await chmod(file, READ_ONLY_MODE);
      } catch (copyError) {
        if ((copyError as NodeJS.ErrnoException).code === 'EEXIST') return compareExisting(file, path, sha256, bytes);
        throw new EvidenceStoreError(`cannot publish ${path}: ${(copyError as Error).message}`, { cause: copyError });
      }
    } else {
      throw new EvidenceStoreError(`cannot publish ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  await syncDirectory(dirname(file));
  return { path, sha256, bytes };
}

async function compareExisting(file: string, path: string, sha256: string, bytes: number): Promise<WrittenArtifact> {
  const existing = await hashStream(createReadStream(file));
  if (existing.sha256 !== sha256) throw new ArtifactConflictError(path, existing.sha256, sha256);
  return { path, sha256, bytes, alreadyExisted: true };
}

/** Make the new directory entry durable (best effort: not every platform can fsync a directory). */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms that do not support it.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
