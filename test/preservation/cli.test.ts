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
import { openLocalBundleAt } from '../../shared/evidence/localStore.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
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
    for (const w of [...waits]) if (w.re.test(e)) {
      waits.splice(waits.indexOf(w), 1);
      w.resolve();
    }
  });
  const io: CliIo = { stdout, stderr, env: { HOME: cwd }, cwd, ...(interrupts ? { interrupts } : {}) };
  return { io, out: () => o, err: () => e, stderrShows: (re: RegExp) => new Promise<void>((resolve) => (re.test(e) ? resolve() : waits.push({ re, resolve }))) };
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

  test('collect --preserve: sealed, then preserving until Ctrl-C, which seals the last segment and ends the window (exit 0)', async () => {
    const interrupts = new TestInterrupts();
    const c = captureIo(dir, interrupts);
    const exit = runCli(['collect', '--kubeconfig', kubeconfig, '--out', join(dir, 'out'), '--sources', 'containerlogs,events', '--case', 'INC-7', '--preserve', '24h', '--segment', '1h', '--json'], c.io);
    await c.stderrShows(/preserving run \w+ until/);
    cluster.changes.deletePod('shop', 'web', { graceMs: 600_000 });
    await c.stderrShows(/kept 2 log line\(s\) of shop\/web \(app\): terminating/);
    cluster.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: 'Exec', message: 'kubectl exec by attacker', type: 'Warning' });
    interrupts.send('SIGINT');
    expect(await exit).toBe(0);
    const summary = JSON.parse(c.out()) as { bundle: string; runId: string; preservation: { ended: { reason: string }; segments: { seq: number; counts: { logLines: number } }[] } };
    expect(summary.preservation.ended).toEqual({ reason: 'stopped (Ctrl-C)' });
    expect(summary.preservation.segments).toHaveLength(1);
    expect(summary.preservation.segments[0]!.counts.logLines).toBeGreaterThanOrEqual(4);
    bundle = join(dir, 'out', summary.runId);
    cluster.changes.deletePod('shop', 'web');
  }, 60_000);

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
    expect(e.err()).toMatch(/--context: the kubeconfig points at https:\/\/127\.0\.0\.1:1, but run \w+ was collected from/);
  });
});
