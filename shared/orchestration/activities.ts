import type { TokenCredential } from '@azure/core-auth';
import type { LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { KubeConfig } from '../cluster/kubeConfig.js';
import type { ArmClientOptions } from '../cluster/arm.js';
import { createArmClients } from '../cluster/arm.js';
import { buildClusterKubeConfig } from '../cluster/credentials.js';
import { KubeApi } from '../cluster/kubeApi.js';
import type { AppSettings } from '../config/appSettings.js';
import { openEvidenceLocation } from '../evidence/openStore.js';
import { claimRunPath } from '../evidence/claim.js';
import { collectorIdentity, CustodyLog, readCustodyLog } from '../evidence/custody.js';
import { readManifestWithHash } from '../evidence/manifest.js';
import type { CollectionRequestRecord, CollectorIdentity, EvidenceStore } from '../evidence/types.js';
import { delivered, undelivered } from '../ingestion/receipt.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import type { AzureSourceAccess } from '../sources/types.js';
import { runCollectTask } from '../pipeline/collectTask.js';
import { sealRun } from '../pipeline/seal.js';
import { anchorSeal } from '../pipeline/anchors.js';
import { artifactsSealedDetails, collectionStartedDetails } from '../pipeline/collectRun.js';
import { planCollectTasks } from '../pipeline/plan.js';
import { runBudget } from '../pipeline/loadBudget.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTaskResult, SealResult } from '../pipeline/types.js';
import { AksEvidenceError } from '../util/errors.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import type { Clock } from '../util/time.js';
import { toActivityFailure } from './redact.js';
import type { CollectSourceInput, IngestEvidenceInput, IngestTableOutcome, ResolveClusterInput, SealEvidenceInput } from './types.js';

/**
 * The work of each activity, runtime-agnostic: functions/ registers thin handlers that build
 * an ActivityEnvironment from the app settings and call these. Tests call them directly with
 * loopback endpoints. Each step gets its own credentials in process and returns references.
 *
 * Errors: expected failures come back as data (gaps, failed task status); what is thrown is
 * worth a Durable retry, and is rethrown as an ActivityFailure with a redacted message, so no
 * SDK error text that might quote a request reaches orchestration history.
 */
export interface ActivityEnvironment {
  settings: AppSettings;
  /** The app's identity: ARM, AKS (Entra), Blob Storage, Logs Ingestion. */
  credential: TokenCredential;
  /** ARM client options (default endpoint: settings.armEndpoint). */
  arm?: ArmClientOptions;
  /** Open the run's bundle (default: Blob Storage per settings). */
  openStore?: (init: { runId: string; caseId: string; request: CollectionRequestRecord }) => Promise<EvidenceStore>;
  collector: CollectorIdentity;
  /** Logs Ingestion client options (tests: trust the emulator's CA). */
  ingestionClientOptions?: LogsIngestionClientOptions;
  /** How sources that need Azure reach Log Analytics / the diagnostic storage account (sovereign clouds, tests). */
  azure?: Pick<AzureSourceAccess, 'logs' | 'storage'>;
  /** The sources (default SOURCES). */
  registry?: SourceRegistry;
  clock?: Clock;
}

/** The environment of a real Functions worker: managed identity (user-assigned when AZURE_CLIENT_ID is set). */
export async function functionsActivityEnvironment(settings: AppSettings): Promise<ActivityEnvironment> {
  const clientId = settings.managedIdentityClientId;
  const collector = collectorIdentity({
    runtime: 'azure-functions',
    identity: clientId ? `managed-identity client id ${clientId}` : 'managed identity (system-assigned) or developer credential',
  });
  return {
    settings,
    credential: await defaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : undefined),
    collector: settings.hostName ? { ...collector, host: settings.hostName } : collector,
  };
}

function armOptions(env: ActivityEnvironment): ArmClientOptions {
  return { endpoint: env.settings.armEndpoint, ...env.arm };
}

export async function openStore(env: ActivityEnvironment, runId: string, caseId: string, request: CollectionRequestRecord): Promise<EvidenceStore> {
  if (env.openStore) return env.openStore({ runId, caseId, request });
  const { evidence } = env.settings;
  const legalHold = request.legalHold ?? env.settings.legalHoldDefault;
  const retentionDays = request.retentionDays ?? env.settings.retentionDaysDefault;
  return openEvidenceLocation(evidence.containerUrl, {
    caseId,
    runId,
    // Local runs (Azurite) use a connection string and create the container; in Azure, infra creates it with immutability.
    storage: evidence.connectionString ? { connectionString: evidence.connectionString } : { credential: env.credential },
    legalHold,
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    ...(env.clock ? { clock: env.clock } : {}),
  });
}

export async function step<T>(activity: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toActivityFailure(activity, error);
  }
}

/**
 * resolveCluster: claim the run's path (before anything else is written; refused when the path
 * holds anything this run did not write), resolve the facts, and record collection-started
 * with the request, the facts and the plan. Idempotent under retry: the claim is recognised by
 * the run's nonce, and collection-started is recorded once.
 */
export function resolveClusterStep(input: ResolveClusterInput, env: ActivityEnvironment): Promise<ClusterFacts> {
  return step('resolveCluster', async () => {
    const store = await openStore(env, input.runId, input.caseId, input.request);
    const claim = await claimRunPath(store, {
      runId: input.runId,
      caseId: input.caseId,
      nonce: input.claimNonce,
      claimedAt: input.startedAt,
      collector: env.collector,
      ...(input.previousAttempt ? { previousAttempt: input.previousAttempt } : {}),
    });
    const registry = env.registry ?? SOURCES;
    // Each step loads what only it needs (the Monitor clients, the ingestion client) when it runs.
    const { resolveCluster } = await import('../cluster/resolveCluster.js');
    const facts = await resolveCluster({
      cluster: input.cluster,
      access: registry.kubernetesAccess(input.request.sources),
      credential: env.credential,
      arm: armOptions(env),
      useAdminCredentials: env.settings.useAdminCredentials,
      requestBudget: runBudget(input.request.concurrency ?? env.settings.concurrency),
    });
    if (!(await readCustodyLog(store)).some((r) => r.step === 'collection-started')) {
      const tasks = planCollectTasks(input.request, facts, { registry, ...(input.podsPerShard ? { podsPerShard: input.podsPerShard } : {}) });
      const custody = new CustodyLog(store, { runId: input.runId, caseId: input.caseId, collector: env.collector, claim, ...(env.clock ? { clock: env.clock } : {}) });
      await custody.record('collection-started', collectionStartedDetails(input.request, facts, tasks, store.location, input.startedAt));
    }
    return facts;
  });
}

/** collectSource: one collect task with credentials built here; expected failures are in the result. */
export function collectSourceStep(input: CollectSourceInput, env: ActivityEnvironment): Promise<CollectTaskResult> {
  return step('collectSource', async () => {
    const abortSignal = AbortSignal.timeout(env.settings.taskTimeoutSeconds * 1000);
    const registry = env.registry ?? SOURCES;
    const needs = registry.get(input.task.source).needs ?? ['kubernetes'];
    // Credentials are built only for what the source reads (the audit log comes from Azure, not the API server).
    // This task's share of the cluster's load budget (the orchestrator keeps the running shares within it).
    const share = input.requestShare !== undefined && input.requestShare >= 1 ? input.requestShare : runBudget(input.request.concurrency ?? env.settings.concurrency);
    const kubeConfig = !needs.includes('kubernetes')
      ? new KubeConfig()
      : (
          await buildClusterKubeConfig({
            arm: createArmClients(env.credential, input.cluster.subscriptionId, armOptions(env)),
            cluster: input.cluster,
            credential: env.credential,
            authMode: input.authMode === 'local-accounts' ? 'local-accounts' : 'entra',
            useAdmin: env.settings.useAdminCredentials,
            abortSignal,
          })
        ).kubeConfig;
    if (needs.includes('kubernetes')) KubeApi.for(kubeConfig).budget.limit = share;
    const azure: AzureSourceAccess | undefined = needs.includes('azure')
      ? { credential: env.credential, ...(input.audit ? { auditLog: input.audit } : {}), ...env.azure }
      : undefined;
    const store = await openStore(env, input.runId, input.caseId, input.request);
    let result: CollectTaskResult;
    try {
      result = await runCollectTask(input.task, {
        store,
        kubeConfig,
        registry,
        ...(azure ? { azure } : {}),
        runId: input.runId,
        caseId: input.caseId,
        request: input.request,
        cluster: input.identity,
        concurrency: share,
        abortSignal,
        ...(env.clock ? { clock: env.clock } : {}),
      });
    } finally {
      // The share is held until the last connection has closed (an exec's socket closes after its
      // status): the next wave's activities start only once this one's requests are gone.
      if (needs.includes('kubernetes')) await KubeApi.for(kubeConfig).close();
    }
    const custody = new CustodyLog(store, { runId: input.runId, caseId: input.caseId, collector: env.collector, ...(env.clock ? { clock: env.clock } : {}) });
    // A retried task that returned its own finished summary records it once: the chain already
    // holds its record unless the earlier attempt died between the summary and the record.
    const summary = result.artifacts.find((a) => a.path.endsWith('.summary.json'));
    const recorded =
      result.reused === true &&
      (await readCustodyLog(store)).some(
        (r) =>
          r.step === 'artifacts-sealed' &&
          (r.details.artifacts as { path?: string; sha256?: string }[] | undefined)?.some((a) => a.path === summary?.path && a.sha256 === summary?.sha256),
      );
    if (!recorded) await custody.record('artifacts-sealed', artifactsSealedDetails(input.task, result));
    return result;
  });
}

/**
 * sealEvidence: the manifest, written once after every collect task finished, its
 * manifest-sealed custody record, then the anchors outside the bundle: the RFC 3161 timestamp
 * (when AKS_EVIDENCE_TSA_URL is set) and the Log Analytics custody row (when ingestion is
 * configured). A retried seal returns the seal its custody chain records and re-tries anchors
 * that are missing.
 */
export function sealEvidenceStep(input: SealEvidenceInput, env: ActivityEnvironment): Promise<SealResult> {
  return step('sealEvidence', async () => {
    const store = await openStore(env, input.runId, input.caseId, input.request);
    const custody = new CustodyLog(store, { runId: input.runId, caseId: input.caseId, collector: env.collector, ...(env.clock ? { clock: env.clock } : {}) });
    const sealed = await sealRun({
      store,
      runId: input.runId,
      caseId: input.caseId,
      request: input.request,
      facts: input.facts,
      results: input.results,
      collector: env.collector,
      startedAt: input.startedAt,
      custody,
      registry: env.registry ?? SOURCES,
      ...(input.sealedAt ? { endedAt: input.sealedAt } : {}),
      ...(env.clock ? { clock: env.clock } : {}),
      // The run's report, into the bundle before the manifest (the incident comment links it).
      beforeManifest: async (s, manifest) => (await import('../report/seal.js')).addSealedReport(s, manifest, env.clock ? { clock: env.clock } : {}),
    });
    const anchors = await anchorSeal({
      store,
      sealed,
      custody,
      ...(env.settings.tsaUrl ? { tsaUrl: env.settings.tsaUrl } : {}),
      ...(env.settings.ingestion
        ? { ingestion: { target: env.settings.ingestion, credential: env.credential, ...(env.ingestionClientOptions ? { clientOptions: env.ingestionClientOptions } : {}) } }
        : {}),
    });
    const { manifest: _manifest, ...result } = sealed;
    return { ...result, anchors };
  });
}

/** ingestEvidence: one table of the sealed bundle into Log Analytics; partial delivery is data. */
export function ingestEvidenceStep(input: IngestEvidenceInput, env: ActivityEnvironment): Promise<IngestTableOutcome> {
  return step('ingestEvidence', async () => {
    const target = env.settings.ingestion;
    if (!target) return { table: input.table, status: 'skipped', rowsSent: 0, rowsFailed: 0, detail: 'no ingestion target configured (AKS_EVIDENCE_INGESTION)' };
    const store = await openStore(env, input.runId, input.caseId, input.request);
    const { manifest, sha256 } = await readManifestWithHash(store);
    if (sha256 !== input.manifestSha256) {
      throw new AksEvidenceError(
        'ERR_MANIFEST_CHANGED',
        `the manifest in ${store.location} has sha256 ${sha256}, not the sealed ${input.manifestSha256}: refusing to ingest; investigate the bundle`,
      );
    }
    const { ingestTable } = await import('../ingestion/ingest.js');
    const receipt = await ingestTable({
      store,
      manifest,
      config: target,
      tables: (env.registry ?? SOURCES).tables,
      credential: env.credential,
      table: input.table,
      custody: new CustodyLog(store, { runId: input.runId, caseId: input.caseId, collector: env.collector, ...(env.clock ? { clock: env.clock } : {}) }),
      ...(env.ingestionClientOptions ? { clientOptions: env.ingestionClientOptions } : {}),
      ...(env.clock ? { clock: env.clock } : {}),
    });
    const report = receipt.tables[input.table];
    const counts = report ?? receipt;
    const status: IngestTableOutcome['status'] =
      report?.status === 'complete'
        ? 'ingested'
        : report?.status === 'partial'
          ? 'partial'
          : report?.status === 'not-configured' || report?.status === 'empty'
            ? 'skipped'
            : 'failed';
    return {
      table: input.table,
      status,
      rowsSent: delivered(counts),
      rowsFailed: undelivered(counts),
      receiptPath: receipt.path,
      ...(report?.status === 'not-configured' ? { detail: `table ${input.table} has no DCR stream in the ingestion target` } : {}),
      ...(receipt.error ? { detail: receipt.error.slice(0, 500) } : {}),
    };
  });
}
