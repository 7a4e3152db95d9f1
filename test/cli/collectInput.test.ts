/**
 * CLI input is bounded and checked like the HTTP API's, before the cluster is touched: --since
 * within the API's bounds, namespaces as DNS-1123 labels, --out never at or inside an existing
 * run and never somewhere unusable. Each refusal is one line naming the flag, exit 2, and the
 * simulated cluster sees no request.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { parseCollectFlags } from '../../shared/cli/collect.js';
import { EXIT, type CliIo } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { checkOutLocation } from '../../shared/cli/outLocation.js';
import { MAX_SINCE_SECONDS } from '../../shared/request/schema.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';

function capture(cwd: string): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd }, cwd, out: () => o, err: () => e };
}

describe('collect: input checked like the HTTP API, before the cluster is touched', () => {
  let cluster: FixtureCluster;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    cluster = await startFixtureCluster({ name: 'tiny', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } }] });
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-input-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
    // An existing run: a bundle directory with a manifest and custody records.
    await mkdir(join(dir, 'evidence', 'run-1', 'custody'), { recursive: true });
    await mkdir(join(dir, 'evidence', 'run-1', 'sources', 'events'), { recursive: true });
    await writeFile(join(dir, 'evidence', 'run-1', 'manifest.json'), '{}');
    await mkdir(join(dir, 'evidence', 'run-2', 'custody'), { recursive: true });
    await writeFile(join(dir, 'a-file'), 'not a directory');
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function refused(args: string[], flag: string, needle: string | RegExp): Promise<void> {
    const before = cluster.requestCount();
    const io = capture(dir);
    const code = await runCli(['collect', '--kubeconfig', kubeconfig, ...args], io);
    const err = io.err();
    expect({ args, code }).toEqual({ args, code: EXIT.input });
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain(flag);
    if (typeof needle === 'string') expect(err).toContain(needle);
    else expect(err).toMatch(needle);
    expect(cluster.requestCount()).toBe(before); // the cluster was not touched
  }

  test('--since: the HTTP API bounds (1 s to 30 days), from the same constants', async () => {
    expect(parseCollectFlags({ since: '30d' }).sinceSeconds).toBe(MAX_SINCE_SECONDS);
    expect(parseCollectFlags({ since: '90m' }).sinceSeconds).toBe(5400);
    expect(parseCollectFlags({}).sinceSeconds).toBe(86400);
    await refused(['--since', '31d', '--out', 'ok'], '--since', '30 days');
    await refused(['--since', '0s', '--out', 'ok'], '--since', '30 days');
    await refused(['--since', '99999999999d', '--out', 'ok'], '--since', '30 days');
    await refused(['--since', 'yesterday', '--out', 'ok'], '--since', 'not a duration');
  });

  test('--namespaces / --exclude-namespaces: DNS-1123 labels; the error names the flag and the bad value', async () => {
    expect(parseCollectFlags({ namespaces: 'prod, kube-system,prod' }).namespaces).toEqual(['prod', 'kube-system']);
    await refused(['--namespaces', 'prod,Payments', '--out', 'ok'], '--namespaces', '"Payments"');
    await refused(['--namespaces', 'kube_system', '--out', 'ok'], '--namespaces', '"kube_system"');
    await refused(['--exclude-namespaces', '../etc', '--out', 'ok'], '--exclude-namespaces', '"../etc"');
    await refused(['--namespaces', `${'a'.repeat(64)}`, '--out', 'ok'], '--namespaces', 'at most 63 characters');
    await refused(['--env-values', 'plain', '--out', 'ok'], '--env-values', '"plain"');
  });

  test('--out at or inside an existing run is refused (manifest.json or custody/), and a Blob URL of a run', async () => {
    await refused(['--out', 'evidence/run-1'], '--out', /is the evidence run .*run-1/);
    await refused(['--out', 'evidence/run-1/sources/events'], '--out', /is inside the evidence run .*run-1/);
    await refused(['--out', join(dir, 'evidence', 'run-2')], '--out', 'custody/');
    await refused(['--out', 'https://evidence.blob.core.windows.net/evidence/IR-1/run-1'], '--out', 'names a path inside a container');
    await refused(['--out', 'http://127.0.0.1:10000/devstoreaccount1/evidence/IR-1/run-1'], '--out', 'names a path inside a container');
  });

  test('an unusable --out fails fast: a file, under a file, /dev/full, /proc, /sys', async () => {
    await refused(['--out', 'a-file'], '--out', 'is not a directory');
    await refused(['--out', 'a-file/evidence'], '--out', 'is not a directory');
    await refused(['--out', '/dev/full'], '--out', 'is not a directory');
    await refused(['--out', '/dev/full/evidence'], '--out', 'is not a directory');
    await refused(['--out', '/proc/aks-evidence'], '--out', 'nothing can be created in /proc');
    await refused(['--out', '/sys/aks-evidence'], '--out', 'nothing can be created in /sys');
  });

  test('nothing is left behind by the checks; a usable --out (new or existing) passes', async () => {
    await checkOutLocation('fresh/evidence', dir);
    await checkOutLocation('evidence', dir);
    await checkOutLocation('https://evidence.blob.core.windows.net/evidence', dir);
    const entries = await readdir(dir);
    expect(entries.sort()).toEqual(['a-file', 'evidence', 'kubeconfig']);
    expect((await readdir(join(dir, 'evidence'))).sort()).toEqual(['run-1', 'run-2']);
  });
});
