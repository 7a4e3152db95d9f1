/**
 * A sealed bundle of the compromise scenario collected the way the Functions host collects it:
 * every source from the simulated cluster (shared/simulator/kube), and the audit log exported
 * from a loopback Log Analytics query stub (AKSAudit rows of the scenario's audit log), planned,
 * collected task by task with custody records, and sealed by sealRun (which writes the report
 * at sealing). The collector identity is the service account the scenario's audit log shows
 * reading shell history, so its execs are recognised as the collector's.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { Agent } from 'node:https';
import { claimRunPath } from '../../shared/evidence/claim.js';
import { collectorIdentity, CustodyLog } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import type { EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import { kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runCollectTask } from '../../shared/pipeline/collectTask.js';
import { planCollectTasks, shardLabel } from '../../shared/pipeline/plan.js';
import { sealRun } from '../../shared/pipeline/seal.js';
import { addSealedReport } from '../../shared/report/seal.js';
import type { ClusterFacts } from '../../shared/cluster/facts.js';
import type { CollectTaskResult, SealResult } from '../../shared/pipeline/types.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { aksAuditRow, startLogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';

export const CLUSTER_RESOURCE_ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod';
export const COLLECTOR_SA = 'system:serviceaccount:forensics:aks-evidence';
const WORKSPACE = '3f1c2a9e-0000-4000-8000-00000000abcd';
const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

export interface CompromiseRun {
  store: EvidenceStore;
  /** The bundle directory. */
  dir: string;
  manifest: Manifest;
  sealed: SealResult;
}

/** Collect the compromise scenario into `outDir`/<runId> and seal it. */
export async function collectCompromiseRun(outDir: string, runId = 'run-report'): Promise<CompromiseRun> {
  const scenario = await loadScenario('compromise');
  const events = (scenario.audit ?? []) as Record<string, unknown>[];
  if (events.length === 0) throw new Error('the compromise scenario has no audit log (compromise.audit.ndjson)');
  const stub = await startLogAnalyticsStub({ rows: events.map((e) => aksAuditRow(e, 'AKSAudit', CLUSTER_RESOURCE_ID)) });
  const cluster = await startFixtureCluster(scenario, {});
  try {
    const agent = new Agent({ ca: stub.caPem });
    const clientOptions: LogsQueryClientOptions = {
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [{ position: 'perCall', policy: { name: 'trust-stub-ca', sendRequest: (req, next) => ((req.agent = agent), next(req)) } }],
    };
    const facts: ClusterFacts = {
      ...kubeconfigFacts({ server: cluster.server, name: 'aks-prod', resourceId: CLUSTER_RESOURCE_ID }),
      authMode: 'entra',
      gaps: [],
      audit: { enabled: true, categories: ['kube-audit'], destinations: [{ workspaceId: WORKSPACE }] },
    };
    const request = {
      caseId: 'case-report',
      sources: SOURCES.names(),
      sinceSeconds: 7 * 86400,
      requester: 'soc-analyst@contoso.example',
      reason: 'Defender for Containers: anonymous access granted cluster-admin',
      incidentId:
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel/providers/Microsoft.OperationalInsights/workspaces/law/providers/Microsoft.SecurityInsights/Incidents/42',
    };
    const collector = collectorIdentity({ runtime: 'test', identity: COLLECTOR_SA });
    const store = await openLocalBundle(outDir, runId);
    await claimRunPath(store, { runId, caseId: request.caseId, collector });
    const custody = new CustodyLog(store, { runId, caseId: request.caseId, collector });
    await custody.record('collection-started', { request, cluster: facts.cluster, location: store.location });
    const azure = { credential, ...(facts.audit ? { auditLog: facts.audit } : {}), logs: { endpoint: stub.endpoint, clientOptions } };
    const ctx = { store, kubeConfig: fixtureKubeConfig(cluster), runId, caseId: request.caseId, request, cluster: facts.cluster, azure };
    const startedAt = new Date().toISOString();
    const results: CollectTaskResult[] = [];
    for (const task of planCollectTasks(request, facts)) {
      const result = await runCollectTask(task, ctx);
      const shard = shardLabel(task);
      await custody.record('artifacts-sealed', {
        source: task.source,
        ...(shard ? { shard } : {}),
        status: result.status,
        artifacts: result.artifacts.map((a) => ({ path: a.path, sha256: a.sha256 })),
      });
      results.push(result);
    }
    const sealed = await sealRun({ store, runId, caseId: request.caseId, request, facts, results, collector, startedAt, beforeManifest: (s, m) => addSealedReport(s, m) });
    const { manifest, ...seal } = sealed;
    return { store, dir: `${outDir}/${runId}`, manifest, sealed: seal };
  } finally {
    await cluster.stop();
    await stub.stop();
  }
}
