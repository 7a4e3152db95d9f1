/**
 * Exit codes of `collect` and `ingest` through the CLI entry point (runCli), one case per code
 * (io.ts EXIT): 0 complete; 3 finished with gaps (sealed or delivered, but something partial or
 * failed); 1 failed (nothing sealed / nothing delivered); 2 bad input. Against the simulated
 * cluster with faults on demand and the Logs Ingestion emulator.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '../../shared/cli/main.js';
import type { CliIo } from '../../shared/cli/io.js';
import { EXIT } from '../../shared/cli/io.js';
import type { Manifest } from '../../shared/evidence/types.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import type { FixtureCluster, Scenario } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { sampleRows, writeRowsBundle } from '../../bench/rowsBundle.js';
import { namespace, pod } from '../sources/helpers.js';

function captureIo(cwd: string): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd }, cwd, out: () => o, err: () => e };
}

const NOW = new Date();
const gen = (seed: number) => ({ lines: 50, lineBytes: 60, startTime: new Date(NOW.getTime() - 3_600_000).toISOString(), stepMs: 1000, seed });

function scenario(): Scenario {
  return {
    name: 'exit-codes',
    objects: [namespace('a'), pod({ namespace: 'a', name: 'p1', containers: [{ name: 'c' }] }), pod({ namespace: 'a', name: 'p2', containers: [{ name: 'c' }] })],
    logs: { 'a/p1/c': { generated: gen(1) }, 'a/p2/c': { generated: gen(2) } },
    containers: {
      'a/p1/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': 'id\nwhoami\n' } },
      'a/p2/c': { binaries: [] },
    },
  };
}

describe('collect exit codes', () => {
  let cluster: FixtureCluster;
  let dir: string;
  let kubeconfig: string;
  const collect = async (
    extra: string[] = [],
  ): Promise<{
    code: number;
    summary: { runId: string; exitCode: number; sources: Record<string, { status: string }>; gaps: Manifest['gaps'] } | undefined;
    io: ReturnType<typeof captureIo>;
  }> => {
    const io = captureIo(dir);
    const code = await runCli(['collect', '--kubeconfig', kubeconfig, '--out', 'evidence', '--sources', 'containerlogs,commandhistory', '--json', ...extra], io);
    const text = io.out();
    return { code, summary: text ? (JSON.parse(text) as never) : undefined, io };
  };

  beforeAll(async () => {
    cluster = await startFixtureCluster(scenario(), {});
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-exit-'));
    kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
  });
  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    cluster.faults.splice(0);
  });

  test('0: everything listed was collected (a container without a shell is coverage, not a gap)', async () => {
    const { code, summary } = await collect();
    expect(summary?.sources).toEqual({ containerlogs: expect.objectContaining({ status: 'complete' }), commandhistory: expect.objectContaining({ status: 'complete' }) });
    expect(code).toBe(EXIT.ok);
    expect(summary?.exitCode).toBe(EXIT.ok);
    // The coverage counts, summed over the source's tasks.
    expect((summary?.sources['commandhistory'] as { coverage?: unknown } | undefined)?.coverage).toEqual({
      containers: 2,
      read: 1,
      withHistory: 1,
      withoutHistory: 0,
      withoutShell: 1,
      notRunning: 0,
      failed: 0,
      historyFiles: 1,
      retried: 0,
    });
  });

  test('3: sealed, one named item missing (partial)', async () => {
    cluster.faults.push({ match: '/pods/p2/log', status: 403 });
    const { code, summary } = await collect();
    expect(summary?.sources['containerlogs']?.status).toBe('partial');
    expect(code).toBe(EXIT.gaps);
  });

  test('3: sealed, the pod list dead (failed prerequisite, named as a run-level gap)', async () => {
    cluster.faults.push({ match: 'GET /api/v1/pods', status: 503 });
    const { code, summary } = await collect();
    expect(code).toBe(EXIT.gaps);
    expect(summary?.sources).toEqual({ containerlogs: expect.objectContaining({ status: 'failed' }), commandhistory: expect.objectContaining({ status: 'failed' }) });
    expect(
      summary?.gaps
        .filter((g) => g.prerequisite === 'pod list')
        .map((g) => g.source)
        .sort(),
    ).toEqual(['commandhistory', 'containerlogs']);
  });

  test('2: bad input (a flag, an --out that is a file), and an unreachable cluster', async () => {
    const bad = await collect(['--log-idle-timeout', '0s']);
    expect(bad.code).toBe(EXIT.input);
    expect(bad.io.err()).toMatch(/--log-idle-timeout: must be from 1s to 1h/);
    await writeFile(join(dir, 'a-file'), 'not a directory');
    expect(await runCli(['collect', '--kubeconfig', kubeconfig, '--out', 'a-file/evidence', '--sources', 'containerlogs'], captureIo(dir))).toBe(EXIT.input);
    const io = captureIo(dir);
    const gone = join(dir, 'gone.kubeconfig');
    await writeFile(gone, (await readFile(kubeconfig, 'utf8')).replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1'), { mode: 0o600 });
    expect(await runCli(['collect', '--kubeconfig', gone, '--out', 'never'], io)).toBe(EXIT.input);
  });

  test('1: nothing sealed (the evidence store cannot be reached)', async () => {
    const io = captureIo(dir);
    // An Azurite-style connection string to a port nothing listens on: the Blob client gives up, nothing is written.
    const deadBlob =
      'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;';
    io.env = { ...io.env, AZURE_STORAGE_CONNECTION_STRING: deadBlob };
    expect(await runCli(['collect', '--kubeconfig', kubeconfig, '--out', 'http://127.0.0.1:1/devstoreaccount1/evidence', '--sources', 'events'], io)).toBe(EXIT.failed);
    expect(io.err()).toMatch(/^aks-evidence: cannot create container .*ECONNREFUSED/m);
  }, 120_000);
});

describe('ingest exit codes', () => {
  let emulator: LogsIngestionEmulator;
  let dir: string;
  const ingest = async (args: string[]): Promise<{ code: number; io: ReturnType<typeof captureIo> }> => {
    const io = captureIo(dir);
    const code = await runCli(['ingest', ...args], io, {
      ingest: { credential: emulator.credential, clientOptions: { ...emulator.clientOptions, retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 2 } } },
    });
    return { code, io };
  };
  const config = (): string => JSON.stringify({ ...emulator.targetDocument, retry: { attempts: 0, baseDelayMs: 1 } });

  beforeAll(async () => {
    emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-exit-ingest-'));
  });
  afterAll(async () => {
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    emulator.faults = [];
  });

  test('1 nothing delivered, 3 some delivered, 0 everything delivered', async () => {
    await writeRowsBundle({ dir, runId: 'run-x', tables: { kubelogs_CL: sampleRows('kubelogs_CL', 100), rbacbindings_CL: sampleRows('rbacbindings_CL', 10) } });
    emulator.faults = [{ status: 403 }];
    expect((await ingest(['run-x', '--config', config()])).code).toBe(EXIT.failed);
    emulator.faults = [{ status: 500, table: 'rbacbindings_CL' }];
    expect((await ingest(['run-x', '--config', config()])).code).toBe(EXIT.gaps);
    emulator.faults = [];
    const done = await ingest(['run-x', '--config', config()]);
    expect(done.code).toBe(EXIT.ok);
    expect(done.io.out()).toMatch(/COMPLETE/);
  });

  test('2: bad input (not a bundle, a bad config, a bad flag)', async () => {
    const notBundle = await ingest([join(dir, 'nothing-here'), '--config', config()]);
    expect(notBundle.code).toBe(EXIT.input);
    expect(notBundle.io.err()).toMatch(/<bundle>: evidence bundle directory .* does not exist/);
    await rm(join(dir, 'empty'), { recursive: true, force: true });
    await mkdir(join(dir, 'empty'));
    const empty = await ingest([join(dir, 'empty'), '--config', config()]);
    expect(empty.code).toBe(EXIT.input);
    expect(empty.io.err()).toMatch(/<bundle>: .* holds no manifest\.json/);
    await writeRowsBundle({ dir, runId: 'run-y', tables: { cronjobs_CL: sampleRows('cronjobs_CL', 3) } });
    expect((await ingest(['run-y', '--config', '{"endpoint":"http://x","tables":{}}'])).code).toBe(EXIT.input);
    expect((await ingest(['run-y', '--config', config(), '--concurrency', '0'])).code).toBe(EXIT.input);
  });
});
