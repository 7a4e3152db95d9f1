/**
 * The whole path: the compromise scenario on the fixture Kubernetes API server, collected by
 * the real pipeline into a local bundle, then ingested into the Logs Ingestion emulator with
 * strict column checking. Every row of every table in the manifest lands exactly once; the
 * bundle still verifies afterwards.
 */
import { collectorIdentity, CustodyLog } from '../../shared/evidence/custody.js';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { runCollect } from '../../shared/cli/collect.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { parseIngestionTarget } from '../../shared/ingestion/config.js';
import { ingestBundle, rowsArtifactsByTable } from '../../shared/ingestion/ingest.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startLogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';

test('compromise scenario: collect → seal → ingest, every row of every table accounted for and landed once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ingest-pipeline-'));
  const cluster = await startFixtureCluster(await loadScenario('compromise'), {});
  const emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
  try {
    const kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfigYaml);
    const io = { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, cwd: dir };
    const outcome = await runCollect({ out: join(dir, 'evidence'), case: 'case-pipeline', quiet: true }, io, { kubeConfig: kc, clusterName: 'simulated' });
    const manifest = outcome.sealed.manifest;
    const store = await openEvidenceLocation(fileURLToPath(outcome.sealed.location));
    // Each attempt's receipt is recorded in the run's custody chain (verify refuses a receipt the chain does not vouch for).
    const custody = new CustodyLog(store, { runId: manifest.runId, caseId: manifest.caseId, collector: collectorIdentity({ runtime: 'test' }) });

    const expected = new Map([...rowsArtifactsByTable(manifest)].map(([t, refs]) => [t, refs.reduce((n, a) => n + a.records, 0)]));
    expect(expected.size).toBeGreaterThanOrEqual(8);
    for (const t of ['kubelogs_CL', 'kubeevents_CL', 'commandhistory_CL', 'suspiciouspods_CL', 'rbacbindings_CL', 'cronjobs_CL']) expect(expected.get(t)).toBeGreaterThan(0);

    const receipt = await ingestBundle({
      store,
      manifest,
      config: parseIngestionTarget(emulator.targetDocument),
      tables: SOURCES.tables,
      credential: emulator.credential,
      clientOptions: emulator.clientOptions,
      mapping: { unknownColumns: 'error' },
      custody,
    });
    expect(receipt.status).toBe('complete');
    for (const [table, rows] of expected) {
      expect({ table, ...receipt.tables[table] }).toMatchObject({ table, status: rows ? 'complete' : 'empty', rowsExpected: rows, rowsAcknowledged: rows, rowsFailed: 0 });
      expect(receipt.tables[table]!.invalidValues).toEqual({});
      const landed = emulator.accepted(table);
      expect(landed.length).toBe(rows);
      expect(new Set(landed.map((r) => r['RecordId'])).size).toBe(rows);
      for (const r of landed) expect(r['RunId']).toBe(manifest.runId);
    }
    // Link columns point back at sealed artifacts.
    const paths = new Set(manifest.artifacts.map((a) => `${store.location}/${a.path}`));
    for (const r of emulator.accepted('kubelogs_CL').slice(0, 50)) expect(paths.has(String(r['EvidencePath']))).toBe(true);

    const again = await ingestBundle({
      store,
      manifest,
      config: parseIngestionTarget(emulator.targetDocument),
      tables: SOURCES.tables,
      credential: emulator.credential,
      clientOptions: emulator.clientOptions,
      custody,
    });
    expect(again).toMatchObject({ status: 'complete', rowsAcknowledged: 0, rowsSkipped: receipt.rowsAcknowledged, requests: 0 });

    const verified = await verifyBundle(store);
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
    // Two receipts, both vouched for by the chain; a receipt planted beside them is not.
    await store.writeArtifact('ingestion/receipt-0099.json', '{"forged":true}\n', { contentType: 'application/json' });
    const forged = await verifyBundle(store);
    expect(forged.ok).toBe(false);
    expect(forged.problems.join('\n')).toMatch(/FORGED\?: ingestion\/receipt-0099\.json is an ingestion receipt that no custody record vouches for/);
  } finally {
    await emulator.stop();
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
