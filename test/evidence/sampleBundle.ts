import { claimRunPath } from '../../shared/evidence/claim.js';
import { CustodyLog, collectorIdentity } from '../../shared/evidence/custody.js';
import { buildManifest, writeManifest } from '../../shared/evidence/manifest.js';
import { createNdjsonArtifact } from '../../shared/evidence/ndjson.js';
import type { ArtifactRef, EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import type { Clock } from '../../shared/util/time.js';

/** A clock that ticks one second per call from a fixed start. */
export function steppingClock(start = Date.UTC(2026, 10, 22, 10, 0, 0)): Clock {
  let t = start;
  return () => new Date((t += 1000));
}

export interface SampleBundle {
  manifest: Manifest;
  manifestSha256: string;
  /** Rows written per artifact path. */
  rows: Map<string, unknown[]>;
}

/**
 * Write a small but complete run the way the pipeline does: the claim, custody start, rows
 * and raw artifacts for two sources, custody per source, then the sealed manifest and its seal record.
 */
export async function writeSampleBundle(store: EvidenceStore, ids: { runId: string; caseId: string }): Promise<SampleBundle> {
  const clock = steppingClock();
  const collector = collectorIdentity({ runtime: 'test', identity: 'tester' });
  const claim = await claimRunPath(store, { ...ids, collector, clock });
  const custody = new CustodyLog(store, { ...ids, collector, clock, claim });
  const startedAt = clock().toISOString();
  await custody.record('collection-started', { sources: ['events', 'containerlogs'] });

  const rows = new Map<string, unknown[]>();
  const artifacts: ArtifactRef[] = [];
  const sources: Manifest['sources'] = {};
  for (const source of ['events', 'containerlogs']) {
    const records = Array.from({ length: source === 'events' ? 250 : 1200 }, (_, i) => ({
      TimeGenerated: new Date(Date.UTC(2026, 10, 22, 9, 0, i % 60)).toISOString(),
      namespace: i % 3 === 0 ? 'kube-system' : 'default',
      message: `${source} line ${i} ${'x'.repeat(i % 17)}`,
    }));
    const rowsPath = `sources/${source}/${source}.rows.ndjson.gz`;
    const w = await createNdjsonArtifact(store, rowsPath, { gzip: true, metadata: { source, kind: 'rows', runId: ids.runId, caseId: ids.caseId } });
    for (const r of records) await w.write(r);
    const written = await w.close();
    await store.protect?.(rowsPath);
    rows.set(rowsPath, records);
    artifacts.push({
      path: written.path,
      source,
      kind: 'rows',
      sha256: written.sha256,
      bytes: written.bytes,
      records: written.records,
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
      table: `${source}_CL`,
    });
    const rawPath = `sources/${source}/${source}.raw.ndjson`;
    const raw = await createNdjsonArtifact(store, rawPath, { metadata: { source, kind: 'raw' } });
    await raw.write({ kind: 'List', items: [{ metadata: { name: `${source}-object` } }] });
    const rawWritten = await raw.close();
    await store.protect?.(rawPath);
    rows.set(rawPath, [{ kind: 'List', items: [{ metadata: { name: `${source}-object` } }] }]);
    artifacts.push({
      path: rawWritten.path,
      source,
      kind: 'raw',
      sha256: rawWritten.sha256,
      bytes: rawWritten.bytes,
      records: rawWritten.records,
      contentType: 'application/x-ndjson',
    });
    sources[source] = {
      status: 'complete',
      records: records.length,
      rawObjects: 1,
      gaps: [],
      artifacts: [written.path, rawWritten.path],
    };
    await custody.record('artifacts-sealed', { source, artifacts: [written.sha256, rawWritten.sha256] });
  }

  const manifest = buildManifest({
    runId: ids.runId,
    caseId: ids.caseId,
    cluster: { server: 'https://127.0.0.1:6443', name: 'fixture' },
    collector,
    request: { caseId: ids.caseId, sources: ['events', 'containerlogs'], sinceSeconds: 86400, requester: 'analyst@example.test', reason: 'test' },
    startedAt,
    endedAt: clock().toISOString(),
    artifacts,
    sources,
    gaps: [],
    actions: [],
    protection: await store.protection(),
    custody: { claimSha256: claim.sha256, nonce: claim.claim.nonce, chainHead: await custody.currentHead() },
  });
  const sealed = await writeManifest(store, manifest);
  await custody.record('manifest-sealed', { manifestSha256: sealed.sha256, chainHead: manifest.custody?.chainHead });
  return { manifest, manifestSha256: sealed.sha256, rows };
}
