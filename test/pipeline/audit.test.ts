import { claimRunPath } from '../../shared/evidence/claim.js';
import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runCollectTask } from '../../shared/pipeline/collectTask.js';
import { planCollectTasks } from '../../shared/pipeline/plan.js';
import { sealRun } from '../../shared/pipeline/seal.js';
import type { ClusterFacts } from '../../shared/cluster/facts.js';
import { aksAuditRow, startLogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const CLUSTER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod';
const WORKSPACE = '3f1c2a9e-0000-4000-8000-00000000abcd';
const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

test('the audit task exports the window from Log Analytics, labels it, derives auditevents_CL rows, and seals', async () => {
  const scenario = await loadScenario('compromise');
  const events = (scenario.audit ?? []) as Record<string, unknown>[];
  expect(events.length).toBeGreaterThan(10);
  const stub = await startLogAnalyticsStub({ rows: events.map((e) => aksAuditRow(e, 'AKSAudit', CLUSTER)) });
  const cluster = await startFixtureCluster(scenario, {});
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-audit-'));
  try {
    const agent = new Agent({ ca: stub.caPem });
    const clientOptions: LogsQueryClientOptions = {
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ position: 'perCall', policy: { name: 'trust-stub-ca', sendRequest: (req, next) => ((req.agent = agent), next(req)) } }],
    };
    const facts: ClusterFacts = {
      ...kubeconfigFacts({ server: cluster.server, resourceId: CLUSTER }),
      authMode: 'entra',
      gaps: [],
      audit: { enabled: true, categories: ['kube-audit'], destinations: [{ workspaceId: WORKSPACE }] },
    };
    const request = { caseId: 'c', sources: ['audit', 'events'], sinceSeconds: 7 * 86400 };
    const tasks = planCollectTasks(request, facts);
    expect(tasks.map((t) => t.source)).toEqual(['audit', 'events']);

    const store = await openLocalBundle(dir, 'audit-run');
    await claimRunPath(store, { runId: 'audit-run', caseId: 'c', collector: collectorIdentity({ runtime: 'test' }) });
    const azure = { credential, ...(facts.audit ? { auditLog: facts.audit } : {}), logs: { endpoint: stub.endpoint, clientOptions } };
    const ctx = { store, kubeConfig: fixtureKubeConfig(cluster), runId: 'audit-run', caseId: 'c', request, cluster: facts.cluster, azure };
    const results = [];
    for (const task of tasks) results.push(await runCollectTask(task, ctx));
    const auditResult = results[0]!;
    expect(auditResult.status).not.toBe('failed');
    expect(auditResult.rawObjects).toBeGreaterThan(0);
    expect(auditResult.records).toBeGreaterThan(0); // labels → auditfindings_CL
    const eventRows = auditResult.artifacts.find((a) => a.table === 'auditevents_CL');
    expect(eventRows?.records).toBeGreaterThan(0);

    const labels: Record<string, unknown>[] = [];
    for await (const r of readNdjson(store, auditResult.artifacts.find((a) => a.table === 'auditfindings_CL')!.path)) labels.push(r as Record<string, unknown>);
    expect(labels.some((l) => String(l.rule_id).includes('anonymous') || String(l.rule_id).includes('binding'))).toBe(true);

    const sealed = await sealRun({
      store,
      runId: 'audit-run',
      caseId: 'c',
      request,
      facts,
      results,
      collector: collectorIdentity({ runtime: 'test' }),
      startedAt: new Date().toISOString(),
    });
    expect(sealed.manifest.sources.audit?.status).not.toBe('failed');
    expect(sealed.manifest.artifacts.some((a) => a.table === 'auditevents_CL')).toBe(true);
    expect((await verifyBundle(store)).ok).toBe(true);
  } finally {
    await cluster.stop();
    await stub.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('without kube-audit exported, audit is skipped and the reason is the first gap, not a failure', async () => {
  const facts = kubeconfigFacts({ server: 'https://127.0.0.1:1' });
  expect(planCollectTasks({ caseId: 'c', sources: ['audit'], sinceSeconds: 60 }, facts)).toEqual([]);
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-audit-'));
  try {
    const store = await openLocalBundle(dir, 'r');
    await claimRunPath(store, { runId: 'r', caseId: 'c', collector: collectorIdentity({ runtime: 'test' }) });
    const sealed = await sealRun({
      store,
      runId: 'r',
      caseId: 'c',
      request: { caseId: 'c', sources: ['audit'], sinceSeconds: 60 },
      facts,
      results: [],
      collector: collectorIdentity({ runtime: 'test' }),
      startedAt: new Date().toISOString(),
    });
    expect(sealed.manifest.sources.audit?.status).toBe('skipped');
    expect(sealed.manifest.sources.audit?.gaps[0]?.detail).toMatch(/audit/);
    expect(sealed.manifest.gaps[0]?.source).toBe('audit');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
