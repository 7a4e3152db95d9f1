/**
 * The acknowledgement log: which record ids the service has acknowledged, per attempt and
 * table, as write-once gzip NDJSON parts under ingestion/:
 *
 *   ingestion/acked-<attempt>-<table>-<part>.ndjson.gz    lines {"table":"…","recordId":"…"}
 *
 * One part per request the service accepted, written before the request's slot is freed for
 * the next one: an attempt cut short at any point (function timeout, crash, kill -9) loses at
 * most the acknowledgements of the requests in flight, and a re-ingest re-sends only those.
 * Every part in the bundle counts, with or without a receipt.
 */
import { gzipSync } from 'node:zlib';
import type { EvidenceStore, WrittenArtifact } from '../evidence/types.js';
import { readArtifactLines } from './readLines.js';

export const INGESTION_PREFIX = 'ingestion/';
const PART = /^ingestion\/acked-(\d+)-([A-Za-z][A-Za-z0-9_]*)-(\d+)\.ndjson\.gz$/;

export function ackPartPath(attempt: number, table: string, part: number): string {
  return `${INGESTION_PREFIX}acked-${pad(attempt)}-${table}-${pad(part)}.ndjson.gz`;
}

export function pad(n: number): string {
  return String(n).padStart(4, '0');
}

/** An acknowledgement part as referenced from a receipt. */
export interface AckPartRef {
  path: string;
  table: string;
  sha256: string;
  bytes: number;
  records: number;
}

/** Record ids already acknowledged for `table` by any earlier attempt, and the attempts they came from. */
export async function readAcknowledged(store: EvidenceStore, table: string, abortSignal?: AbortSignal): Promise<{ ids: Set<string>; attempts: number[]; parts: number }> {
  const ids = new Set<string>();
  const attempts = new Set<number>();
  let parts = 0;
  for await (const info of store.list(INGESTION_PREFIX)) {
    const m = PART.exec(info.path);
    if (!m || m[2] !== table) continue;
    parts++;
    attempts.add(Number(m[1]));
    for await (const line of readArtifactLines(store, { path: info.path, contentEncoding: 'gzip' }, { storedBytes: 0, lines: 0 }, abortSignal)) {
      const entry = JSON.parse(line.text) as { table?: string; recordId?: string };
      if (entry.table === table && typeof entry.recordId === 'string') ids.add(entry.recordId);
    }
  }
  return { ids, attempts: [...attempts].sort((a, b) => a - b), parts };
}

/** Writes the acknowledgements of one table in one attempt, one part per accepted request. */
export class AckLog {
  private part = 0;
  private chain: Promise<void> = Promise.resolve();
  readonly written: AckPartRef[] = [];

  constructor(
    private readonly store: EvidenceStore,
    private readonly attempt: number,
    private readonly table: string,
  ) {}

  /**
   * Record the ids one request had acknowledged: resolves once they are written as a part
   * (writes are serialized, so parts are numbered in order).
   */
  add(ids: readonly string[]): Promise<void> {
    if (!ids.length) return this.chain;
    const part = [...ids];
    this.chain = this.chain.then(() => this.writePart(part));
    return this.chain;
  }

  /** Wait for every part handed over so far to be written. */
  flush(): Promise<void> {
    return this.chain;
  }

  private async writePart(ids: string[]): Promise<void> {
    this.part++;
    const path = ackPartPath(this.attempt, this.table, this.part);
    const body = ids.map((recordId) => JSON.stringify({ table: this.table, recordId })).join('\n') + '\n';
    const written: WrittenArtifact = await this.store.writeArtifact(path, gzipSync(body), {
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
      metadata: { artifactkind: 'ingestion-acknowledgements', table: this.table, attempt: String(this.attempt) },
    });
    await this.store.protect?.(path);
    this.written.push({ path, table: this.table, sha256: written.sha256, bytes: written.bytes, records: ids.length });
  }
}
