import type { TokenCredential } from '@azure/identity';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../util/time.js';
import { isBlobUrl, parseBlobRunUrl } from './blobUrl.js';
import { EvidenceStoreError } from './errors.js';
import { openLocalBundle, openLocalBundleAt } from './localStore.js';
import type { EvidenceStore } from './types.js';

export interface OpenEvidenceLocationOptions {
  /**
   * Open a NEW run under the location (which is then a directory <out> or a container URL).
   * Without it the location names an existing run: a bundle directory, or a run's Blob URL
   * <container>/<caseId>/<runId>.
   */
  runId?: string;
  /** Required with runId for Blob locations: the bundle is <container>/<caseId>/<runId>. */
  caseId?: string;
  credential?: TokenCredential;
  connectionString?: string;
  legalHold?: boolean;
  retentionDays?: number;
  blockSizeBytes?: number;
  /** Blob only: see BlobBundleOptions.indexTags. */
  indexTags?: boolean | 'auto';
  /** Blob only: create the container when missing (Azurite). */
  createContainer?: boolean;
  clock?: Clock;
}

/**
 * Open an evidence location: a directory (or file:// URL) or a Blob URL (http(s)://…).
 * The caller passes credentials (the CLI reads AZURE_STORAGE_CONNECTION_STRING or builds a
 * DefaultAzureCredential); this function reads no environment.
 */
export async function openEvidenceLocation(location: string, options: OpenEvidenceLocationOptions = {}): Promise<EvidenceStore> {
  const blobOptions = {
    ...(options.credential ? { credential: options.credential } : {}),
    ...(options.connectionString ? { connectionString: options.connectionString } : {}),
    ...(options.legalHold !== undefined ? { legalHold: options.legalHold } : {}),
    ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
    ...(options.blockSizeBytes !== undefined ? { blockSizeBytes: options.blockSizeBytes } : {}),
    ...(options.indexTags !== undefined ? { indexTags: options.indexTags } : {}),
    ...(options.createContainer !== undefined ? { createContainer: options.createContainer } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  };
  if (isBlobUrl(location)) {
    if (options.runId !== undefined) {
      if (!options.caseId) throw new EvidenceStoreError('a Blob evidence location needs a case id: the bundle is <container>/<caseId>/<runId>');
      const { openBlobBundle } = await import('./blobStore.js');
      return openBlobBundle({ containerUrl: location, caseId: options.caseId, runId: options.runId, ...blobOptions });
    }
    const run = parseBlobRunUrl(location);
    // Loaded on demand: local bundles never load the Storage SDK.
    const { openBlobBundle } = await import('./blobStore.js');
    return openBlobBundle({ containerUrl: run.containerUrl, caseId: run.caseId, runId: run.runId, ...blobOptions });
  }
  const dir = location.startsWith('file:') ? fileURLToPath(location) : location;
  const localOptions = {
    ...(options.legalHold !== undefined ? { legalHold: options.legalHold } : {}),
    ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
  };
  if (options.runId !== undefined) return openLocalBundle(dir, options.runId, localOptions);
  return openLocalBundleAt(dir, localOptions);
}

export { isBlobUrl, parseBlobRunUrl, parseBlobUrl } from './blobUrl.js';
