import { BlobServiceClient } from '@azure/storage-blob';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { startAzurite } from '../../shared/simulator/azurite.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';

function captureIo(cwd: string, env: Record<string, string>): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd, ...env }, cwd, out: () => o, err: () => e };
}

test('collect into Blob Storage (Azurite), verify and export the run by URL; a blob altered behind the tool is named', async () => {
  const azurite = await startAzurite();
  const cluster = await startFixtureCluster(await loadScenario('compromise'), {});
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-cli-blob-'));
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
    const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
    const container = azurite.containerUrl('evidence');

    const io = captureIo(dir, env);
    const code = await runCli(
      ['collect', '--kubeconfig', kubeconfig, '--out', container, '--case', 'IR-7', '--sources', 'events,cronjobs,rbacbindings', '--legal-hold', '--json'],
      io,
    );
    expect(io.err()).not.toMatch(/unexpected error/);
    expect(code).toBe(0);
    const summary = JSON.parse(io.out()) as { runId: string; bundle: string; manifestSha256: string; protection: { notes: string[]; legalHold?: { applied: boolean } } };
    expect(summary.bundle).toBe(`${container}/IR-7/${summary.runId}`);
    expect(io.out() + io.err()).not.toContain(azurite.accountKey);
    // Azurite cannot place a legal hold: the manifest says so instead of claiming protection.
    expect(summary.protection.legalHold?.applied).toBe(false);
    expect(summary.protection.notes.join(' ')).toMatch(/501|not applied|NOT applied/i);

    const ok = captureIo(dir, env);
    expect(await runCli(['verify', summary.bundle], ok)).toBe(0);
    expect(ok.out()).toContain(summary.manifestSha256);

    const exp = captureIo(dir, env);
    expect(await runCli(['export', summary.bundle, 'copy'], exp)).toBe(0);
    const local = captureIo(dir, env);
    expect(await runCli(['verify', join(dir, 'copy', summary.runId)], local)).toBe(0);

    // Overwrite one artifact with the raw SDK (no immutability on Azurite): verify names it.
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const blobs = service.getContainerClient('evidence');
    let victim = '';
    for await (const b of blobs.listBlobsFlat({ prefix: `IR-7/${summary.runId}/sources/events/` })) if (b.name.endsWith('.rows.ndjson.gz')) victim = b.name;
    expect(victim).not.toBe('');
    await blobs.getBlockBlobClient(victim).upload('tampered', 8);
    const bad = captureIo(dir, env);
    expect(await runCli(['verify', summary.bundle], bad)).toBe(1);
    expect(bad.out()).toContain(victim.slice(`IR-7/${summary.runId}/`.length));
  } finally {
    await cluster.stop();
    await azurite.stop();
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
