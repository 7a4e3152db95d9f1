import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeAuditEventRows } from '../../shared/audit/eventRows.js';
import { AUDIT_EVENTS_TABLE, AUDIT_FINDINGS_TABLE } from '../../shared/audit/tables.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { streamColumns } from '../../shared/tables/table.js';
import { writeCompromiseBundle } from '../timeline/compromiseBundle.js';

describe('auditevents_CL rows', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'eventrows-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('are registered with the link columns, and derived one per request from the audit artifact', async () => {
    expect(SOURCES.tables.get('auditevents_CL')).toBe(AUDIT_EVENTS_TABLE);
    expect(SOURCES.tables.get('auditfindings_CL')).toBe(AUDIT_FINDINGS_TABLE);
    const { store, events } = await writeCompromiseBundle(root);
    const ref = await writeAuditEventRows(store, 'sources/audit/all.audit.ndjson.gz');
    expect(ref).toMatchObject({ path: 'sources/audit/all.auditevents.rows.ndjson.gz', kind: 'rows', table: 'auditevents_CL', source: 'audit' });
    const rows: Record<string, unknown>[] = [];
    for await (const r of readNdjson(store, ref.path)) rows.push(r as Record<string, unknown>);
    const requests = new Set(events.map((e) => e.auditID));
    expect(rows).toHaveLength(requests.size);
    expect(ref.records).toBe(rows.length);
    const columns = new Set(streamColumns(AUDIT_EVENTS_TABLE).map((c) => c.name));
    for (const r of rows) for (const k of Object.keys(r)) expect(columns.has(k)).toBe(true);
    const exec = rows.find((r) => r.user === 'masterclient' && r.subresource === 'exec')!;
    expect(exec).toMatchObject({
      stage: 'ResponseComplete',
      verb: 'create',
      object_resource: 'pods',
      outcome: 'success',
      exec_container: 'api',
      exec_tty: true,
      exec_stdin: true,
      namespace: 'prod',
      pod_name: 'api-5f6d7c8b9-klmno',
      response_code: 101,
      source_ips: '198.51.100.7',
      TimeGenerated: '2024-06-01T10:05:00.000000Z',
    });
    // Small rows: the request and response bodies stay in the artifact.
    for (const r of rows) expect(JSON.stringify(r).length).toBeLessThan(3000);
    // Deriving again gives the same bytes: a retried step succeeds without overwriting.
    const again = await writeAuditEventRows(store, 'sources/audit/all.audit.ndjson.gz');
    expect(again.sha256).toBe(ref.sha256);
  });
});
