import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../shared/cli/main.js';
import type { CliIo } from '../../shared/cli/io.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';

function captureIo(cwd: string, env: Record<string, string> = {}): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd, ...env }, cwd, out: () => o, err: () => e };
}

describe('aks-evidence CLI', () => {
  let cluster: FixtureCluster;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    cluster = await startFixtureCluster(await loadScenario('compromise'), {});
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-cli-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('collect --json prints one summary; verify passes, then names an altered and a missing artifact', async () => {
    const io = captureIo(dir);
    const code = await runCli(
      ['collect', '--kubeconfig', kubeconfig, '--out', 'evidence', '--case', 'IR-42', '--since', '48h', '--sources', 'events,serviceaccounts,cronjobs,commandhistory', '--json'],
      io,
    );
    expect(io.err()).not.toMatch(/unexpected error/);
    expect(code).toBe(0);
    const summary = JSON.parse(io.out()) as { runId: string; bundle: string; manifestSha256: string; sources: Record<string, { records: number; gaps: number }> };
    expect(summary.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(summary.sources).sort()).toEqual(['commandhistory', 'cronjobs', 'events', 'serviceaccounts']);
    expect(summary.sources.events!.records).toBeGreaterThan(0);
    expect(io.err()).toMatch(/\[aks-evidence\]/); // progress on stderr
    expect(io.out() + io.err()).not.toContain(cluster.token);

    const bundle = join(dir, 'evidence', summary.runId);
    const ok = captureIo(dir);
    expect(await runCli(['verify', bundle], ok)).toBe(0);
    expect(ok.out()).toMatch(/^VERIFIED:/);

    // Tamper behind the tool's back: flip a byte of one artifact, delete another.
    const files = (await readdir(join(bundle, 'sources', 'events'))).filter((f) => f.endsWith('.rows.ndjson.gz'));
    const victim = join(bundle, 'sources', 'events', files[0]!);
    await chmod(victim, 0o644);
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(victim);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(victim, bytes);
    const cron = (await readdir(join(bundle, 'sources', 'cronjobs'))).find((f) => f.endsWith('.rows.ndjson.gz'))!;
    await chmod(join(bundle, 'sources', 'cronjobs'), 0o755);
    await rm(join(bundle, 'sources', 'cronjobs', cron), { force: true });
    const bad = captureIo(dir);
    expect(await runCli(['verify', bundle], bad)).toBe(1);
    expect(bad.out()).toContain(`sources/events/${files[0]}`);
    expect(bad.out()).toContain(`sources/cronjobs/${cron}`);
    expect(bad.out()).toMatch(/ALTERED/);
    expect(bad.out()).toMatch(/MISSING/);
  });

  test('bad flags get one clear line naming the flag and exit 2; nothing is written', async () => {
    for (const [args, needle] of [
      [['collect', '--kubeconfig', kubeconfig, '--since', 'yesterday', '--out', 'bad1'], '--since'],
      [['collect', '--kubeconfig', kubeconfig, '--sources', 'logs,events', '--out', 'bad2'], 'sources'],
      [['collect', '--kubeconfig', kubeconfig, '--concurrency', '0', '--out', 'bad3'], '--concurrency'],
      [['collect', '--kubeconfig', kubeconfig, '--case', '../etc', '--out', 'bad4'], '--case'],
      [['collect', '--kubeconfig', kubeconfig, '--context', 'nope', '--out', 'bad5'], 'nope'],
    ] as const) {
      const io = captureIo(dir);
      expect(await runCli([...args], io)).toBe(2);
      expect(io.err()).toContain(needle);
      expect(io.err().trim().split('\n')).toHaveLength(1);
    }
    const entries = await readdir(dir);
    expect(entries.filter((e) => e.startsWith('bad'))).toEqual([]);
  });

  test('an unreachable cluster gets one line naming the server and the fix', async () => {
    const stopped = await startFixtureCluster({ name: 'empty', objects: [] }, {});
    const kc = join(dir, 'kubeconfig-stopped');
    await writeFile(kc, stopped.kubeconfigYaml, { mode: 0o600 });
    await stopped.stop();
    const io = captureIo(dir);
    expect(await runCli(['collect', '--kubeconfig', kc, '--out', 'never'], io)).toBe(2);
    expect(io.err()).toContain(stopped.server);
    expect(io.err()).toMatch(/Fix:/);
    expect(io.err()).not.toContain(stopped.token);
  });

  test('rejected credentials (401) say so', async () => {
    const kc = join(dir, 'kubeconfig-badtoken');
    await writeFile(kc, cluster.kubeconfigYaml.replace(cluster.token, 'wrong-token'), { mode: 0o600 });
    const io = captureIo(dir);
    expect(await runCli(['collect', '--kubeconfig', kc, '--out', 'never'], io)).toBe(2);
    expect(io.err()).toMatch(/401/);
  });
});
