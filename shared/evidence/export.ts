import { openLocalBundle } from './localStore.js';
import { readManifest } from './manifest.js';
import { MANIFEST_PATH, MANIFEST_SHA256_PATH, type EvidenceStore } from './types.js';
import { verifyBundle, type VerifyReport } from './verify.js';

export interface ExportOptions {
  abortSignal?: AbortSignal;
}

export interface ExportReport extends VerifyReport {
  /** Where the run was copied from (safe to print). */
  source: string;
  /** The copy's bundle directory, <destDir>/<runId> (file:// URL). */
  destination: string;
  /** Files copied (every file of the run: artifacts, manifest, custody log, receipts). */
  copiedFiles: number;
  copiedBytes: number;
  /** Files that were already in the destination with identical content (a repeated export). */
  alreadyPresent: number;
}

/**
 * Copy a run byte for byte into <destDir>/<runId>/ (write-once there too: an existing file
 * with different content is an ArtifactConflictError, never overwritten), then verify the
 * copy against its manifest. The manifest and its hash are copied last.
 */
export async function exportBundle(source: EvidenceStore, destDir: string, options: ExportOptions = {}): Promise<ExportReport> {
  const signal = options.abortSignal;
  const manifest = await readManifest(source, signal ? { abortSignal: signal } : {});
  const dest = await openLocalBundle(destDir, manifest.runId);

  const paths: { path: string; contentType?: string; contentEncoding?: string }[] = [];
  for await (const item of source.list())
    paths.push({ path: item.path, ...(item.contentType ? { contentType: item.contentType } : {}), ...(item.contentEncoding ? { contentEncoding: item.contentEncoding } : {}) });
  const last = (p: string): number => (p === MANIFEST_PATH ? 1 : p === MANIFEST_SHA256_PATH ? 2 : 0);
  paths.sort((a, b) => last(a.path) - last(b.path));

  let copiedFiles = 0;
  let copiedBytes = 0;
  let alreadyPresent = 0;
  for (const item of paths) {
    signal?.throwIfAborted();
    const writer = await dest.openWriter(item.path, {
      contentType: item.contentType ?? 'application/octet-stream',
      ...(item.contentEncoding === 'gzip' ? { contentEncoding: 'gzip' as const } : {}),
    });
    try {
      for await (const chunk of await source.read(item.path, signal ? { abortSignal: signal } : {})) {
        await writer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      }
    } catch (error) {
      await writer.abort();
      throw error;
    }
    const written = await writer.close();
    copiedFiles++;
    copiedBytes += written.bytes;
    if (written.alreadyExisted) alreadyPresent++;
  }

  const report = await verifyBundle(dest, signal ? { abortSignal: signal } : {});
  return { ...report, source: source.location, destination: dest.location, copiedFiles, copiedBytes, alreadyPresent };
}
