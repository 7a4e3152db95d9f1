import { logs } from '@opentelemetry/api-logs';
import { shutdownAzureMonitor } from '@azure/monitor-opentelemetry';
import { startTelemetry } from '../../functions/telemetry.js';
import { activityInputAttributes, activityResultAttributes, attributesSuffix, cleanAttributes } from '../../shared/orchestration/telemetry.js';

describe('run attributes for telemetry', () => {
  test('from activity inputs: run, case, cluster; collect tasks add source and shard; ingest adds the table', () => {
    const cluster = { resourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c' };
    expect(
      activityInputAttributes('collectSource', {
        runId: 'r1',
        caseId: 'INC-1',
        cluster,
        task: { source: 'containerlogs', shard: { index: 2, count: 8 } },
        request: { sources: ['x'] },
      }),
    ).toEqual({
      RunId: 'r1',
      CaseId: 'INC-1',
      ClusterResourceId: cluster.resourceId,
      Source: 'containerlogs',
      Shard: '3-of-8',
    });
    expect(activityInputAttributes('sealEvidence', { runId: 'r1', caseId: 'INC-1', facts: { cluster } })).toMatchObject({ ClusterResourceId: cluster.resourceId });
    expect(activityInputAttributes('ingestEvidence', { runId: 'r1', caseId: 'INC-1', clusterResourceId: cluster.resourceId, table: 'kubelogs_CL' })).toMatchObject({
      Table: 'kubelogs_CL',
    });
    expect(activityResultAttributes('collectSource', { status: 'partial', records: 12, gapCount: 1, artifacts: [{ path: 'x' }] })).toEqual({
      Outcome: 'partial',
      Records: 12,
      Gaps: 1,
    });
  });

  test('only known scalar attributes, bounded and redacted', () => {
    const a = cleanAttributes({ RunId: 'r', CaseId: `https://alice:hunter2@x.example/?sig=abc`, Secret: 'nope', Records: Number.NaN, Gaps: 2, Source: { x: 1 } });
    expect(a).toEqual({ RunId: 'r', CaseId: 'https://<redacted>@x.example/?<redacted>', Gaps: 2 });
    expect(attributesSuffix(a)).toBe(' [RunId=r CaseId=https://<redacted>@x.example/?<redacted> Gaps=2]');
    expect(cleanAttributes({ RunId: 'x'.repeat(10_000) }).RunId).toHaveLength(512);
  });
});

describe('startTelemetry', () => {
  test('without a connection string nothing starts: records go nowhere but the host channel', async () => {
    expect(await startTelemetry({})).toBe(false);
  });

  test('with one, the Azure Monitor distro registers the global logger provider the app emits to', async () => {
    const before = logs.getLoggerProvider();
    const started = await startTelemetry({
      APPLICATIONINSIGHTS_CONNECTION_STRING: 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1:9/',
    });
    try {
      expect(started).toBe(true);
      expect(logs.getLoggerProvider()).not.toBe(before);
      expect(logs.getLoggerProvider().constructor.name).toBe('LoggerProvider');
    } finally {
      await shutdownAzureMonitor();
    }
  });
});
