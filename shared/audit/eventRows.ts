import { createNdjsonArtifact, NDJSON_CONTENT_TYPE, readNdjson } from '../evidence/ndjson.js';
import type { ArtifactRef, EvidenceStore } from '../evidence/types.js';
import { AuditDeduper, FinalStageSelector } from './stages.js';
import { AUDIT_EVENTS_TABLE, auditEventRow } from './tables.js';
import type { AuditEvent } from './types.js';

/**
 * Derive the compact auditevents_CL rows from a written audit artifact (the 'audit' raw
 * stream of the audit source): one row per request, final stage. A source yields rows for
 * one table only, so this second table of the audit source is written as its own rows
 * artifact after the audit task and before sealing; the ingestion step then picks it up
 * like any rows artifact (kind 'rows', table auditevents_CL).
 *
 * Path: <raw path without .audit.ndjson.gz>.auditevents.rows.ndjson.gz (write-once; a retry
 * that derives the same bytes succeeds).
 */
export async function writeAuditEventRows(
  store: EvidenceStore,
  rawPath: string,
  options: { metadata?: Record<string, string>; abortSignal?: AbortSignal } = {},
): Promise<ArtifactRef> {
  const base = rawPath.replace(/\.audit\.ndjson(\.gz)?$/, '');
  if (base === rawPath) throw new Error(`${rawPath} is not an audit artifact (*.audit.ndjson.gz)`);
  const path = `${base}.auditevents.rows.ndjson.gz`;
  const writer = await createNdjsonArtifact(store, path, {
    gzip: true,
    metadata: { ...options.metadata, source: 'audit', kind: 'rows', table: AUDIT_EVENTS_TABLE.name },
  });
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  try {
    for await (const value of readNdjson(store, rawPath, options.abortSignal ? { abortSignal: options.abortSignal } : {})) {
      const event = value as AuditEvent;
      if (!dedupe.isNew(event)) continue;
      for (const e of select.push(event)) await writer.write(auditEventRow(e));
    }
    for (const e of select.flushStarted()) await writer.write(auditEventRow(e));
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const written = await writer.close();
  return {
    path: written.path,
    source: 'audit',
    kind: 'rows',
    sha256: written.sha256,
    bytes: written.bytes,
    records: written.records,
    contentType: NDJSON_CONTENT_TYPE,
    contentEncoding: 'gzip',
    table: AUDIT_EVENTS_TABLE.name,
  };
}
