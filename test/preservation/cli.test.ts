/**
 * The window as a user runs it: `collect --preserve` keeps preserving after the seal until Ctrl-C
 * (which seals the segment in progress and ends the window), `watch <bundle>` opens another
 * window on the sealed run, `verify` covers both windows' increments; bad flags are named.
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo, InterruptSignal, Interrupts } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { readCustodyLog } from '../../shared/evidence/custody.js';
import { readIncrementManifest, type IncrementManifest } from '../../shared/evidence/increment.js';
import { openLocalBundleAt } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startLogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { preservationScenario } from './scenario.js';

class TestInterrupts implements Interrupts {
  handlers: ((s: InterruptSignal) => void)[] = [];
  on(handler: (s: InterruptSignal) => void): () => void {
    this.handlers.push(handler);
    return () => {
      this.handlers = this.handlers.filter((h) => h !== handler);
    };
  }
  exitNow(code: number): never {
    throw new Error(`exit ${code}`);
  }
  send(signal: InterruptSignal): void {
    for (const h of [...this.handlers]) h(signal);
  }
}

function captureIo(cwd: string, interrupts?: Interrupts) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  const waits: { re: RegExp; resolve: () => void }[] = [];
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => {
    e += d.toString();
    for (const w of [...waits])
      if (w.re.test(e)) {
        waits.splice(waits.indexOf(w), 1);
        w.resolve();
      }
  });
  const io: CliIo = { stdout, stderr, env: { HOME: cwd }, cwd, ...(interrupts ? { interrupts } : {}) };
  return { io, out: () => o, err: () => e, stderrShows: (re: RegExp) => new Promise<void>((resolve) => (re.test(e) ? resolve() : waits.push({ re, resolve }))) };
}

async function rowsOf(store: EvidenceStore, m: IncrementManifest, file: string): Promise<Record<string, unknown>[]> {
  const a = m.artifacts.find((x) => x.path.endsWith(file));
  if (!a) return [];
  const out: Record<string, unknown>[] = [];
  for await (const r of readNdjson(store, a.path)) out.push(r as Record<string, unknown>);
  return out;
}

let cluster: FixtureCluster;
let dir: string;
let kubeconfig: string;

beforeAll(async () => {
  cluster = await startFixtureCluster(preservationScenario(), { watchBookmarkIntervalMs: 0 });
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-preserve-cli-'));
  kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, cluster.kubeconfigYaml);
});

afterAll(async () => {
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('aks-evidence collect --preserve and watch', () => {
  let bundle: string;

  test('collect --preserve: the done-when scenario through the CLI; Ctrl-C seals the last segment and ends the window (exit 0)', async () => {
    const interrupts = new TestInterrupts();
    const c = captureIo(dir, interrupts);
    const exit = runCli(
      [
        'collect',
        '--kubeconfig',
        kubeconfig,
        '--out',
        join(dir, 'out'),
        '--sources',
        'containerlogs,events',
        '--case',
        'INC-7',
        '--preserve',
        '24h',
        '--segment',
        '1h',
        '--verbose',
        '--json',
      ],
      c.io,
    );
    await c.stderrShows(/watching 14 resource\(s\)/);
    // Right after the watches are up (the "two seconds in" of the issue; no clock is asserted on).
    cluster.changes.deletePod('shop', 'web', { graceMs: 600_000 });
    await c.stderrShows(/kept 2 log line\(s\) of shop\/web \(app\): terminating/);
    await c.stderrShows(/kept 2 log line\(s\) of shop\/web \(app, previous\): terminating/);
    cluster.changes.restartContainer('shop', 'worker', 'main', { exitCode: 137, reason: 'OOMKilled', newLines: [{ message: 'worker instance 1 started' }] });
    await c.stderrShows(/kept 2 log line\(s\) of shop\/worker \(main, previous\): restarted/);
    const emitted: string[] = [];
    for (let i = 1; i <= 3; i++)
      emitted.push(
        cluster.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: `Before${i}`, message: `event ${i} before the drop` }).metadata
          .name,
      );
    await c.stderrShows(new RegExp(`events added: shop/${emitted[2]!.replace(/\./g, '\\.')}`));
    // The connections drop; what happens while nobody watches arrives when the watches resume.
    expect(cluster.watches.drop()).toBeGreaterThan(5);
    for (let i = 1; i <= 4; i++)
      emitted.push(
        cluster.changes.emitEvent({
          namespace: 'shop',
          involvedObject: { kind: 'Pod', name: 'worker' },
          reason: `After${i}`,
          message: `event ${i} while the watch was down`,
          type: 'Warning',
        }).metadata.name,
      );
    await c.stderrShows(new RegExp(`events added: shop/${emitted[6]!.replace(/\./g, '\\.')}`));
    interrupts.send('SIGINT');
    expect(await exit).toBe(0);
    expect(c.err()).toMatch(/stopped \(Ctrl-C\): sealing the segment in progress/);
    expect(c.err()).toMatch(/segment 1 sealed \(.+\): \d+ log lines/);
    const summary = JSON.parse(c.out()) as {
      bundle: string;
      runId: string;
      exitCode: number;
      preservation: { ended: { reason: string }; segments: { seq: number; gaps: number; counts: { logLines: number } }[] };
    };
    expect(summary.preservation.ended).toEqual({ reason: 'stopped (Ctrl-C)' });
    expect(summary.preservation.segments.map((x) => [x.seq, x.gaps])).toEqual([[1, 0]]);
    bundle = join(dir, 'out', summary.runId);

    const store = await openLocalBundleAt(bundle);
    const { manifest } = await readIncrementManifest(store, 1);
    const logRows = await rowsOf(store, manifest, 'containerlogs.rows.ndjson.gz');
    const web = logRows.filter((r) => r['pod_name'] === 'web');
    expect(web.filter((r) => r['previous'] === false).map((r) => r['message'])).toEqual(['web v1 serving', 'GET /admin 200 from 203.0.113.9']);
    expect(web.filter((r) => r['previous'] === true).map((r) => r['message'])).toEqual(['web v1 starting (previous instance)', 'panic: the previous instance crashed']);
    const worker = logRows.filter((r) => r['pod_name'] === 'worker');
    expect(worker.filter((r) => r['previous'] === true).map((r) => r['message'])).toEqual(['worker instance 0 line 1', 'worker instance 0: curl http://203.0.113.9/x | sh']);
    const eventNames = (await rowsOf(store, manifest, 'events.rows.ndjson.gz')).map((r) => r['name'] as string);
    for (const name of emitted) expect(eventNames.filter((n) => n === name)).toHaveLength(1);
    cluster.changes.deletePod('shop', 'web');
  }, 90_000);

  test('watch <bundle>: another window on the sealed run, to its end; verify covers both windows', async () => {
    const c = captureIo(dir);
    expect(await runCli(['watch', bundle, '--kubeconfig', kubeconfig, '--preserve', '1s', '--segment', '10s'], c.io)).toBe(0);
    expect(c.out()).toMatch(/preservation window: window-ended; 1 segment\(s\) sealed/);
    const store = await openLocalBundleAt(bundle);
    const steps = (await readCustodyLog(store)).map((r) => r.step);
    expect(steps.filter((s) => s === 'preservation-started')).toHaveLength(2);
    expect(steps.filter((s) => s === 'preservation-ended')).toHaveLength(2);
    expect(await readdir(join(bundle, 'increments'))).toEqual(['000001', '000002']);
    const v = captureIo(dir);
    expect(await runCli(['verify', bundle, '--json'], v.io)).toBe(0);
    const report = JSON.parse(v.out()) as { increments: { sealed: number } };
    expect(report.increments.sealed).toBe(2);
  }, 60_000);

  test('ingest <bundle>: the run, then each sealed increment, into the same tables; increment rows say so and name their segment', async () => {
    const emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
    try {
      await writeFile(join(dir, 'target.json'), JSON.stringify(emulator.targetDocument));
      const c = captureIo(dir);
      const deps = { ingest: { credential: emulator.credential, clientOptions: emulator.clientOptions } };
      expect(await runCli(['ingest', bundle, '--config', 'target.json', '--json'], c.io, deps)).toBe(0);
      const receipt = JSON.parse(c.out()) as { status: string; increments: { seq: number; receipt?: { status: string; rowsAcknowledged: number } }[] };
      expect(receipt.increments.map((i) => i.seq)).toEqual([1, 2]);
      expect(receipt.increments[0]!.receipt).toMatchObject({ status: 'complete' });
      const logs = emulator.accepted('kubelogs_CL');
      const events = emulator.accepted('kubeevents_CL');
      const incrementLogs = logs.filter((r) => r['CollectionPhase'] === 'increment');
      expect(incrementLogs.length).toBeGreaterThanOrEqual(6);
      expect(incrementLogs.every((r) => /\/increments\/00000[12]\/containerlogs\.rows\.ndjson\.gz$/.test(String(r['EvidencePath'])))).toBe(true);
      const incrementEvents = events.filter((r) => r['CollectionPhase'] === 'increment');
      expect(incrementEvents.length).toBeGreaterThanOrEqual(7 + 2);
      expect(incrementEvents.every((r) => /\/increments\/00000[12]\/events\.rows\.ndjson\.gz$/.test(String(r['EvidencePath'])))).toBe(true);
      expect(events.filter((r) => r['CollectionPhase'] === 'initial').length).toBe(1);
      expect(logs.filter((r) => r['CollectionPhase'] === 'increment').map((r) => r['message'])).toEqual(expect.arrayContaining(['panic: the previous instance crashed']));
      // Again: nothing is sent twice.
      const again = captureIo(dir);
      const before = emulator.acceptedCount('kubeevents_CL');
      expect(await runCli(['ingest', bundle, '--config', 'target.json'], again.io, deps)).toBe(0);
      expect(emulator.acceptedCount('kubeevents_CL')).toBe(before);
      expect(again.out()).toMatch(/increment 1: COMPLETE: 0 acknowledged, \d+ already in, 0 not delivered/);
    } finally {
      await emulator.stop();
    }
  }, 60_000);

  test('bad flags are named before the cluster is touched (exit 2)', async () => {
    const c = captureIo(dir);
    expect(await runCli(['collect', '--kubeconfig', kubeconfig, '--out', join(dir, 'out2'), '--preserve', '8d'], c.io)).toBe(2);
    expect(c.err()).toMatch(/--preserve: must be from 1 s to 7 days; got 8d/);
    const d = captureIo(dir);
    expect(await runCli(['watch', bundle, '--kubeconfig', kubeconfig, '--segment', '2s'], d.io)).toBe(2);
    expect(d.err()).toMatch(/--segment: must be from 10 s/);
    const other = join(dir, 'other-kubeconfig');
    await writeFile(other, cluster.kubeconfigYaml.replace(cluster.server, 'https://127.0.0.1:1'));
    const e = captureIo(dir);
    expect(await runCli(['watch', bundle, '--kubeconfig', other], e.io)).toBe(2);
    expect(e.err()).toMatch(/--context: the kubeconfig points at https:\/\/127\.0\.0\.1:1\/?, but run [\w-]+ was collected from/);
    const f = captureIo(dir);
    expect(await runCli(['collect', '--kubeconfig', kubeconfig, '--out', join(dir, 'out3'), '--preserve', '1h', '--concurrency', '8'], f.io)).toBe(2);
    expect(f.err()).toMatch(/--concurrency: .*14 watch streams each hold one request of the budget.*from 15 to 256/);
    const g = captureIo(dir);
    expect(await runCli(['watch', bundle, '--kubeconfig', kubeconfig, '--concurrency', '14'], g.io)).toBe(2);
    expect(g.err()).toMatch(/--concurrency: "14" is too small/);
  });
});
