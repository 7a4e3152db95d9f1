/**
 * No secret leaves the cluster's hands (CLI path): a simulated cluster seeded with marker
 * secrets in Secrets, env values of every pod template kind, last-applied annotations,
 * serialized-object annotations and ConfigMaps, collected with a kubeconfig whose server URL
 * carries user:password and a sig= query and whose user carries a token; then ingested through
 * the Logs Ingestion emulator. Every artifact (gunzipped), every ingested row, stdout and stderr
 * are grepped for every marker.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import type { CliIo } from '../../shared/cli/io.js';
import { registerIngestCommand } from '../../shared/cli/ingest.js';
import { runCli } from '../../shared/cli/main.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { shiftScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { allMarkers, ENV_VALUES, markerScenario, PLAIN, SERIALIZED_ANNOTATIONS } from './markerScenario.js';
import { directoryTexts, hits, type Text } from './scan.js';

const KUBECONFIG_PASSWORD = 'MKR-KUBECONFIG-PASSWORD-c0ffee42';
const KUBECONFIG_SIG = 'MKR-KUBECONFIG-SIG-c0ffee42';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function capture(cwd: string): CliIo & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { stdout, stderr, env: { HOME: cwd }, cwd, out: () => o, err: () => e };
}

describe('marker secrets never leave the cluster (CLI collect + ingest)', () => {
  let cluster: FixtureCluster;
  let emulator: LogsIngestionEmulator;
  let dir: string;
  let kubeconfig: string;
  let secrets: string[];

  beforeAll(async () => {
    [cluster, emulator] = await Promise.all([
      startFixtureCluster(shiftScenario(markerScenario(), new Date())),
      startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-markers-'));
    kubeconfig = join(dir, 'kubeconfig');
    // Credentials where they do not belong: userinfo and a SAS-like query in the server URL.
    const server = `${cluster.server.replace('https://', `https://alice:${KUBECONFIG_PASSWORD}@`)}/?sig=${KUBECONFIG_SIG}`;
    await writeFile(kubeconfig, cluster.kubeconfigYaml.replace(cluster.server, server), { mode: 0o600 });
    secrets = [...allMarkers().map((m) => m.marker), KUBECONFIG_PASSWORD, KUBECONFIG_SIG, cluster.token];
  });
  afterAll(async () => {
    await Promise.all([cluster?.stop(), emulator?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function collectAndIngest(out: string, extra: string[]): Promise<{ runId: string; bundle: string; printed: Text[]; rows: Text[] }> {
    const io = capture(dir);
    const code = await runCli(['collect', '--kubeconfig', kubeconfig, '--out', out, '--case', 'IR-MARKERS', '--since', '7d', '--json', ...extra], io);
    expect(io.err()).not.toMatch(/unexpected error/);
    expect([0, 3]).toContain(code); // sealed (with gaps where the simulated cluster has no shell for history)
    const summary = JSON.parse(io.out()) as { runId: string };
    const bundle = join(dir, out, summary.runId);

    const ingestIo = capture(dir);
    let ingestCode = -1;
    const program = new Command().exitOverride();
    registerIngestCommand(program, ingestIo, (c) => (ingestCode = c), { credential: emulator.credential, clientOptions: emulator.clientOptions });
    await program.parseAsync(['ingest', bundle, '--config', JSON.stringify(emulator.targetDocument)], { from: 'user' });
    expect(ingestCode).toBe(0);

    const rows: Text[] = [];
    for (const table of SOURCES.tables.tables) {
      emulator.accepted(table.name).forEach((row, i) => {
        if (row['RunId'] === summary.runId) rows.push({ where: `ingested ${table.name} #${i}`, text: JSON.stringify(row) });
      });
    }
    return {
      runId: summary.runId,
      bundle,
      printed: [
        { where: 'collect stdout', text: io.out() },
        { where: 'collect stderr', text: io.err() },
        { where: 'ingest stdout', text: ingestIo.out() },
        { where: 'ingest stderr', text: ingestIo.err() },
      ],
      rows,
    };
  }

  test('default: zero marker hits in every artifact, every ingested row, stdout and stderr', async () => {
    const run = await collectAndIngest('evidence-hash', []);
    const artifacts = await directoryTexts(run.bundle);
    expect(artifacts.length).toBeGreaterThan(20);
    expect(run.rows.length).toBeGreaterThan(20);
    expect(hits([...artifacts, ...run.rows, ...run.printed], secrets)).toEqual([]);

    // What a responder still gets: the rows keep plain annotations and labels, and the hash of what was redacted.
    const logRows = run.rows.filter((r) => r.where.startsWith('ingested kubelogs_CL')).map((r) => JSON.parse(r.text) as Record<string, string>);
    expect(logRows.length).toBeGreaterThanOrEqual(3);
    for (const row of logRows.filter((r) => r['pod_name'] === 'web')) {
      const annotations = JSON.parse(row['annotations']!) as Record<string, string>;
      expect(annotations['team']).toBe(PLAIN.annotation);
      expect(annotations[LAST_APPLIED]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(annotations['example.com/settings']).toBe(sha(JSON.stringify({ token: SERIALIZED_ANNOTATIONS.podJson })));
      expect(JSON.parse(row['labels']!)).toEqual({ app: 'web', tier: PLAIN.label });
    }
    // Raw pods keep the env names and the value's SHA-256 (a known value can still be matched).
    const rawPods = artifacts
      .filter((a) => /sources\/snapshot\/.*pods/.test(a.where))
      .map((a) => a.text)
      .join('\n');
    expect(rawPods).toContain(sha(ENV_VALUES.pod));
    expect(rawPods).toContain('"name":"API_KEY"');
    expect(rawPods).toContain('"secretKeyRef"');
    const manifest = JSON.parse(artifacts.find((a) => a.where === 'manifest.json')!.text) as { valueHandling?: Record<string, unknown>; cluster: { server: string } };
    expect(manifest.valueHandling).toMatchObject({ envValues: 'sha256', serializedAnnotations: 'sha256', rows: 'redacted' });
    expect(manifest.cluster.server).toBe(cluster.server);
  });

  test('--env-values keep: env values and serialized annotations only in raw artifacts of the bundle, never in rows', async () => {
    const run = await collectAndIngest('evidence-keep', ['--env-values', 'keep']);
    const artifacts = await directoryTexts(run.bundle);
    const raw = artifacts.filter((a) => !a.where.endsWith('.rows.ndjson.gz') && a.where.startsWith('sources/') && !a.where.endsWith('.summary.json'));
    const rest = artifacts.filter((a) => !raw.includes(a));
    const kept = allMarkers()
      .filter((m) => m.group !== 'always')
      .map((m) => m.marker);
    const always = secrets.filter((s) => !kept.includes(s));
    // Each kept value is somewhere in the raw objects…
    const inRaw = new Set(hits(raw, kept).map((h) => h.marker));
    expect(kept.filter((m) => !inRaw.has(m))).toEqual([]);
    // …and nowhere else: not in rows artifacts, summaries, manifest, custody, ingested rows or output.
    expect(hits([...rest, ...run.rows, ...run.printed], kept)).toEqual([]);
    expect(hits([...artifacts, ...run.rows, ...run.printed], always)).toEqual([]);
    const manifest = JSON.parse(artifacts.find((a) => a.where === 'manifest.json')!.text) as { valueHandling?: Record<string, unknown>; request: Record<string, unknown> };
    expect(manifest.valueHandling).toMatchObject({ envValues: 'kept-in-raw-artifacts', serializedAnnotations: 'kept-in-raw-artifacts', rows: 'redacted' });
    expect(manifest.request['envValues']).toBe('keep');
  });

  test('a kubeconfig server URL with user:password and ?sig= collects with its token and prints neither', async () => {
    // The same kubeconfig, with the cluster stopped: the failure message names the server without them.
    const stopped = await startFixtureCluster({ name: 'empty', objects: [] });
    const kc = join(dir, 'kubeconfig-stopped');
    await writeFile(kc, stopped.kubeconfigYaml.replace(stopped.server, `${stopped.server.replace('https://', `https://alice:${KUBECONFIG_PASSWORD}@`)}/?sig=${KUBECONFIG_SIG}`), {
      mode: 0o600,
    });
    await stopped.stop();
    const io = capture(dir);
    expect(await runCli(['collect', '--kubeconfig', kc, '--out', 'never'], io)).toBe(2);
    expect(io.err()).toContain(stopped.server);
    expect(hits([{ where: 'stderr', text: io.err() + io.out() }], [KUBECONFIG_PASSWORD, KUBECONFIG_SIG, stopped.token])).toEqual([]);
    expect((await readdir(dir)).includes('never')).toBe(false);
  });
});
