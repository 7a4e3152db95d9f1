import { defaultAzureCredential } from '../util/azureCredential.js';
import { openLocalBundle } from '../evidence/localStore.js';
import type { EvidenceStore } from '../evidence/types.js';
import { resolve } from 'node:path';

export interface RunStoreOptions {
  /** A directory, or a Blob container URL (https://acct.blob.core.windows.net/c, or Azurite's http://127.0.0.1:10000/devstoreaccount1/c). */
  out: string;
  runId: string;
  caseId: string;
  /** Used for Blob URLs when set (Azurite / local); otherwise DefaultAzureCredential. */
  connectionString?: string;
  cwd: string;
  legalHold?: boolean;
  retentionDays?: number;
}

export function isBlobLocation(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** Open the write-once store for a new run: local bundle <out>/<runId>, or blob <container>/<caseId>/<runId>. */
export async function openRunStore(options: RunStoreOptions): Promise<EvidenceStore> {
  if (isBlobLocation(options.out)) {
    // Loaded on demand: a local collection never loads the Storage or Identity SDKs.
    const { openBlobBundle } = await import('../evidence/blobStore.js');
    return openBlobBundle({
      containerUrl: options.out,
      caseId: options.caseId,
      runId: options.runId,
      // A connection string means Azurite or a dev account: create the container if missing.
      // With an Entra identity the container must come from infra (WORM is set at creation).
      ...(options.connectionString
        ? { connectionString: options.connectionString, createContainer: true }
        : { credential: await defaultAzureCredential() }),
      ...(options.legalHold !== undefined ? { legalHold: options.legalHold } : {}),
      ...(options.retentionDays !== undefined ? { retentionDays: options.retentionDays } : {}),
    });
  }
  return openLocalBundle(resolve(options.cwd, options.out), options.runId);
}
