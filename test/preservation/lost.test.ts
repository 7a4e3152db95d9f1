/**
 * An increment lost to a fault: the process holding segment 1 fails while sealing it (its
 * manifest part cannot be written), as an activity cut off by the host would. The next stretch,
 * resumed from the same cursor (a retried activity), names segment 1 as lost — a gap with its
 * time range and the files it left, hashed — in the first segment it seals; verify accepts the
 * bundle and says which time range no sealed segment covers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { readIncrementManifest } from '../../shared/evidence/increment.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { verificationFromVerifyResult } from '../../shared/report/verification.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runPreservation, type PreservationProgress } from '../../shared/preservation/session.js';
import { openPreservationWindow } from '../../shared/preservation/window.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { ManualClock, Recorder } from './manualClock.js';
import { preservationScenario } from './scenario.js';

let cluster: FixtureCluster;
let dir: string;

afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The store as the dying process sees it: the segment's manifest part cannot be written. */
function failingIncrementManifests(store: EvidenceStore): EvidenceStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'writeArtifact') {
        return (path: string, ...rest: unknown[]) => {
          if (/^increments\/\d+\/manifest\.json$/.test(path)) return Promise.reject(new Error('the host stopped the activity'));
          return (target.writeArtifact as (...a: unknown[]) => unknown)(path, ...rest);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

test('a segment lost to a fault is named by the next one as a gap with its time range; verify accounts for it', async () => {
  const clock = new ManualClock('2026-03-01T12:00:00.000Z');
  cluster = await startFixtureCluster(preservationScenario(), { now: clock.now, watchBookmarkIntervalMs: 0 });
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-lost-'));
  const store = await openLocalBundle(dir, 'run-l');
  const kubeConfig = fixtureKubeConfig(cluster);
  const collector = collectorIdentity({ runtime: 'test' });
  const request = { caseId: 'case-l', sources: ['events'], sinceSeconds: 86400 };
  await collectRun({ kubeConfig, store, runId: 'run-l', request, collector, facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }), clock: clock.now });
  const cursor = await openPreservationWindow({ store, collector, preserveForSeconds: 3600, clock: clock.now });
  const stretch = (s: EvidenceStore, progress: Recorder<PreservationProgress>, stop: AbortController) =>
    runPreservation({
      store: s,
      kubeConfig,
      runId: 'run-l',
      caseId: 'case-l',
      request,
      collector,
      cursor,
      until: new Date(cursor.endsAt),
      stopSignal: stop.signal,
      clock: clock.now,
      sleep: clock.sleep,
      segmentInMs: 60_000,
      progress: progress.push,
    });

  // The first stretch keeps an event, then dies sealing its segment.
  const first = new Recorder<PreservationProgress>();
  const stopFirst = new AbortController();
  const dying = stretch(failingIncrementManifests(store), first, stopFirst);
  await first.until((e) => e.some((x) => x.kind === 'watching'));
  clock.advance(2000);
  cluster.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: 'Exec', message: 'kept by the segment that is lost' });
  await first.until((e) => e.some((x) => x.kind === 'event' && x.resource === 'events'));
  clock.advance(1000);
  stopFirst.abort();
  await expect(dying).rejects.toThrow(/the host stopped the activity/);
  expect((await verifyBundle(store)).problems.join('\n')).toMatch(/never sealed: preservation interrupted after increment-started 1/);

  // The retried stretch, from the same cursor.
  clock.advance(5000);
  const second = new Recorder<PreservationProgress>();
  const stopSecond = new AbortController();
  const retried = stretch(store, second, stopSecond);
  await second.until((e) => e.some((x) => x.kind === 'watching'));
  stopSecond.abort();
  const result = await retried;
  expect(result.lost.map((l) => [l.seq, l.from, l.to])).toEqual([[1, '2026-03-01T12:00:00.000Z', '2026-03-01T12:00:08.000Z']]);
  expect(result.lost[0]!.files.map((f) => f.path).sort()).toEqual(['increments/000001/events.raw.ndjson.gz', 'increments/000001/events.rows.ndjson.gz']);
  expect(result.segments.map((s) => s.seq)).toEqual([2]);
  const { manifest } = await readIncrementManifest(store, 2);
  expect(manifest.gaps).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ source: 'preservation', from: '2026-03-01T12:00:00.000Z', to: '2026-03-01T12:00:08.000Z', detail: expect.stringMatching(/^increment 1 was lost/) }),
    ]),
  );

  const report = await verifyBundle(store);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.increments).toMatchObject({ sealed: 1, unsealed: [{ seq: 1, namedLost: true }] });
  // The report's verification section counts the increments and says one was lost.
  const check = verificationFromVerifyResult(report).checks.find((c) => c.id === 'increments');
  expect(check).toMatchObject({
    status: 'warning',
    detail: expect.stringMatching(/^1 sealed segment\(s\) from .+, \d+ artifact\(s\) re-hashed; 1 lost \(named with their time range\)/),
  });
  expect(report.warnings.join('\n')).toMatch(/increment 1 was lost \(.+\): 2026-03-01T12:00:00\.000Z to 2026-03-01T12:00:08\.000Z is covered by no sealed segment; 2 file\(s\)/);
}, 60_000);
