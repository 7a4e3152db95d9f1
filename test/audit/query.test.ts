import { Agent } from 'node:https';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TokenCredential } from '@azure/core-auth';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { collectAudit } from '../../shared/sources/audit/source.js';
import { normalizeAuditRecord } from '../../shared/audit/parse.js';
import { buildAuditQuery, exportAuditLogs, readAuditFromStorage, storageHourPrefix } from '../../shared/audit/query.js';
import type { AuditEvent } from '../../shared/audit/types.js';
import type { Gap } from '../../shared/evidence/types.js';
import type { SourceItem } from '../../shared/sources/types.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { aksAuditRow, azureDiagnosticsRow, startLogAnalyticsStub, type LogAnalyticsStub, type StubRow } from '../fixtures/audit/logAnalyticsStub.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SIGMA_DIR = join(HERE, '..', 'fixtures', 'audit', 'sigma');
const CLUSTER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod';
const OTHER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-other';
const WORKSPACE = '3f1c2a9e-0000-4000-8000-00000000abcd';
const START = '2024-06-01T09:00:00Z';
const END = '2024-06-01T13:00:00Z';
const SECRET_VALUES = ['Q0FOQVJZLVNFQ1JFVC1WQUxVRS1kYi1wYXNzd29yZA==', 'Q0FOQVJZLVNFQ1JFVC1WQUxVRS1kYi11c2Vy', 'CANARY-TOKEN-VALUE'];

const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

let rawEvents: Record<string, unknown>[];
beforeAll(async () => {
  const text = await readFile(join(HERE, '..', '..', 'shared', 'simulator', 'kube', 'scenarios', 'compromise.audit.ndjson'), 'utf8');
  rawEvents = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
});

const aksRow = (e: Record<string, unknown>, table: 'AKSAudit' | 'AKSAuditAdmin', resourceId = CLUSTER) => aksAuditRow(e, table, resourceId);
const diagRow = (e: Record<string, unknown>, resourceId = CLUSTER) => azureDiagnosticsRow(e, resourceId);

function clientOptions(stub: LogAnalyticsStub): LogsQueryClientOptions {
  const agent = new Agent({ ca: stub.caPem });
  return {
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [
      {
        position: 'perCall',
        policy: {
          name: 'trust-stub-ca',
          sendRequest: (request, next) => {
            request.agent = agent;
            return next(request);
          },
        },
      },
    ],
  };
}

const key = (e: { auditID?: unknown; stage?: unknown }) => `${String(e.auditID)}/${String(e.stage)}`;

/** The creation of the anonymous cluster-admin binding (final stage). */
function bindingCreate(): Record<string, unknown> {
  return rawEvents.find((e) => e.verb === 'create' && e.stage === 'ResponseComplete' && (e.objectRef as { resource?: string } | undefined)?.resource === 'clusterrolebindings')!;
}

describe('exportAuditLogs against a Log Analytics query API stub (real LogsQueryClient over HTTPS)', () => {
  let stub: LogAnalyticsStub;
  afterEach(async () => {
    await stub?.stop();
  });

  it('reads both table shapes, only this cluster, in slices that stay under the row limit', async () => {
    // Half the events in the resource-specific table, half in AzureDiagnostics; the binding
    // event also in AKSAuditAdmin (both categories enabled); another cluster's copy of everything.
    const rows: StubRow[] = [];
    rawEvents.forEach((e, i) => rows.push(i % 2 === 0 ? aksRow(e, 'AKSAudit') : diagRow(e)));
    rows.push(aksRow(bindingCreate(), 'AKSAuditAdmin'));
    rawEvents.forEach((e) => rows.push(aksRow(e, 'AKSAudit', OTHER)));
    stub = await startLogAnalyticsStub({ rows });

    const queries: { kind: string; rows: number; start: string; end: string }[] = [];
    const gaps: Gap[] = [];
    const events: AuditEvent[] = [];
    for await (const e of exportAuditLogs({
      workspaceId: WORKSPACE,
      clusterResourceId: CLUSTER,
      start: START,
      end: END,
      credential,
      endpoint: stub.endpoint,
      clientOptions: clientOptions(stub),
      maxRowsPerQuery: 10,
      onGap: (g) => gaps.push(g),
      onQuery: (q) => queries.push(q),
    })) {
      events.push(e);
    }
    expect(gaps).toEqual([]);
    // Every distinct event of the cluster (the binding twice: both tables; dedupe is the caller's).
    const expected = rawEvents.map(key);
    expect(events.map(key).sort()).toEqual([...expected, key(bindingCreate())].sort());
    expect(events.every((e) => e.kind === 'Event' && e.user.username)).toBe(true);
    // No answer over the limit: busy hours were split by their count.
    const fetches = queries.filter((q) => q.kind === 'rows');
    expect(fetches.length).toBeGreaterThan(4);
    // Over the limit only where the slice cannot be split further (the 24-row probe minute).
    for (const q of fetches) if (q.rows > 10) expect(Date.parse(q.end) - Date.parse(q.start)).toBeLessThanOrEqual(60_000);
    expect(fetches.filter((q) => q.rows > 10).length).toBeLessThanOrEqual(1);
    // The slices that were read (or counted empty) tile the window without gaps or overlaps.
    const leaves = queries.filter((q) => q.kind === 'rows' || (q.kind === 'count' && q.rows === 0));
    const tiles = [...new Map(leaves.map((q) => [q.start, q] as const)).values()].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    expect(tiles[0]!.start).toBe('2024-06-01T09:00:00.000Z');
    expect(tiles[tiles.length - 1]!.end).toBe('2024-06-01T13:00:00.000Z');
    for (let i = 1; i < tiles.length; i++) expect(tiles[i]!.start).toBe(tiles[i - 1]!.end);
    // The service saw the window in both the timespan and the KQL, and the cluster filter.
    for (const r of stub.requests) {
      expect(r.path).toBe(`/v1/workspaces/${WORKSPACE}/query`);
      expect(r.timespan).toMatch(/^2024-06-01T\d\d:\d\d:\d\d\.\d{3}Z\/2024-06-01T\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r.query).toContain(`_ResourceId =~ '${CLUSTER}'`);
    }
    // Secret values never come out.
    const text = JSON.stringify(events);
    for (const v of SECRET_VALUES) expect(text).not.toContain(v);
  });

  it('splits a slice the service cut (PartialError) and names what stayed cut as a gap', async () => {
    stub = await startLogAnalyticsStub({ rows: rawEvents.map((e) => aksRow(e, 'AKSAudit')), maxRowsPerResponse: 6 });
    const gaps: Gap[] = [];
    const events: AuditEvent[] = [];
    for await (const e of exportAuditLogs({
      workspaceId: WORKSPACE,
      clusterResourceId: CLUSTER,
      start: START,
      end: END,
      credential,
      endpoint: stub.endpoint,
      clientOptions: clientOptions(stub),
      maxRowsPerQuery: 1000,
      onGap: (g) => gaps.push(g),
    })) {
      events.push(e);
    }
    // The 401/403 probe: 24 rows in 36 s, more than the service returns, even in a one-minute slice.
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ source: 'audit', reason: 'error' });
    const m = /audit window (\S+)–(\S+) was cut by the query service \(PartialError: [^)]*\); 6 of (\d+) events kept/.exec(gaps[0]!.detail);
    expect(m).not.toBeNull();
    const [from, to] = [Date.parse(m![1]!), Date.parse(m![2]!)];
    expect(to - from).toBeLessThanOrEqual(60_000);
    // Everything outside the cut slice arrived complete; inside it, what the service returned.
    const inCut = (e: Record<string, unknown>) => Date.parse(String(e.stageTimestamp)) >= from && Date.parse(String(e.stageTimestamp)) < to;
    const outside = rawEvents.filter((e) => !inCut(e));
    expect(rawEvents.filter(inCut).length).toBe(Number(m![3]));
    const got = new Set(events.map(key));
    for (const e of outside) expect(got.has(key(e))).toBe(true);
    expect(events.length).toBe(outside.length + 6);
  });

  it('turns a refused query into one forbidden gap and stops', async () => {
    stub = await startLogAnalyticsStub({ rows: [], refuse: { [WORKSPACE]: 403 } });
    const gaps: Gap[] = [];
    const events: AuditEvent[] = [];
    for await (const e of exportAuditLogs({
      workspaceId: WORKSPACE,
      clusterResourceId: CLUSTER,
      start: START,
      end: END,
      credential,
      endpoint: stub.endpoint,
      clientOptions: clientOptions(stub),
      onGap: (g) => gaps.push(g),
    }))
      events.push(e);
    expect(events).toEqual([]);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: 'forbidden' });
    expect(gaps[0]!.detail).toMatch(/HTTP 403.*Log Analytics Reader/);
    expect(stub.requests).toHaveLength(1);
  });

  it('queries a workspace given by ARM id in resource context', async () => {
    stub = await startLogAnalyticsStub({ rows: rawEvents.slice(0, 4).map((e) => aksRow(e, 'AKSAudit')) });
    const ws = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-logs/providers/Microsoft.OperationalInsights/workspaces/law-sec';
    let n = 0;
    for await (const _ of exportAuditLogs({
      workspaceId: ws,
      clusterResourceId: CLUSTER,
      start: START,
      end: END,
      credential,
      endpoint: stub.endpoint,
      clientOptions: clientOptions(stub),
    }))
      n++;
    expect(n).toBe(4);
    expect(stub.requests[0]!.path).toBe(`/v1${ws}/query`);
  });

  it('writes KQL that filters the cluster and the window in every leg, and refuses a non-AKS id', () => {
    const q = buildAuditQuery({ tables: ['AKSAudit', 'AzureDiagnostics'], clusterResourceId: CLUSTER, start: new Date(START), end: new Date(END) });
    expect(q).toMatch(/^union isfuzzy=true withsource=SourceTable/);
    expect(q.match(/_ResourceId =~ '/g)).toHaveLength(2);
    expect(q.match(/TimeGenerated >= datetime\(2024-06-01T09:00:00.000Z\) and TimeGenerated < datetime\(2024-06-01T13:00:00.000Z\)/g)).toHaveLength(2);
    expect(q).toContain("Category in ('kube-audit', 'kube-audit-admin')");
    expect(() =>
      buildAuditQuery({
        tables: ['AKSAudit'],
        clusterResourceId: "/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/z' or 1==1",
        start: new Date(START),
        end: new Date(END),
      }),
    ).toThrow(/not an AKS cluster resource id/);
  });
});

describe('collectAudit', () => {
  const collect = async (items: AsyncIterable<SourceItem>) => {
    const out: SourceItem[] = [];
    for await (const i of items) out.push(i);
    return out;
  };

  it('names a missing audit log as a not-enabled gap, first, and collects nothing', async () => {
    const off = await collect(collectAudit({ audit: { enabled: false, categories: [], destinations: [] }, start: START, end: END }));
    expect(off[0]).toMatchObject({ kind: 'gap', gap: { source: 'audit', reason: 'not-enabled' } });
    expect((off[0] as { gap: Gap }).gap.detail).toMatch(/not enabled/);
    expect(off.filter((i) => i.kind === 'raw' || i.kind === 'row')).toEqual([]);
    const unknown = await collect(collectAudit({ audit: undefined, start: START, end: END }));
    expect(unknown[0]).toMatchObject({ kind: 'gap', gap: { reason: 'not-enabled' } });
  });

  it('collects raw events and label rows from the workspace, and says what kube-audit-admin leaves out', async () => {
    const stub = await startLogAnalyticsStub({ rows: rawEvents.map((e) => aksRow(e, 'AKSAuditAdmin')) });
    try {
      const items = await collect(
        collectAudit({
          audit: { enabled: true, categories: ['kube-audit-admin'], destinations: [{ workspaceId: WORKSPACE }] },
          clusterResourceId: CLUSTER,
          start: START,
          end: END,
          credential,
          logs: { endpoint: stub.endpoint, clientOptions: clientOptions(stub) },
          // The pipeline's audit source takes Sigma rules too (AuditSourceOptions.sigmaDirs).
          sigmaDirs: [SIGMA_DIR],
        }),
      );
      expect(items[0]).toMatchObject({ kind: 'gap', gap: { reason: 'not-enabled' } });
      expect((items[0] as { gap: Gap }).gap.detail).toMatch(/kube-audit-admin.*Secret reads/);
      const raw = items.filter((i): i is Extract<SourceItem, { kind: 'raw' }> => i.kind === 'raw');
      // Each distinct (auditID, stage) once, although the binding event is in the table twice.
      expect(raw).toHaveLength(new Set(rawEvents.map(key)).size);
      expect(raw.every((r) => r.stream === 'audit')).toBe(true);
      const rows = items.filter((i): i is Extract<SourceItem, { kind: 'row' }> => i.kind === 'row').map((r) => r.row);
      const rules = new Set(rows.map((r) => r.rule_id));
      for (const id of [
        'auth-failure-burst',
        'secret-read-cross-namespace-sa',
        'pod-exec',
        'rbac-binding-powerful-role',
        'anonymous-success',
        'pod-privileged',
        'cleanup-delete-own-creation',
        'event-deletion',
        'serviceaccount-token-request',
        'workload-download-and-run',
      ]) {
        expect(rules).toContain(id);
      }
      const sigmaRows = rows.filter((r) => r.rule_kind === 'sigma');
      expect(new Set(sigmaRows.map((r) => r.rule_title))).toEqual(
        new Set([
          'Command Run In A Pod Container Through The API Server',
          'Pod Created With A Host Path Volume And Added Capabilities', // the node-shell pod: hostPath / and SYS_ADMIN
          'Request Refused By The API Server',
          'Secrets Listed Across All Namespaces',
          'Shell Or Download Tool Started In A Pod From Outside The Cluster Networks', // /bin/sh from 198.51.100.7
        ]),
      );
      expect(sigmaRows.find((r) => r.rule_title === 'Command Run In A Pod Container Through The API Server')).toMatchObject({
        rule_id: '3f0d7a52-9a1e-4c1b-8a56-1d2b6c7e9f01',
        attack_techniques: 'T1609',
        exec_command: '/bin/sh -i',
      });
      const coverage = items.find((i) => i.kind === 'coverage') as unknown as {
        coverage: { audit: { events: number; inactiveRules: unknown[]; destinations: string[]; sigmaRules: string[] } };
      };
      expect(coverage.coverage.audit.sigmaRules).toHaveLength(6);
      expect(coverage.coverage.audit.events).toBe(raw.length);
      expect(coverage.coverage.audit.destinations).toEqual([`log-analytics:${WORKSPACE}`]);
      expect(coverage.coverage.audit.inactiveRules).toContainEqual(expect.objectContaining({ ruleId: 'unexpected-source-network' }));
      const text = JSON.stringify(items);
      for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    } finally {
      await stub.stop();
    }
  });
});

describe('readAuditFromStorage against Azurite', () => {
  let azurite: AzuriteBlob;
  beforeAll(async () => {
    azurite = await startAzurite();
  }, 60_000);
  afterAll(async () => {
    await azurite?.stop();
  });

  it('reads the diagnostic-settings layout hour by hour, both categories, only the window and the cluster', async () => {
    const svc = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const audit = svc.getContainerClient('insights-logs-kube-audit');
    const admin = svc.getContainerClient('insights-logs-kube-audit-admin');
    await audit.create();
    await admin.create();
    const record = (e: Record<string, unknown>) =>
      JSON.stringify({
        time: e.stageTimestamp,
        resourceId: CLUSTER.toUpperCase(),
        category: 'kube-audit',
        operationName: 'Microsoft.ContainerService/managedClusters/diagnosticLogs/Read',
        properties: { log: JSON.stringify(e), stream: 'stdout', pod: 'kube-apiserver-1' },
      });
    const byHour = new Map<string, Record<string, unknown>[]>();
    for (const e of rawEvents) {
      const h = String(e.stageTimestamp).slice(0, 13);
      byHour.set(h, [...(byHour.get(h) ?? []), e]);
    }
    for (const [h, list] of byHour) {
      const name = `${storageHourPrefix(CLUSTER, new Date(`${h}:00:00Z`))}m=00/PT1H.json`;
      expect(name).toMatch(
        /^resourceId=\/SUBSCRIPTIONS\/00000000-0000-0000-0000-000000000000\/RESOURCEGROUPS\/RG-AKS\/PROVIDERS\/MICROSOFT\.CONTAINERSERVICE\/MANAGEDCLUSTERS\/AKS-PROD\/y=2024\/m=06\/d=01\/h=\d\d\/m=00\/PT1H\.json$/,
      );
      const body = list.map(record).join('\n') + '\n';
      await audit.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
    }
    // Older blobs: one {"records": [...]} document. The admin category repeats the binding.
    const binding = bindingCreate();
    const adminBody = JSON.stringify({ records: [JSON.parse(record(binding))] }, null, 2);
    await admin.getBlockBlobClient(`${storageHourPrefix(CLUSTER, new Date('2024-06-01T10:00:00Z'))}m=00/PT1H.json`).upload(adminBody, Buffer.byteLength(adminBody));
    // Another cluster in the same container.
    const other = record(rawEvents[0]!);
    await audit.getBlockBlobClient(`${storageHourPrefix(OTHER, new Date('2024-06-01T10:00:00Z'))}m=00/PT1H.json`).upload(other, other.length);

    const gaps: Gap[] = [];
    const events: AuditEvent[] = [];
    // Window 10:00–12:00: the 09:58 probe and the 12:00 collector are outside.
    for await (const e of readAuditFromStorage({
      connectionString: azurite.connectionString,
      clusterResourceId: CLUSTER,
      start: '2024-06-01T10:00:00Z',
      end: '2024-06-01T12:00:00Z',
      onGap: (g) => gaps.push(g),
    }))
      events.push(e);
    expect(gaps).toEqual([]);
    const inWindow = rawEvents.filter((e) => {
      const t = Date.parse(String(e.requestReceivedTimestamp));
      return t >= Date.parse('2024-06-01T10:00:00Z') && t < Date.parse('2024-06-01T12:00:00Z');
    });
    expect(events.length).toBe(inWindow.length + 1);
    expect(new Set(events.map(key))).toEqual(new Set(inWindow.map(key)));
    expect(events.every((e) => e.user.username !== undefined)).toBe(true);
    const text = JSON.stringify(events);
    for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    // Events are the normalized, redacted form of the raw log.
    expect(events[0]).toEqual(normalizeAuditRecord(inWindow[0])[0]);
  });

  it('names a container that does not exist as a not-found gap', async () => {
    const gaps: Gap[] = [];
    let n = 0;
    for await (const _ of readAuditFromStorage({
      connectionString: azurite.connectionString,
      containers: ['insights-logs-missing'],
      clusterResourceId: CLUSTER,
      start: START,
      end: END,
      onGap: (g) => gaps.push(g),
    }))
      n++;
    expect(n).toBe(0);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toMatchObject({ reason: 'not-found' });
    expect(gaps[0]!.detail).toContain('insights-logs-missing');
  });
});
