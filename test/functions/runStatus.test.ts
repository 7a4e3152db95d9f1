import { toActivityFailure } from '../../shared/orchestration/redact.js';
import { redactSecrets } from '../../shared/util/redact.js';
import { runStatusView } from '../../shared/orchestration/runStatus.js';
import type { CollectionRunInput } from '../../shared/orchestration/types.js';
import { buildClusterRef } from '../../shared/cluster/clusterRef.js';

const input: CollectionRunInput = {
  schemaVersion: 1,
  runId: 'a'.repeat(32),
  cluster: buildClusterRef('11111111-2222-3333-4444-555555555555', 'rg', 'aks'),
  request: { caseId: 'INC-1', sources: ['events'], sinceSeconds: 3600 },
  trigger: { kind: 'http', receivedAt: '2026-11-22T10:00:00.000Z' },
  ingest: false,
};

describe('run status view', () => {
  it('reads input given back as JSON text', () => {
    const view = runStatusView({
      instanceId: input.runId,
      runtimeStatus: 'Running',
      createdTime: '2026-11-22T10:00:00Z',
      lastUpdatedTime: new Date('2026-11-22T10:00:05Z'),
      input: JSON.stringify(input),
      customStatus: JSON.stringify({ phase: 'collecting', updatedAt: '2026-11-22T10:00:04.000Z' }),
    });
    expect(view).toEqual({
      runId: input.runId,
      runtimeStatus: 'Running',
      createdTime: '2026-11-22T10:00:00.000Z',
      lastUpdatedTime: '2026-11-22T10:00:05.000Z',
      caseId: 'INC-1',
      clusterResourceId: input.cluster.resourceId,
      sources: ['events'],
      trigger: input.trigger,
      progress: { phase: 'collecting', updatedAt: '2026-11-22T10:00:04.000Z' },
    });
  });

  it('a run that preserves: sealed evidence from the input it continued as new with, the window from the custom status', () => {
    const seal = {
      runId: input.runId,
      caseId: 'INC-1',
      location: 'https://acct.blob.core.windows.net/evidence/INC-1/run',
      manifestPath: 'manifest.json',
      manifestSha256: 'c'.repeat(64),
      records: { events: 3 },
      gaps: { events: 0 },
      artifactCount: 4,
      sealedAt: '2026-11-22T10:01:00.000Z',
    };
    const collection = {
      runId: input.runId,
      caseId: 'INC-1',
      clusterResourceId: input.cluster.resourceId,
      startedAt: '2026-11-22T10:00:00.000Z',
      endedAt: '2026-11-22T10:01:00.000Z',
      outcome: 'complete' as const,
      seal,
      tasks: { total: 1, complete: 1, partial: 0, failed: 0, skipped: 0 },
      failedTasks: [],
    };
    const totals = { segments: 2, logLines: 40, events: 7, changes: 3, gaps: 0, lost: 0, apiRequests: 60, notIngested: 0 };
    const preservation = { state: 'preserving' as const, windowId: 'w1', endsAt: '2026-11-23T10:01:00.000Z', totals, stretches: 2, generation: 1 };
    const view = runStatusView({
      instanceId: input.runId,
      runtimeStatus: 'Running',
      createdTime: '2026-11-22T10:00:00Z',
      lastUpdatedTime: '2026-11-22T10:10:00Z',
      input: {
        ...input,
        request: { ...input.request, preserveForSeconds: 86400 },
        preservation: { collection, authMode: 'entra', totals, stretches: 2, generation: 1, failures: 0 },
      },
      customStatus: { phase: 'preserving', updatedAt: '2026-11-22T10:10:00.000Z', preservation },
    });
    expect(view).toMatchObject({
      runtimeStatus: 'Running',
      preserveForSeconds: 86400,
      preservation,
      evidence: { location: seal.location, manifestSha256: seal.manifestSha256 },
      result: { outcome: 'complete' },
    });
  });

  it('a failed run shows its error, redacted', () => {
    const view = runStatusView({
      instanceId: input.runId,
      runtimeStatus: 'Failed',
      createdTime: '2026-11-22T10:00:00Z',
      lastUpdatedTime: '2026-11-22T10:01:00Z',
      input,
      output: "Orchestrator function 'collectEvidence' failed: request with Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl refused",
    });
    expect(view.error).toContain("Orchestrator function 'collectEvidence' failed");
    expect(view.error).not.toContain('eyJhbGci');
    expect(view.evidence).toBeUndefined();
  });
});

describe('redaction of text bound for history, logs and answers', () => {
  it.each([
    ['Authorization: Bearer abc.def-ghi_jkl', 'abc.def-ghi_jkl'],
    ['token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here', 'eyJhbGciOiJSUzI1NiJ9'],
    ['https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig=AbCdEf%3D&se=2026', 'AbCdEf'],
    ['DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5;EndpointSuffix=core.windows.net', 'c2VjcmV0a2V5'],
    ['https://app.azurewebsites.net/runtime/webhooks/durabletask/instances/x?taskHub=h&code=SYSTEMKEY123', 'SYSTEMKEY123'],
    ['users:\n- user:\n    token: kubetoken123\n    client-key-data: LS0tS0VZ', 'kubetoken123'],
    ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----', 'MIIB'],
    ['Request cannot be constructed from a URL that includes credentials: https://alice:hunter2@10.0.0.1:443/version', 'hunter2'],
    ['request to https://proxy.example/api/v1/pods?access_token=abc123def failed', 'abc123def'],
    ['{"requiredQueryStringParameters":"code=SYSTEMKEY456"}', 'code='],
  ])('removes the secret from %j', (text, secret) => {
    expect(redactSecrets(text)).not.toContain(secret);
  });

  it('activity failures keep a stable code and a bounded, redacted first lines; no cause chain', () => {
    const cause = Object.assign(new Error('GET failed\nAuthorization: Bearer s3cr3t-token-value'), { code: 'ERR_KUBE_API' });
    const failure = toActivityFailure('collectSource', cause);
    expect(failure.code).toBe('ERR_KUBE_API');
    expect(failure.message).toBe('collectSource: GET failed Authorization: Bearer <redacted>');
    expect(failure.cause).toBeUndefined();
    expect(toActivityFailure('x', Object.assign(new Error('y'), { code: 'ENOTFOUND' })).code).toBe('ERR_ACTIVITY');
  });
});
