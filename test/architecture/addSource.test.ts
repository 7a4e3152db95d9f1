/**
 * "Add a source in three steps" (docs/architecture.md), proved: a toy source is one folder
 * (./configmapkeys: source.ts and table.ts) and one registry line. With nothing else touched it
 * is access-reviewed, collected, sealed, verified, ingested into its own table, and gets its
 * table, DCR stream, timeline leg and collector-role entry in the generated infrastructure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTimelineQuery } from '../../infra/kql.js';
import { collectorPermissions, workstationRoleDefinition } from '../../infra/roles.js';
import { buildTemplate } from '../../infra/template.js';
import { reviewSourceAccess } from '../../shared/cluster/accessReview.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { parseIngestionTarget } from '../../shared/ingestion/config.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { ingestBundle } from '../../shared/ingestion/ingest.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCE_DEFINITIONS, SourceRegistry } from '../../shared/sources/registry.js';
import { configMapKeysSource } from './configmapkeys/source.js';
import { nestedWith, resourcesOfType, type Template } from '../infra/templateModel.js';

// The one registry line.
const registry = new SourceRegistry([...SOURCE_DEFINITIONS, configMapKeysSource]);

describe('a new source: one folder, one registry line', () => {
  let cluster: FixtureCluster;
  let emulator: LogsIngestionEmulator;
  let dir: string;
  let expectedKeys: number;

  beforeAll(async () => {
    const scenario = await loadScenario('compromise');
    cluster = await startFixtureCluster(scenario, {});
    expectedKeys = cluster.objectsOf('v1', 'ConfigMap').reduce((n, cm) => n + Object.keys((cm as { data?: object }).data ?? {}).length, 0);
    emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(registry.tables.tables) });
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-toy-'));
  });
  afterAll(async () => {
    await cluster?.stop();
    await emulator?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('is access-reviewed, collected, sealed, verified and ingested into its own table', async () => {
    const kubeConfig = fixtureKubeConfig(cluster);
    const review = await reviewSourceAccess(kubeConfig, registry.kubernetesAccess(['configmapkeys']));
    expect(review.access.configmapkeys).toEqual({ allowed: true, missing: [] });

    expect(expectedKeys).toBeGreaterThan(5);
    const store = await openLocalBundle(dir, 'run-toy');
    const sealed = await collectRun({
      kubeConfig,
      store,
      runId: 'run-toy',
      request: { caseId: 'case-toy', sources: registry.resolveNames(['configmapkeys', 'events']), sinceSeconds: 3600 },
      collector: collectorIdentity({ runtime: 'test' }),
      facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
      registry,
    });
    const toy = sealed.manifest.sources.configmapkeys;
    expect(toy).toMatchObject({ status: 'complete', records: expectedKeys });
    const rows = sealed.manifest.artifacts.filter((a) => a.kind === 'rows' && a.table === 'configmapkeys_CL');
    expect(rows).toHaveLength(1);
    const keys: string[] = [];
    for await (const row of readNdjson(store, rows[0]!.path)) keys.push(String((row as { key: string }).key));
    expect(keys).toContain('DATABASE_URL');
    expect((await verifyBundle(store)).ok).toBe(true);

    const receipt = await ingestBundle({
      store,
      manifest: sealed.manifest,
      config: parseIngestionTarget(emulator.targetDocument),
      tables: registry.tables,
      credential: emulator.credential,
      clientOptions: emulator.clientOptions,
    });
    expect(receipt.tables['configmapkeys_CL']).toMatchObject({ status: 'complete', rowsAcknowledged: expectedKeys });
    expect(emulator.acceptedCount('configmapkeys_CL')).toBe(expectedKeys);
  });

  test('gets its table, DCR stream, timeline leg and collector-role entry in the generated infrastructure', () => {
    const template = JSON.parse(JSON.stringify(buildTemplate(registry))) as Template;
    const { template: workspace } = nestedWith(template, 'Microsoft.OperationalInsights/workspaces/tables');
    const tables = workspace.resources.filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables');
    expect(tables.map((r) => (r.properties as { schema: { name: string } }).schema.name)).toContain('configmapkeys_CL');
    const streams = resourcesOfType(template, 'Microsoft.Insights/dataCollectionRules').flatMap((r) =>
      Object.keys((r.properties as { streamDeclarations: object }).streamDeclarations),
    );
    expect(streams).toContain('Custom-configmapkeys_CL');
    expect(buildTimelineQuery(registry.tables.tables)).toContain('Source = "configmapkeys_CL", EventType = "ConfigMapKey"');

    const role = collectorPermissions(registry).documented.find((p) => p.action === 'Microsoft.ContainerService/managedClusters/configmaps/read');
    expect(role?.neededBy).toMatch(/configmapkeys/);
    expect(JSON.stringify(template)).toContain('Microsoft.ContainerService/managedClusters/configmaps/read');
    expect(workstationRoleDefinition(registry).DataActions).toContain('Microsoft.ContainerService/managedClusters/configmaps/read');
  });
});
