import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { buildClusterRef } from '../../shared/cluster/clusterRef.js';
import type { CollectionRunInput, CollectionRunOutput, CollectSourceInput, RunCustomStatus, SealEvidenceInput } from '../../shared/orchestration/types.js';
import type { ClusterFacts } from '../../shared/cluster/facts.js';
import type { CollectTask, CollectTaskResult, SealResult } from '../../shared/pipeline/types.js';
import { ACTION, flatActions, History, replay, type ReplayResult } from './replay.js';

const START = new Date('2026-11-22T10:00:00.000Z');
const cluster = buildClusterRef('11111111-2222-3333-4444-555555555555', 'rg-prod', 'aks-prod');

function runInput(overrides: Partial<CollectionRunInput> = {}): CollectionRunInput {
  return {
    schemaVersion: 1,
    runId: '0123456789abcdef0123456789abcdef',
    cluster,
    request: { caseId: 'INC-7', sources: ['events', 'containerlogs', 'rbacbindings'], sinceSeconds: 86400 },
    trigger: { kind: 'http', receivedAt: START.toISOString() },
    podsPerShard: 250,
    ingest: false,
    ...overrides,
  };
}

const facts: ClusterFacts = {
  cluster: { server: 'https://aks-prod-dns.hcp.westeurope.azmk8s.io:443', name: 'aks-prod', resourceId: cluster.resourceId, kubernetesVersion: '1.30.4' },
  authMode: 'entra',
  localAccountsDisabled: true,
  privateCluster: false,
  addons: { omsagent: true },
  audit: { enabled: false, categories: [], destinations: [] },
  podCount: 600,
  gaps: [{ source: 'audit', reason: 'not-enabled', detail: 'Kubernetes audit logs are not enabled' }],
};

/** events, containerlogs 1-of-3 … 3-of-3 (600 pods / 250 per shard), rbacbindings. */
const EXPECTED_TASKS: CollectTask[] = [
  { source: 'events' },
  { source: 'containerlogs', shard: { index: 0, count: 3 } },
  { source: 'containerlogs', shard: { index: 1, count: 3 } },
  { source: 'containerlogs', shard: { index: 2, count: 3 } },
  { source: 'rbacbindings' },
];

function taskResult(task: CollectTask, status: CollectTaskResult['status'] = 'complete', records = 10): CollectTaskResult {
  const shard = task.shard ? `${task.shard.index + 1}-of-${task.shard.count}` : undefined;
  const base = `sources/${task.source}/${shard ?? 'all'}`;
  const table = task.source === 'containerlogs' ? 'kubelogs_CL' : task.source === 'events' ? 'kubeevents_CL' : 'rbacbindings_CL';
  return {
    source: task.source,
    ...(shard ? { shard } : {}),
    status,
    records,
    rawObjects: records,
    gapCount: status === 'complete' ? 0 : 1,
    actionCount: 0,
    apiRequests: 3,
    artifacts: [
      {
        path: `${base}.rows.ndjson.gz`,
        source: task.source,
        kind: 'rows',
        sha256: 'a'.repeat(64),
        bytes: 100,
        records,
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
        table,
      },
      { path: `${base}.summary.json`, source: task.source, kind: 'other', sha256: 'b'.repeat(64), bytes: 50, records: 1, contentType: 'application/json' },
    ],
    gapsPreview: status === 'complete' ? [] : [{ source: task.source, reason: 'forbidden', detail: 'may not list rolebindings' }],
    startedAt: START.toISOString(),
    endedAt: START.toISOString(),
  };
}

const seal: SealResult = {
  runId: runInput().runId,
  caseId: 'INC-7',
  location: 'http://127.0.0.1:10000/devstoreaccount1/evidence/INC-7/0123456789abcdef0123456789abcdef',
  manifestPath: 'manifest.json',
  manifestSha256: 'c'.repeat(64),
  records: { events: 10, containerlogs: 30, rbacbindings: 10 },
  gaps: { events: 0, containerlogs: 0, rbacbindings: 0 },
  artifactCount: 11,
  chainHead: 'd'.repeat(64),
  sealRecordSha256: 'e'.repeat(64),
  sealedAt: START.toISOString(),
};

/** History up to the fan-out: resolveCluster (id 0) completed, collect tasks 1..5 scheduled. */
function historyThroughFanOut(input: CollectionRunInput): History {
  const h = new History(START, 'collectEvidence', input);
  h.scheduled(0, 'resolveCluster').episode().completed(0, facts);
  EXPECTED_TASKS.forEach((_t, i) => h.scheduled(i + 1, 'collectSource'));
  return h.episode();
}

/** An action's input as the extension receives it (objects pass through; strings are JSON). */
function inputOf<T = any>(action: { input?: unknown } | undefined): T {
  const v = action?.input;
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}

const collectInputs = (r: ReplayResult) =>
  flatActions(r)
    .filter((a) => a.functionName === 'collectSource')
    .map((a) => inputOf<CollectSourceInput>(a));

describe('collectEvidence orchestrator, replayed through durable-functions', () => {
  it('first episode: resolves the cluster with retry, nothing else', async () => {
    const input = runInput();
    const r = await replay(collectEvidenceOrchestrator, new History(START, 'collectEvidence', input).snapshot(), input);
    expect(r.isDone).toBe(false);
    expect(flatActions(r)).toHaveLength(1);
    const [resolve] = flatActions(r);
    expect(resolve?.actionType).toBe(ACTION.CallActivityWithRetry);
    expect(resolve?.functionName).toBe('resolveCluster');
    // The claim nonce is deterministic under replay (no nonce in this older-style input: derived from the run id).
    const first = inputOf<{ claimNonce: string }>(resolve);
    expect(first).toEqual({
      runId: input.runId,
      caseId: 'INC-7',
      cluster,
      request: input.request,
      claimNonce: expect.stringMatching(/^[0-9a-f]{32}$/),
      startedAt: START.toISOString(),
      podsPerShard: 250,
    });
    const again = await replay(collectEvidenceOrchestrator, new History(START, 'collectEvidence', input).snapshot(), input);
    expect(inputOf<{ claimNonce: string }>(flatActions(again)[0]).claimNonce).toBe(first.claimNonce);
    // A nonce drawn at start is passed as it is.
    const withNonce = { ...input, claimNonce: 'ab'.repeat(32) };
    const r2 = await replay(collectEvidenceOrchestrator, new History(START, 'collectEvidence', withNonce).snapshot(), withNonce);
    expect(inputOf(flatActions(r2)[0])).toMatchObject({ claimNonce: 'ab'.repeat(32) });
    expect(resolve?.retryOptions).toMatchObject({ firstRetryIntervalInMilliseconds: 5000, maxNumberOfAttempts: 3 });
    expect((r.customStatus as RunCustomStatus).phase).toBe('resolving');
  });

  it('fans out one collectSource per planned task, container logs sharded by pod pages', async () => {
    const input = runInput();
    const h = new History(START, 'collectEvidence', input).scheduled(0, 'resolveCluster').episode().completed(0, facts);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(r.isDone).toBe(false);
    const collects = collectInputs(r);
    expect(collects.map((c) => c.task)).toEqual(EXPECTED_TASKS);
    for (const c of collects) {
      expect(c).toMatchObject({ runId: input.runId, caseId: 'INC-7', cluster, authMode: 'entra', identity: facts.cluster });
    }
    expect(flatActions(r).every((a) => a.functionName !== 'sealEvidence')).toBe(true);
    const status = r.customStatus as RunCustomStatus;
    expect(status).toMatchObject({ phase: 'collecting', tasks: { total: 5, finished: 0, failed: 0 }, auditLog: 'not-enabled', podCount: 600, runGaps: 1 });
    expect(status.gaps).toEqual([{ source: 'audit', reason: 'not-enabled', detail: 'Kubernetes audit logs are not enabled' }]);
    expect(status.sources?.containerlogs).toMatchObject({ status: 'running', tasks: '0/3' });
  });

  it('seals only after every collect task finished, with every result in plan order, then returns the summary', async () => {
    const input = runInput();
    const h = historyThroughFanOut(input);
    // Four of five finish, out of order: no seal yet.
    h.completed(3, taskResult(EXPECTED_TASKS[2] as CollectTask)).completed(1, taskResult(EXPECTED_TASKS[0] as CollectTask));
    h.completed(5, taskResult(EXPECTED_TASKS[4] as CollectTask)).completed(2, taskResult(EXPECTED_TASKS[1] as CollectTask));
    const partial = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(partial.isDone).toBe(false);
    expect(flatActions(partial).some((a) => a.functionName === 'sealEvidence')).toBe(false);

    h.episode().completed(4, taskResult(EXPECTED_TASKS[3] as CollectTask));
    const all = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const sealAction = flatActions(all).find((a) => a.functionName === 'sealEvidence');
    expect(sealAction?.actionType).toBe(ACTION.CallActivityWithRetry);
    const sealInput = inputOf<SealEvidenceInput>(sealAction);
    expect(sealInput.results.map((x) => `${x.source}${x.shard ? ` ${x.shard}` : ''}`)).toEqual([
      'events',
      'containerlogs 1-of-3',
      'containerlogs 2-of-3',
      'containerlogs 3-of-3',
      'rbacbindings',
    ]);
    expect(sealInput.facts).toEqual(facts);
    expect(sealInput.startedAt).toBe(START.toISOString());
    expect((all.customStatus as RunCustomStatus).phase).toBe('sealing');

    h.scheduled(6, 'sealEvidence').episode().completed(6, seal);
    const done = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(done.isDone).toBe(true);
    const output = done.output as CollectionRunOutput;
    expect(output.seal).toEqual(seal);
    expect(output.tasks).toEqual({ total: 5, complete: 5, partial: 0, failed: 0, skipped: 0 });
    // Audit logs off is a run-level gap: the run is sealed but not "complete".
    expect(output.outcome).toBe('partial');
    expect(output.ingestion).toBeUndefined();
    expect(done.customStatus).toMatchObject({ phase: 'completed', manifest: { location: seal.location, sha256: seal.manifestSha256 } });
  });

  it('a source that fails comes back as a status object: the others are still sealed', async () => {
    const input = runInput();
    const h = historyThroughFanOut(input);
    EXPECTED_TASKS.forEach((t, i) => h.completed(i + 1, taskResult(t, t.source === 'rbacbindings' ? 'failed' : 'complete', t.source === 'rbacbindings' ? 0 : 10)));
    h.scheduled(6, 'sealEvidence').episode().completed(6, seal);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const sealInput = inputOf<SealEvidenceInput>(flatActions(r).find((a) => a.functionName === 'sealEvidence'));
    expect(sealInput.results).toHaveLength(5);
    expect(sealInput.results.filter((x) => x.status === 'complete')).toHaveLength(4);
    expect(r.isDone).toBe(true);
    const output = r.output as CollectionRunOutput;
    expect(output.tasks.failed).toBe(1);
    expect(output.failedTasks).toEqual([{ source: 'rbacbindings', detail: 'may not list rolebindings' }]);
  });

  it('a retried activity: TaskFailed, retry timer, TaskCompleted on the next attempt — no extra actions, same seal', async () => {
    const input = runInput();
    const h = historyThroughFanOut(input);
    h.completed(1, taskResult(EXPECTED_TASKS[0] as CollectTask));
    h.failed(2, "Activity function 'collectSource' failed: collectSource: HTTP 503 from the API server");
    h.timerCreated(6, new Date(START.getTime() + 10_000));
    h.completed(3, taskResult(EXPECTED_TASKS[2] as CollectTask))
      .completed(4, taskResult(EXPECTED_TASKS[3] as CollectTask))
      .completed(5, taskResult(EXPECTED_TASKS[4] as CollectTask));
    h.episode(5_000)
      .timerFired(6, new Date(START.getTime() + 10_000))
      .scheduled(7, 'collectSource');
    const waiting = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(waiting.isDone).toBe(false);
    expect(flatActions(waiting).some((a) => a.functionName === 'sealEvidence')).toBe(false);
    // The extension reschedules a retried activity itself: the worker emits no new action for it.
    expect(flatActions(waiting).filter((a) => a.functionName === 'collectSource')).toHaveLength(5);

    const retried = { ...taskResult(EXPECTED_TASKS[1] as CollectTask), records: 42 };
    h.episode().completed(7, retried);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const sealInput = inputOf<SealEvidenceInput>(flatActions(r).find((a) => a.functionName === 'sealEvidence'));
    expect(sealInput.results[1]).toEqual(retried);
    expect(sealInput.results.every((x) => x.status === 'complete')).toBe(true);
  });

  it('an activity that still fails after every retry becomes a failed-task result; the rest finish and are sealed', async () => {
    const input = runInput();
    const h = historyThroughFanOut(input);
    // Task 4 (containerlogs 3-of-3) exhausts its 3 attempts while others are still running.
    h.completed(1, taskResult(EXPECTED_TASKS[0] as CollectTask));
    h.failed(4, 'collectSource: ERR_CLUSTER_CREDENTIALS attempt 1').timerCreated(6, START);
    h.episode().timerFired(6, START).scheduled(7, 'collectSource');
    h.episode().failed(7, 'collectSource: ERR_CLUSTER_CREDENTIALS attempt 2').timerCreated(8, START);
    h.episode().timerFired(8, START).scheduled(9, 'collectSource');
    // As in durable-functions' own retry histories, the last failure is followed by a timer too;
    // when it fires with no attempts left, the task fails.
    h.episode().failed(9, 'collectSource: ERR_CLUSTER_CREDENTIALS attempt 3').timerCreated(10, START);
    h.episode().timerFired(10, START);
    const midway = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(midway.isDone).toBe(false);
    expect(midway.error).toBeUndefined();
    expect(flatActions(midway).some((a) => a.functionName === 'sealEvidence')).toBe(false);

    h.episode()
      .completed(2, taskResult(EXPECTED_TASKS[1] as CollectTask))
      .completed(5, taskResult(EXPECTED_TASKS[4] as CollectTask));
    h.episode().completed(3, taskResult(EXPECTED_TASKS[2] as CollectTask));
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(r.error).toBeUndefined();
    const actions = flatActions(r);
    expect(actions.filter((a) => a.functionName === 'collectSource')).toHaveLength(5);
    const sealInput = inputOf<SealEvidenceInput>(actions.find((a) => a.functionName === 'sealEvidence'));
    expect(sealInput.results.map((x) => x.status)).toEqual(['complete', 'complete', 'complete', 'failed', 'complete']);
    const failed = sealInput.results[3] as CollectTaskResult;
    expect(failed).toMatchObject({ source: 'containerlogs', shard: '3-of-3', records: 0, artifacts: [] });
    expect(failed.gapsPreview[0]?.reason).toBe('retries-exhausted');
    expect(failed.gapsPreview[0]?.detail).toContain('attempt 3');
  });

  it('keeps the run within the cluster load budget: waves whose shares add up to no more than the budget, each activity told its share', async () => {
    // Budget 4: every task's share is 1 (a quarter of 4 for pod-sharded sources, an eighth rounded up for lists), so 4 run at once.
    const input = runInput({ request: { ...runInput().request, concurrency: 4 } });
    const h = new History(START, 'collectEvidence', input).scheduled(0, 'resolveCluster').episode().completed(0, facts);
    const first = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const wave1 = collectInputs(first);
    expect(wave1.map((c) => c.task)).toEqual(EXPECTED_TASKS.slice(0, 4));
    expect(wave1.map((c) => c.requestShare)).toEqual([1, 1, 1, 1]);

    // The first wave finishes (out of order): the second starts, and nothing is scheduled twice.
    EXPECTED_TASKS.slice(0, 4).forEach((_t, i) => h.scheduled(i + 1, 'collectSource'));
    h.episode();
    [3, 1, 4, 2].forEach((id) => h.completed(id, taskResult(EXPECTED_TASKS[id - 1] as CollectTask)));
    const second = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(collectInputs(second).map((c) => c.task)).toEqual(EXPECTED_TASKS);
    expect(flatActions(second).some((a) => a.functionName === 'sealEvidence')).toBe(false);
    expect((second.customStatus as RunCustomStatus).tasks).toEqual({ total: 5, finished: 4, failed: 0 });

    h.scheduled(5, 'collectSource')
      .episode()
      .completed(5, taskResult(EXPECTED_TASKS[4] as CollectTask));
    const done = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const sealInput = inputOf<SealEvidenceInput>(flatActions(done).find((a) => a.functionName === 'sealEvidence'));
    expect(sealInput.results.map((r) => r.source)).toEqual(EXPECTED_TASKS.map((t) => t.source));
    expect(collectInputs(done)).toHaveLength(5);
  });

  it('at the default budget (32) a plan whose shares fit runs in one wave', async () => {
    const input = runInput();
    const h = new History(START, 'collectEvidence', input).scheduled(0, 'resolveCluster').episode().completed(0, facts);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    // containerlogs shards take 8 each, the lists 4: 4 + 3 × 8 + 4 = 32.
    expect(collectInputs(r).map((c) => c.requestShare)).toEqual([4, 8, 8, 8, 4]);
  });

  it('ingests each table that received rows, after sealing, when ingestion is configured', async () => {
    const input = runInput({ ingest: true });
    const h = historyThroughFanOut(input);
    EXPECTED_TASKS.forEach((t, i) => h.completed(i + 1, taskResult(t, 'complete', t.source === 'rbacbindings' ? 0 : 5)));
    h.scheduled(6, 'sealEvidence').episode().completed(6, seal);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    const ingest = flatActions(r).filter((a) => a.functionName === 'ingestEvidence');
    // rbacbindings had no rows: no activity for its table.
    expect(ingest.map((a) => inputOf<{ table: string }>(a).table)).toEqual(['kubeevents_CL', 'kubelogs_CL']);
    expect(ingest.every((a) => inputOf<{ manifestSha256: string }>(a).manifestSha256 === seal.manifestSha256)).toBe(true);
    expect((r.customStatus as RunCustomStatus).phase).toBe('ingesting');

    h.scheduled(7, 'ingestEvidence').scheduled(8, 'ingestEvidence').episode();
    h.completed(7, { table: 'kubeevents_CL', status: 'ingested', rowsSent: 5, rowsFailed: 0 });
    h.completed(8, { table: 'kubelogs_CL', status: 'partial', rowsSent: 10, rowsFailed: 5 });
    const done = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(done.isDone).toBe(true);
    expect((done.output as CollectionRunOutput).ingestion).toEqual({
      tables: [
        { table: 'kubeevents_CL', status: 'ingested', rowsSent: 5, rowsFailed: 0 },
        { table: 'kubelogs_CL', status: 'partial', rowsSent: 10, rowsFailed: 5 },
      ],
      rowsSent: 15,
      rowsFailed: 5,
    });
  });

  it('is deterministic: the same history gives the same actions, status and output, twice', async () => {
    const input = runInput({ ingest: true });
    const h = historyThroughFanOut(input);
    h.completed(2, taskResult(EXPECTED_TASKS[1] as CollectTask))
      .failed(4, 'boom')
      .timerCreated(6, START);
    const history = h.snapshot();
    const first = await replay(collectEvidenceOrchestrator, history, input);
    const second = await replay(collectEvidenceOrchestrator, history, input);
    expect(JSON.stringify(second)).toBe(JSON.stringify(first));

    const full = historyThroughFanOut(input);
    EXPECTED_TASKS.forEach((t, i) => full.completed(i + 1, taskResult(t)));
    full.scheduled(6, 'sealEvidence').episode().completed(6, seal);
    const a = await replay(collectEvidenceOrchestrator, full.snapshot(), input);
    const b = await replay(collectEvidenceOrchestrator, full.snapshot(), input);
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    // Time comes from the history, not the wall clock.
    expect((a.customStatus as RunCustomStatus).updatedAt).toBe(new Date(START.getTime() + 3000).toISOString());
  });

  it('nothing to collect (only the audit log was asked for, and it is not exported): seals straight away', async () => {
    const input = runInput({ request: { caseId: 'INC-7', sources: ['audit'], sinceSeconds: 86400 } });
    const h = new History(START, 'collectEvidence', input).scheduled(0, 'resolveCluster').episode().completed(0, facts);
    const r = await replay(collectEvidenceOrchestrator, h.snapshot(), input);
    expect(r.error).toBeUndefined();
    const actions = flatActions(r).map((a) => a.functionName);
    expect(actions).toEqual(['resolveCluster', 'sealEvidence']);
    expect(inputOf<SealEvidenceInput>(flatActions(r)[1]).results).toEqual([]);
  });
});
