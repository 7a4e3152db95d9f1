import type { TokenCredential } from '@azure/core-auth';
import type { LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { readCustodyLog } from '../evidence/custody.js';
import { readIncrementManifest } from '../evidence/increment.js';
import { readManifestWithHash } from '../evidence/manifest.js';
import type { EvidenceStore } from '../evidence/types.js';
import type { IngestionTarget } from '../ingestion/config.js';
import { ingestBundle } from '../ingestion/ingest.js';
import type { IngestionReceipt } from '../ingestion/receipt.js';
import type { TableRegistry } from '../tables/registry.js';
import { AksEvidenceError } from '../util/errors.js';

/**
 * Ingest one sealed segment into the same tables as the first collection, marked
 * CollectionPhase = increment: the segment's rows artifacts, linked to their own paths and
 * hashes, through the same acknowledgements and receipts (recorded in custody) as any ingestion.
 */
export async function ingestIncrement(options: {
  store: EvidenceStore;
  seq: number;
  /** The segment's manifest hash as its custody record sealed it: a changed manifest is not ingested. */
  manifestSha256: string;
  config: IngestionTarget;
  tables: TableRegistry;
  credential: TokenCredential;
  custody?: { record(step: string, details: object): Promise<unknown> };
  clientOptions?: LogsIngestionClientOptions;
  abortSignal?: AbortSignal;
  /** Only these tables (default every table with rows). */
  only?: string[];
  /** Requests in flight per table. */
  concurrency?: number;
}): Promise<IngestionReceipt | undefined> {
  const { manifest: increment, sha256 } = await readIncrementManifest(options.store, options.seq);
  if (sha256 !== options.manifestSha256) {
    throw new AksEvidenceError(
      'ERR_MANIFEST_CHANGED',
      `increment ${options.seq} in ${options.store.location} hashes to ${sha256}, not the sealed ${options.manifestSha256}: refusing to ingest it`,
    );
  }
  if (!increment.artifacts.some((a) => a.kind === 'rows' && a.records > 0)) return undefined;
  const { manifest: base } = await readManifestWithHash(options.store);
  return ingestBundle({
    store: options.store,
    manifest: { ...base, artifacts: increment.artifacts, startedAt: increment.from },
    config: options.config,
    tables: options.tables,
    credential: options.credential,
    phase: 'increment',
    ...(options.custody ? { custody: options.custody } : {}),
    ...(options.clientOptions ? { clientOptions: options.clientOptions } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    ...(options.only ? { only: options.only } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
}

/** The segments the run's custody chain records as sealed, in order, with the manifest hash each seal recorded. */
export async function sealedIncrements(store: EvidenceStore): Promise<{ seq: number; manifestSha256: string }[]> {
  const out: { seq: number; manifestSha256: string }[] = [];
  for (const r of await readCustodyLog(store)) {
    if (r.step !== 'increment-sealed' || typeof r.details['seq'] !== 'number') continue;
    out.push({ seq: r.details['seq'], manifestSha256: String(r.details['manifestSha256'] ?? '') });
  }
  return out.sort((a, b) => a.seq - b.seq);
}
