/**
 * Online and offline agree: a run collected through the real pipeline (fixture API server →
 * local evidence bundle) holds findings rows, and `aks-evidence analyze <bundle>` on the raw
 * objects of that same bundle, without cluster access, reports the same findings.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { registerAnalyzeCommand } from '../../shared/cli/analyze.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

let cluster: FixtureCluster;
let dir: string;
let store: EvidenceStore;
let manifest: Manifest;

beforeAll(async () => {
  const scenario = await loadScenario('compromise');
  cluster = await startFixtureCluster(scenario, { maxPageSize: 5 });
  dir = await mkdtemp(join(tmpdir(), 'findings-bundle-'));
  store = await openLocalBundle(dir, 'run-f');
  const sealed = await collectRun({
    kubeConfig: fixtureKubeConfig(cluster),
    store,
    runId: 'run-f',
    request: { caseId: 'case-f', sources: ['rbacfindings', 'workloadfindings'], sinceSeconds: 3600, requester: 'jest', reason: 'findings bundle test' },
    collector: collectorIdentity({ runtime: 'test' }),
    facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
  });
  manifest = sealed.manifest;
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function rowsOf(table: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const a of manifest.artifacts.filter((x) => x.kind === 'rows' && x.table === table)) {
    for await (const r of readNdjson(store, a.path)) out.push(r as Record<string, unknown>);
  }
  return out;
}

test('the bundle holds both findings tables, and analyze on its raw objects finds the same', async () => {
  expect(manifest.sources.rbacfindings?.status).toBe('complete');
  expect(manifest.sources.workloadfindings?.status).toBe('complete');
  const rbacRows = await rowsOf('rbacfindings_CL');
  const workloadRows = await rowsOf('workloadfindings_CL');
  expect(rbacRows.some((r) => r.rule_id === 'rbac.cluster-admin' && r.subject_name === 'system:anonymous')).toBe(true);
  expect(workloadRows.some((r) => r.rule_id === 'workload.privileged' && r.kind === 'DaemonSet')).toBe(true);

  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  const errChunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  err.on('data', (c: Buffer) => errChunks.push(c));
  let code = -1;
  const program = new Command().exitOverride();
  registerAnalyzeCommand(program, { stdout: out, stderr: err, env: {}, cwd: dir }, (c) => (code = c));
  await program.parseAsync(['analyze', join(dir, 'run-f'), '--include-expected'], { from: 'user' });
  const stderr = Buffer.concat(errChunks).toString('utf8');
  expect(code).toBe(0);
  const lines = Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

  const offlineRbac = lines.filter((l) => l.type === 'rbac').map((l) => `${l.ruleId}|${l.severity}|${l.subject.kind}:${l.subject.name}|${l.grantPath}`);
  const onlineRbac = rbacRows.map((r) => `${r.rule_id}|${r.severity}|${r.subject_kind}:${r.subject_name}|${r.grant_path}`);
  expect(offlineRbac.sort()).toEqual(onlineRbac.sort());

  const offlineWorkloads = lines.filter((l) => l.type === 'workload').map((l) => `${l.ruleId}|${l.object.kind}|${l.object.namespace}/${l.object.name}|${l.fieldPath}`);
  const onlineWorkloads = workloadRows.map((r) => `${r.rule_id}|${r.kind}|${r.namespace}/${r.name}|${r.field_path}`);
  expect(offlineWorkloads.sort()).toEqual(onlineWorkloads.sort());

  // A bundle directory: only its raw artifacts are read; manifest, custody, summaries and rows pass quietly.
  expect(stderr).not.toMatch(/skipped:/);
});
