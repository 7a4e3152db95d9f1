/**
 * The custody commands as a user runs them: verify's exit codes (0 verified, 1 failed
 * verification, 2 bad input) and its anchors flags; Ctrl-C during collect (sealed as an
 * interrupted run, exit 3; a second Ctrl-C stops at once); `seal` on a run that was never
 * sealed; a TSA configured with --tsa and checked with --tsa-ca.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo, InterruptSignal, Interrupts } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { claimRunPath } from '../../shared/evidence/claim.js';
import { collectorIdentity, CustodyLog } from '../../shared/evidence/custody.js';
import { openLocalBundle, openLocalBundleAt } from '../../shared/evidence/localStore.js';
import { readManifest } from '../../shared/evidence/manifest.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { collectionStartedDetails } from '../../shared/pipeline/collectRun.js';
import { runCollectTask } from '../../shared/pipeline/collectTask.js';
import { kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { planCollectTasks } from '../../shared/pipeline/plan.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startTsa, type TsaServer } from '../fixtures/tsa/server.js';

/** A test's stand-in for the process's signals: the test sends them. */
class TestInterrupts implements Interrupts {
  handlers: ((s: InterruptSignal) => void)[] = [];
  exited: number | undefined;
  on(handler: (s: InterruptSignal) => void): () => void {
    this.handlers.push(handler);
    return () => {
      this.handlers = this.handlers.filter((h) => h !== handler);
    };
  }
  exitNow(code: number): never {
    this.exited = code;
    throw new Error(`exit ${code}`);
  }
  send(signal: InterruptSignal): void {
    for (const h of [...this.handlers]) h(signal);
  }
}

function captureIo(cwd: string, interrupts?: Interrupts): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd }, cwd, ...(interrupts ? { interrupts } : {}), out: () => o, err: () => e };
}

let cluster: FixtureCluster;
let slow: FixtureCluster;
let tsa: TsaServer;
let dir: string;
let kubeconfig: string;
let slowKubeconfig: string;

beforeAll(async () => {
  const scenario = await loadScenario('compromise');
  [cluster, slow, tsa] = await Promise.all([startFixtureCluster(scenario, {}), startFixtureCluster(scenario, { latencyMs: 150 }), startTsa()]);
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-cli-custody-'));
  kubeconfig = join(dir, 'kubeconfig');
  slowKubeconfig = join(dir, 'slow-kubeconfig');
  await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
  await writeFile(slowKubeconfig, slow.kubeconfigYaml, { mode: 0o600 });
});
afterAll(async () => {
  await Promise.all([cluster?.stop(), slow?.stop(), tsa?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('collect --tsa, then verify: 0 with every anchor named; --expect-sha256 and --tsa-ca pass; a wrong hash is 1; bad input is 2', async () => {
  const io = captureIo(dir);
  expect(await runCli(['collect', '--kubeconfig', kubeconfig, '--out', 'evidence', '--case', 'IR-1', '--sources', 'events,serviceaccounts', '--tsa', tsa.url, '--json'], io)).toBe(
    0,
  );
  const summary = JSON.parse(io.out()) as { runId: string; manifestSha256: string; chainHead: string; anchors: { timestamp: { status: string } } };
  expect(summary.chainHead).toMatch(/^[0-9a-f]{64}$/);
  expect(summary.anchors.timestamp.status).toBe('anchored');
  const bundle = join(dir, 'evidence', summary.runId);

  const ok = captureIo(dir);
  expect(await runCli(['verify', bundle, '--expect-sha256', summary.manifestSha256, '--tsa-ca', tsa.caFile], ok)).toBe(0);
  expect(ok.out()).toMatch(/^VERIFIED:/);
  expect(ok.out()).toMatch(/expected-sha256\s+passed/);
  expect(ok.out()).toMatch(/rfc3161-timestamp\s+passed/);
  expect(ok.out()).toMatch(/custody chain: \d+ record\(s\), every link holds/);

  const wrong = captureIo(dir);
  expect(await runCli(['verify', bundle, '--expect-sha256', 'a'.repeat(64)], wrong)).toBe(1);
  expect(wrong.out()).toMatch(/^FAILED:/);
  expect(wrong.out()).not.toMatch(/VERIFIED/);
  expect(wrong.out()).toMatch(/expected-sha256\s+FAILED/);

  const otherCa = captureIo(dir);
  expect(await runCli(['verify', bundle, '--tsa-ca', tsa.otherCaFile], otherCa)).toBe(1);
  expect(otherCa.out()).toMatch(/rfc3161-timestamp\s+FAILED/);

  for (const args of [
    ['verify', bundle, '--expect-sha256', 'xyz'],
    ['verify', bundle, '--tsa-ca', join(dir, 'nope.pem')],
    ['verify', bundle, '--workspace', 'not-a-guid'],
    ['verify', join(dir, 'no-such-bundle')],
    ['verify'],
  ]) {
    const bad = captureIo(dir);
    expect({ args, code: await runCli(args, bad) }).toEqual({ args, code: 2 });
  }
});

test('Ctrl-C during collect: the collection stops, what was published is sealed as interrupted (exit 3), and verify says so', async () => {
  const interrupts = new TestInterrupts();
  const io = captureIo(dir, interrupts);
  const run = runCli(
    ['collect', '--kubeconfig', slowKubeconfig, '--out', 'evidence-int', '--case', 'IR-2', '--sources', 'events,serviceaccounts,containerlogs,commandhistory,cronjobs', '--json'],
    io,
  );
  // Interrupt once the first task has finished (its summary is published).
  for (let i = 0; i < 400 && !/: (complete|partial|failed), /.test(io.err()); i++) await new Promise((r) => setTimeout(r, 25));
  interrupts.send('SIGINT');
  const code = await run;
  expect(io.err()).toMatch(/SIGINT \(Ctrl-C\): stopping the collection/);
  expect(code).toBe(3);
  const summary = JSON.parse(io.out()) as { runId: string; interrupted: { reason: string; unfinishedTasks: unknown[] } };
  expect(summary.interrupted.reason).toBe('SIGINT (Ctrl-C)');
  expect(summary.interrupted.unfinishedTasks.length).toBeGreaterThan(0);
  const store = await openLocalBundleAt(join(dir, 'evidence-int', summary.runId));
  const report = await verifyBundle(store);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.interrupted?.reason).toBe('SIGINT (Ctrl-C)');
  expect(report.custody.steps).toContain('collection-interrupted');
  const manifest = await readManifest(store);
  expect(manifest.gaps[0]?.detail).toMatch(/collection interrupted \(SIGINT \(Ctrl-C\)\)/);
  const v = captureIo(dir);
  expect(await runCli(['verify', join(dir, 'evidence-int', summary.runId)], v)).toBe(0);
  expect(v.out()).toMatch(/sealed as INTERRUPTED \(SIGINT \(Ctrl-C\)/);
  expect(interrupts.handlers).toHaveLength(0); // the command let go of the signals

  // A second Ctrl-C stops at once.
  const twice = new TestInterrupts();
  const io2 = captureIo(dir, twice);
  const run2 = runCli(['collect', '--kubeconfig', slowKubeconfig, '--out', 'evidence-int', '--case', 'IR-3', '--sources', 'containerlogs'], io2);
  for (let i = 0; i < 200 && twice.handlers.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  twice.send('SIGINT');
  expect(() => twice.send('SIGINT')).toThrow('exit 130');
  expect(twice.exited).toBe(130);
  expect(io2.err()).toMatch(/stopping now without sealing; seal what was published with: aks-evidence seal/);
  await run2.catch(() => undefined);
});

test('a run that died before sealing: verify says "never sealed: collection interrupted after <step>" (exit 1); seal seals it as interrupted (exit 3), naming what never finished; sealing again changes nothing (exit 0)', async () => {
  // What a killed process leaves: the claim, collection-started, one finished task and its custody record.
  const out = join(dir, 'killed');
  const runId = 'run-killed';
  const store = await openLocalBundle(out, runId);
  const collector = collectorIdentity({ runtime: 'test' });
  const claim = await claimRunPath(store, { runId, caseId: 'IR-4', collector });
  const custody = new CustodyLog(store, { runId, caseId: 'IR-4', collector, claim });
  const request = { caseId: 'IR-4', sources: ['events', 'serviceaccounts', 'cronjobs'], sinceSeconds: 86400 };
  const facts = kubeconfigFacts({ server: cluster.server, name: 'fixture' });
  const tasks = planCollectTasks(request, facts);
  await custody.record('collection-started', collectionStartedDetails(request, facts, tasks, store.location, new Date().toISOString()));
  const done = await runCollectTask(tasks[0]!, { store, kubeConfig: fixtureKubeConfig(cluster), runId, caseId: 'IR-4', request, cluster: facts.cluster, claim });
  await custody.record('artifacts-sealed', { task: 'events', artifacts: done.artifacts.map((a) => ({ path: a.path, sha256: a.sha256 })) });
  const bundle = join(out, runId);

  const before = captureIo(dir);
  expect(await runCli(['verify', bundle], before)).toBe(1);
  expect(before.out()).toMatch(/never sealed: collection interrupted after artifacts-sealed/);
  expect(before.out()).not.toMatch(/VERIFIED/);

  const sealIo = captureIo(dir);
  expect(await runCli(['seal', bundle, '--reason', 'the collecting host was lost', '--tsa', tsa.url], sealIo)).toBe(3);
  expect(sealIo.out()).toMatch(/sealed AS INTERRUPTED \(the collecting host was lost; last custody step before: artifacts-sealed\)/);
  expect(sealIo.out()).toMatch(/2 task\(s\) never finished: serviceaccounts, cronjobs/);
  const manifest = await readManifest(store);
  expect(manifest.interrupted?.unfinishedTasks.map((t) => t.source)).toEqual(['serviceaccounts', 'cronjobs']);
  expect(manifest.sources.events?.records).toBe(done.records);
  expect(manifest.sources.serviceaccounts?.status).toBe('failed');

  const after = captureIo(dir);
  expect(await runCli(['verify', bundle, '--tsa-ca', tsa.caFile], after)).toBe(0);
  expect(after.out()).toMatch(/sealed as INTERRUPTED/);

  const again = captureIo(dir);
  expect(await runCli(['seal', bundle], again)).toBe(0);
  expect(again.out()).toMatch(/already sealed by its own custody chain/);
});
