/**
 * Line-by-line reading of a sealed NDJSON artifact (gzip or plain), hashing the stored bytes
 * on the way so ingestion can tell whether what it sent is what the manifest sealed.
 * Written here rather than with shared/evidence's NDJSON reader because ingestion needs the
 * line numbers (record ids) and the stored-bytes hash in the same pass.
 */
import { createHash } from 'node:crypto';
import { PassThrough, Transform, type Duplex, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { EvidenceStore } from '../evidence/types.js';
import { LineSplitter } from '../util/lines.js';

export interface ArtifactLine {
  /** 1-based line number in the decompressed artifact. */
  lineNumber: number;
  text: string;
}

/** Filled in as the artifact is read: final once iteration has ended. */
export interface ReadStats {
  /** SHA-256 (hex) of the stored bytes, set when the whole artifact was read. */
  sha256?: string;
  storedBytes: number;
  lines: number;
}

export function isGzipArtifact(ref: { path: string; contentEncoding?: string }): boolean {
  return ref.contentEncoding === 'gzip' || ref.path.endsWith('.gz');
}

/** Yield every non-empty line of `ref`, with its line number. Blank lines are not rows. */
export async function* readArtifactLines(
  store: EvidenceStore,
  ref: { path: string; contentEncoding?: string },
  stats: ReadStats,
  abortSignal?: AbortSignal,
): AsyncGenerator<ArtifactLine> {
  const stored = (await store.read(ref.path, abortSignal ? { abortSignal } : undefined)) as Readable;
  const hash = createHash('sha256');
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      stats.storedBytes += chunk.length;
      done(null, chunk);
    },
    flush(done) {
      stats.sha256 = hash.digest('hex');
      done();
    },
  });
  const decoded: Duplex = isGzipArtifact(ref) ? createGunzip() : new PassThrough();
  stored.on('error', (e) => decoded.destroy(e));
  tap.on('error', (e) => decoded.destroy(e));
  stored.pipe(tap).pipe(decoded);
  let lineNumber = 0;
  const splitter = new LineSplitter();
  const emit = (raw: string): ArtifactLine | undefined => {
    lineNumber++;
    stats.lines = lineNumber;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    return text.trim() === '' ? undefined : { lineNumber, text };
  };
  try {
    // Plain splitting rather than readline: errors of the source (a corrupt gzip) surface here.
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      for (const raw of splitter.push(chunk)) {
        const line = emit(raw);
        if (line) yield line;
      }
    }
    const last = splitter.end();
    if (last !== undefined && last !== '') {
      const line = emit(last);
      if (line) yield line;
    }
  } finally {
    if (!stats.sha256) {
      // Stopped early (abort, error): release the source. Some stores hand back streams without destroy().
      (stored as Partial<Readable>).destroy?.();
      decoded.destroy();
    }
  }
}
