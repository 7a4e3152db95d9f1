import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough, Readable, Writable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip, type ZlibOptions } from 'node:zlib';
import { AksEvidenceError } from '../util/errors.js';
import type { ArtifactWriter, EvidenceStore, WrittenArtifact } from './types.js';

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
/**
 * Fixed so that the same records always give the same bytes (and hash) from the same Node
 * build. Level 3, measured on 880k container-log rows (538 MB of NDJSON): 27 MB in 0.85 s of
 * CPU, against 21 MB in 2.4 s at level 6 (zlib's default) and 31 MB in 0.76 s at level 1.
 * On a small Consumption instance the CPU is what the collection waits for; storage is cheap.
 */
const GZIP_LEVEL = 3;
/**
 * Text batched before it goes to the compressor (UTF-16 length, close to bytes for log
 * text). gzip runs on libuv's thread pool, one job per write: large jobs keep that thread
 * busy while the event loop builds the next batch, small ones make each batch wait for the
 * loop to hand it over.
 */
const BATCH_BYTES = 1024 * 1024;
/**
 * Bytes queued for the compressor before write() waits: two batches, so one is compressed
 * while the next is built. (zlib passes stream options through; Node's ZlibOptions type does
 * not list them.)
 */
const COMPRESSOR_BUFFER_BYTES = 2 * BATCH_BYTES;

export interface NdjsonArtifactOptions {
  /** Compress with gzip (fixed level, no file name, mtime 0). Default false. */
  gzip?: boolean;
  /** Default application/x-ndjson. */
  contentType?: string;
  /** Set at write time; ASCII values. */
  metadata?: Record<string, string>;
}

export interface NdjsonArtifactWriter {
  readonly path: string;
  /** Records written so far. */
  readonly records: number;
  /** Append one JSON record; resolves when the pipeline can take more (backpressure). */
  write(record: unknown): Promise<void>;
  /** Append records in order; one wait at most per compressed batch instead of one per record. */
  writeMany(records: readonly unknown[]): Promise<void>;
  /** Commit the artifact; see ArtifactWriter.close. */
  close(): Promise<WrittenArtifact & { records: number }>;
  /** Discard the uncommitted artifact. */
  abort(): Promise<void>;
}

/**
 * Stream records as NDJSON (one JSON document per line, "\n"-terminated), optionally gzipped,
 * into a write-once artifact. Memory stays bounded: write() waits when the compressor or the
 * store is behind.
 */
export async function createNdjsonArtifact(
  store: EvidenceStore,
  path: string,
  options: NdjsonArtifactOptions = {},
): Promise<NdjsonArtifactWriter> {
  const writer = await store.openWriter(path, {
    contentType: options.contentType ?? NDJSON_CONTENT_TYPE,
    ...(options.gzip ? { contentEncoding: 'gzip' as const } : {}),
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  return new NdjsonWriter(writer, options.gzip === true);
}

class NdjsonWriter implements NdjsonArtifactWriter {
  private readonly encoder: Transform;
  private readonly done: Promise<void>;
  private failure: unknown;
  private count = 0;
  private state: 'open' | 'closed' | 'aborted' = 'open';
  /** Lines batched before they reach the compressor: zlib per ~100-byte line costs more than the compression. */
  private pending: string[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly target: ArtifactWriter,
    gzip: boolean,
  ) {
    // Node writes a gzip header with mtime 0 and no file name, so output depends only on input.
    this.encoder = gzip ? createGzip({ level: GZIP_LEVEL, chunkSize: 64 * 1024, writableHighWaterMark: COMPRESSOR_BUFFER_BYTES } as ZlibOptions) : new PassThrough({ highWaterMark: 64 * 1024 });
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        target.write(chunk).then(() => callback(), callback);
      },
    });
    this.done = pipeline(this.encoder, sink);
    this.done.catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  get path(): string {
    return this.target.path;
  }

  get records(): number {
    return this.count;
  }

  async write(record: unknown): Promise<void> {
    this.assertWritable();
    this.append(record);
    if (this.pendingBytes >= BATCH_BYTES) await this.flush();
  }

  async writeMany(records: readonly unknown[]): Promise<void> {
    this.assertWritable();
    for (const record of records) {
      this.append(record);
      if (this.pendingBytes >= BATCH_BYTES) await this.flush();
    }
  }

  private assertWritable(): void {
    if (this.state !== 'open') throw new AksEvidenceError('ERR_NDJSON', `cannot write to ${this.path}: the artifact is ${this.state}`);
    if (this.failure !== undefined) throw this.failure;
  }

  private append(record: unknown): void {
    const line = JSON.stringify(record);
    if (line === undefined) throw new AksEvidenceError('ERR_NDJSON', `cannot write to ${this.path}: a record must be JSON-serializable (got ${typeof record})`);
    this.count++;
    this.pending.push(line);
    this.pendingBytes += line.length + 1;
  }

  /** Hand the batched lines to the compressor; wait when it is behind (backpressure). */
  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('\n') + '\n';
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.encoder.write(chunk)) {
      await Promise.race([once(this.encoder, 'drain'), this.done.then(() => undefined)]);
      if (this.failure !== undefined) throw this.failure;
    }
  }

  async close(): Promise<WrittenArtifact & { records: number }> {
    if (this.state !== 'open') throw new AksEvidenceError('ERR_NDJSON', `cannot close ${this.path}: the artifact is ${this.state}`);
    await this.flush();
    this.state = 'closed';
    this.encoder.end();
    try {
      await this.done;
    } catch (error) {
      await this.target.abort().catch(() => undefined);
      throw error;
    }
    const written = await this.target.close();
    return { ...written, records: this.count };
  }

  async abort(): Promise<void> {
    if (this.state === 'aborted') return;
    const wasOpen = this.state === 'open';
    this.state = 'aborted';
    if (wasOpen) {
      this.encoder.destroy();
      await this.done.catch(() => undefined);
    }
    await this.target.abort();
  }
}

export interface ReadNdjsonOptions {
  /** Force (true) or forbid (false) gunzip; default: gzip when the artifact's contentEncoding is gzip or the path ends in .gz. */
  gzip?: boolean;
  abortSignal?: AbortSignal;
}

/** Read an NDJSON artifact record by record (gunzipped when stored compressed). */
export async function* readNdjson(store: EvidenceStore, path: string, options: ReadNdjsonOptions = {}): AsyncIterable<unknown> {
  let gzip = options.gzip;
  if (gzip === undefined) {
    if (path.endsWith('.gz')) gzip = true;
    else {
      const info = await store.stat(path);
      gzip = info?.contentEncoding === 'gzip';
    }
  }
  const stored = Readable.from(await store.read(path, options.abortSignal ? { abortSignal: options.abortSignal } : {}), { objectMode: false });
  const text = gzip ? stored.pipe(createGunzip()) : stored;
  if (gzip) stored.on('error', (error) => text.destroy(error));
  const lines = createInterface({ input: text, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      try {
        yield JSON.parse(line) as unknown;
      } catch (error) {
        throw new AksEvidenceError('ERR_NDJSON', `${path} line ${lineNo} is not valid JSON: ${(error as Error).message}`, { cause: error });
      }
    }
  } finally {
    lines.close();
    text.destroy();
    stored.destroy();
  }
}
