import type { TokenCredential } from '@azure/identity';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../util/time.js';
import { isBlobUrl, parseBlobRunUrl } from './blobUrl.js';
import { EvidenceStoreError } from './errors.js';
import { openLocalBundle, openLocalBundleAt } from './localStore.js';
import type { EvidenceStore } from './types.js';

/** How a Blob location is reached: an Entra credential, or a connection string (Azurite, a dev account). */
export type StorageAccess = { credential: TokenCredential; connectionString?: never } | { connectionString: string; credential?: never };

export interface OpenEvidenceLocationOptions {
  /**
   * Open a NEW run under the location (which is then a directory <out> or a container URL).
   * Without it the location names an existing run: a bundle directory, or a run's Blob URL
   * <container>/<caseId>/<runId>.
   */
  runId?: string;
  /** Required with runId for Blob locations: the bundle is <container>/<caseId>/<runId>. */
  caseId?: string;
  /** Blob locations: how to reach the account (required for them). */
  storage?: StorageAccess;
  /** Directory locations: what a relative path is relative to (required for relative paths). */
  cwd?: string;
  legalHold?: boolean;
  retentionDays?: number;
  blockSizeBytes?: number;
  /** Blob only: see BlobBundleOptions.indexTags. */
  indexTags?: boolean | 'auto';
  /**
   * Blob only: create the container when missing. Default: with a connection string (Azurite,
   * a dev account) yes; with an Entra identity no — in Azure the container comes from infra,
   * where version-level immutability (WORM) is set at creation.
   */
  createContainer?: boolean;
  clock?: Clock;
}

/**
 * The one way to open an evidence store, for every host (CLI, Functions activities, bench):
 * a directory (or file:// URL) or a Blob URL (http(s)://…), for a new run or an existing one.
 * The caller passes credentials; this function reads no environment.
 */
export async function openEvidenceLocation(location: string, options: OpenEvidenceLocationOptions = {}): Promise<EvidenceStore> {
  if (isBlobUrl(location)) {
    if (!options.storage) throw new EvidenceStoreError(`${location.split('?')[0]} is a Blob URL: give a credential or a connection string to reach it`);
    const blobOptions = {
      ...options.storage,
      createContainer: options.createContainer ?? options.storage.connectionString !== undefined,
      ...(options.legalHold !== undefined ? { legalHold: options.legalHold } : {}),
      ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
      ...(options.blockSizeBytes !== undefined ? { blockSizeBytes: options.blockSizeBytes } : {}),
      ...(options.indexTags !== undefined ? { indexTags: options.indexTags } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    };
    // Loaded on demand: local bundles never load the Storage SDK.
    const { openBlobBundle } = await import('./blobStore.js');
    if (options.runId !== undefined) {
      if (!options.caseId) throw new EvidenceStoreError('a Blob evidence location needs a case id: the bundle is <container>/<caseId>/<runId>');
      return openBlobBundle({ containerUrl: location, caseId: options.caseId, runId: options.runId, ...blobOptions });
    }
    const run = parseBlobRunUrl(location);
    return openBlobBundle({ containerUrl: run.containerUrl, caseId: run.caseId, runId: run.runId, ...blobOptions });
  }
  let dir = location.startsWith('file:') ? fileURLToPath(location) : location;
  if (!isAbsolute(dir)) {
    if (options.cwd === undefined) throw new EvidenceStoreError(`${dir} is a relative path: give the directory it is relative to`);
    dir = resolve(options.cwd, dir);
  }
  const localOptions = {
    ...(options.legalHold !== undefined ? { legalHold: options.legalHold } : {}),
    ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
  };
  if (options.runId !== undefined) return openLocalBundle(dir, options.runId, localOptions);
  return openLocalBundleAt(dir, localOptions);
}
