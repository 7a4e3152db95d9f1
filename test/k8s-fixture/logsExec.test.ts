/**
 * Pod logs and exec on the fixture API server, through client-node's Log and Exec.
 */
import { PassThrough, Writable } from 'node:stream';
import { ApiException, Exec, Log, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { HISTORY_SCRIPT, historyCommand } from '../../shared/sources/commandhistory/historyScript.js';
import { HistoryStreamParser } from '../../shared/sources/commandhistory/historyParse.js';
import { generateCluster, generatedNames } from '../../shared/simulator/kube/generate.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { generatedMessage } from '../../shared/simulator/kube/logs.js';
import type { FixtureCluster, FixtureOptions, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const NOW = new Date('2024-06-01T12:00:00Z'); // the compromise scenario's own reference time

interface LogResult {
  text: string;
  bytes: number;
}

async function readLog(kc: KubeConfig, ns: string, pod: string, container: string, options: Parameters<Log['log']>[5] = {}): Promise<LogResult> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const finished = new Promise<void>((resolve, reject) => {
    sink.on('finish', resolve);
    sink.on('error', reject);
  });
  await new Log(kc).log(ns, pod, container, sink, options);
  await finished;
  const buf = Buffer.concat(chunks);
  return { text: buf.toString('utf8'), bytes: buf.length };
}

async function logError(kc: KubeConfig, ns: string, pod: string, container: string, options: Parameters<Log['log']>[5] = {}): Promise<number | undefined> {
  try {
    await readLog(kc, ns, pod, container, options);
    return undefined;
  } catch (e) {
    return e instanceof ApiException ? e.code : -1;
  }
}

interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  status: V1Status | undefined;
  protocol: string;
}

async function exec(kc: KubeConfig, ns: string, pod: string, container: string, command: string[]): Promise<ExecResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  let status: V1Status | undefined;
  const ws = await new Exec(kc).exec(ns, pod, container, command, stdout, stderr, null, false, (s) => {
    status = s;
  });
  await new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.on('close', () => resolve())));
  return { stdout: Buffer.concat(out), stderr: Buffer.concat(err), status, protocol: ws.protocol };
}

/** The files the history script printed, through the collector's own protocol parser (each file checked whole). */
function parseHistory(out: Buffer): Map<string, string> {
  const files = new Map<string, Buffer[]>();
  const parser = new HistoryStreamParser({
    onEntries: () => undefined,
    onFile: (path) => files.set(path, []),
    onFileData: (path, chunk) => files.get(path)!.push(Buffer.from(chunk)),
  });
  parser.push(out);
  parser.end();
  return new Map([...files].map(([path, chunks]) => [path, Buffer.concat(chunks).toString('utf8')]));
}

async function start(mutate?: (s: Scenario) => void, options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig; scenario: Scenario }> {
  const scenario = await loadScenario('compromise', { now: NOW });
  mutate?.(scenario);
  const cluster = await startFixtureCluster(scenario, { now: () => NOW, ...options });
  return { cluster, kc: fixtureKubeConfig(cluster), scenario };
}

describe('pod logs', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  beforeAll(async () => ({ cluster, kc } = await start()));
  afterAll(async () => cluster.stop());

  test('timestamps=true prefixes RFC3339Nano on every line; a continuation line carries the time of the line it was written with', async () => {
    const { text } = await readLog(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', { timestamps: true });
    const lines = text.split('\n').slice(0, -1);
    expect(lines.length).toBe(10);
    expect(lines[0]).toBe('2024-06-01T09:58:00.101200000Z INFO  [main] api 5.2.0 listening on :8080');
    expect(lines[4]).toBe('2024-06-01T10:00:02.004100000Z java.lang.RuntimeException: template evaluation failed');
    expect(lines[5]).toBe('2024-06-01T10:00:02.004100000Z     at com.contoso.api.TemplateRenderer.render(TemplateRenderer.java:88)');
    expect(lines[9]).toBe('2024-06-01T11:59:00.000000001Z INFO  [http-4] GET /api/orders 200 14ms');
    const plain = await readLog(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api');
    expect(plain.text.split('\n')[0]).toBe('INFO  [main] api 5.2.0 listening on :8080');
  });

  test('previous log of a restarted container; 400 when there is none', async () => {
    const prev = await readLog(kc, 'prod', 'web-frontend-6b8d9c7f4-fghij', 'web', { previous: true, timestamps: true });
    expect(prev.text.trim().split('\n').pop()).toBe('2024-06-01T11:30:54.900000000Z fatal: out of memory');
    const cur = await readLog(kc, 'prod', 'web-frontend-6b8d9c7f4-fghij', 'web');
    expect(cur.text).toBe('starting web-frontend 2.4.1\nlistening on :8443\n');
    expect(await logError(kc, 'prod', 'web-frontend-6b8d9c7f4-abcde', 'web', { previous: true })).toBe(400);
  });

  test('sinceSeconds filters by line time against the server clock', async () => {
    const all = await readLog(kc, 'kube-system', 'coredns-5d8c7f6b9d-abcde', 'coredns');
    expect(all.text.split('\n').length - 1).toBe(3);
    const day = await readLog(kc, 'kube-system', 'coredns-5d8c7f6b9d-abcde', 'coredns', { sinceSeconds: 86_400 });
    expect(day.text.split('\n').length - 1).toBe(2);
    const hour = await readLog(kc, 'kube-system', 'coredns-5d8c7f6b9d-abcde', 'coredns', { sinceSeconds: 3_600 });
    expect(hour.text).toContain('corp.example.com');
    expect(hour.text.split('\n').length - 1).toBe(1);
    // A continuation line is filtered by the time it was written with (11:45:06.3, inside the window).
    const runner = await readLog(kc, 'kube-system', 'cleanup-28620465-x7k2p', 'runner', { sinceSeconds: 60 * 15 });
    expect(runner.text).toContain('installing xmrig');
    const later = await readLog(kc, 'kube-system', 'cleanup-28620465-x7k2p', 'runner', { sinceTime: '2024-06-01T11:45:10Z' });
    expect(later.text).toBe('connected to pool 198.51.100.7:3333\n');
  });

  test('container selection like the real server: required for multi-container pods, init and ephemeral addressable', async () => {
    expect(await logError(kc, 'prod', 'web-frontend-6b8d9c7f4-abcde', '')).toBe(400);
    expect(await logError(kc, 'prod', 'web-frontend-6b8d9c7f4-abcde', 'nope')).toBe(400);
    const init = await readLog(kc, 'prod', 'web-frontend-6b8d9c7f4-abcde', 'init-config');
    expect(init.text).toBe('copied 3 files\n');
    const eph = await readLog(kc, 'default', 'nginx-7d9c8b7f5-2xkqp', 'debugger-k8s7x');
    expect(eph.text).toBe('/ # \n');
    // Single-container pod: the container may be omitted.
    const single = await readLog(kc, 'prod', 'postgres-0', '');
    expect(single.text).toContain('COPY (SELECT * FROM customers)');
  });

  test('tailLines and limitBytes', async () => {
    const tail = await readLog(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', { tailLines: 2 });
    expect(tail.text).toBe('INFO  [http-3] GET /healthz 200 2ms\nINFO  [http-4] GET /api/orders 200 14ms\n');
    const limited = await readLog(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', { limitBytes: 10 });
    expect(limited.text).toBe('INFO  [mai');
  });

  test('404 for an unknown or vanished pod, 400 for a container waiting to start', async () => {
    expect(await logError(kc, 'prod', 'no-such-pod', 'x')).toBe(404);
    expect(await logError(kc, 'dev', 'broken-image', 'app')).toBe(400);
    const { cluster: c2, kc: kc2 } = await start();
    try {
      expect((await readLog(kc2, 'dev', 'dev-toolbox-7c8d9e0f1-pqrst', 'toolbox')).text).toBe('toolbox ready\n');
      c2.deleteObject('Pod', 'dev', 'dev-toolbox-7c8d9e0f1-pqrst');
      expect(await logError(kc2, 'dev', 'dev-toolbox-7c8d9e0f1-pqrst', 'toolbox')).toBe(404);
      expect(c2.objectsOf('v1', 'Pod').some((p) => p.metadata.name === 'dev-toolbox-7c8d9e0f1-pqrst')).toBe(false);
    } finally {
      await c2.stop();
    }
  });
});

describe('generated logs stream without being held in memory', () => {
  test('a generated cluster serves exact, deterministic lines, previous logs on every n-th pod', async () => {
    const now = new Date('2024-06-01T12:00:00Z');
    const scenario = generateCluster({ pods: 30, containersPerPod: 2, linesPerContainer: 20_000, lineBytes: 120, restartEvery: 10, now, untimestampedEvery: 1000 });
    expect(scenario.objects.filter((o) => o.kind === 'Pod').length).toBe(30);
    const cluster = await startFixtureCluster(scenario, { now: () => now });
    try {
      const kc = fixtureKubeConfig(cluster);
      const { namespace, pod } = generatedNames(10, 20);
      const log = await readLog(kc, namespace, pod, 'c1', { timestamps: true });
      const lines = log.text.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.length).toBe(20_000);
      // Every line is "<RFC3339Nano> <120 bytes>"; every 1000th was written with the line before, at its time.
      expect(lines.filter((l) => !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /.test(l)).length).toBe(0);
      const spec = scenario.logs![`${namespace}/${pod}/c1`]!.generated!;
      expect(lines[0]).toBe(`${new Date(Date.parse(spec.startTime)).toISOString().replace('Z', '000000Z')} ${generatedMessage(spec, 0)}`);
      expect(lines[999]!.slice(0, 30)).toBe(lines[998]!.slice(0, 30));
      expect(lines[999]!.slice(31)).toBe(generatedMessage(spec, 999));
      expect(log.bytes).toBe(20_000 * (121 + 31));
      const prev = await readLog(kc, namespace, pod, 'c0', { previous: true });
      expect(prev.text.split('\n').length - 1).toBe(20_000);
      const other = generatedNames(11, 20);
      expect(await logError(kc, other.namespace, other.pod, 'c0', { previous: true })).toBe(400);
      // sinceSeconds on generated lines: 12 h of lines end a minute before now; the last hour holds ~1/12.
      const hour = await readLog(kc, namespace, pod, 'c1', { sinceSeconds: 3600 });
      const n = hour.text.split('\n').length - 1;
      expect(n).toBeGreaterThan(1500);
      expect(n).toBeLessThan(1700);
    } finally {
      await cluster.stop();
    }
  });

  test('generateCluster is deterministic per seed', () => {
    const now = new Date('2024-06-01T12:00:00Z');
    const a = generateCluster({ pods: 50, seed: 7, now });
    const b = generateCluster({ pods: 50, seed: 7, now });
    const c = generateCluster({ pods: 50, seed: 8, now });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.containers)).not.toBe(JSON.stringify(c.containers));
    const withHistory = Object.values(a.containers!).filter((r) => r.files).length;
    expect(withHistory).toBeGreaterThan(3);
    expect(withHistory).toBeLessThan(25);
  });
});

describe('exec over WebSocket', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  beforeAll(async () => ({ cluster, kc } = await start()));
  afterAll(async () => cluster.stop());

  test('v5: the history script returns every history file in the output protocol', async () => {
    const r = await exec(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', historyCommand());
    expect(r.protocol).toBe('v5.channel.k8s.io');
    expect(r.status).toEqual({ metadata: {}, status: 'Success' });
    const files = parseHistory(r.stdout);
    expect([...files.keys()]).toEqual(['/root/.bash_history', '/home/app/.python_history']);
    expect(files.get('/root/.bash_history')).toContain('cat /var/run/secrets/kubernetes.io/serviceaccount/token');
    // The loader shifted nothing here (now = referenceTime): the epochs are the file's.
    expect(files.get('/root/.bash_history')!.split('\n')[0]).toBe('#1717236000');
    const zsh = parseHistory((await exec(kc, 'dev', 'dev-toolbox-7c8d9e0f1-pqrst', 'toolbox', historyCommand('/bin/zsh'))).stdout);
    expect([...zsh.entries()]).toEqual([
      ['/root/.bash_history', ''],
      ['/home/dev/.zsh_history', ': 1717232400:0;kubectl get pods -A\n: 1717232460:2;kubectl auth can-i --list\n: 1717232520:0;git pull\n'],
    ]);
    const eph = parseHistory((await exec(kc, 'default', 'nginx-7d9c8b7f5-2xkqp', 'debugger-k8s7x', historyCommand())).stdout);
    expect(eph.get('/root/.ash_history')).toContain('cat /proc/1/environ');
    const none = await exec(kc, 'default', 'nginx-7d9c8b7f5-2xkqp', 'nginx', ['/bin/sh', '-c', HISTORY_SCRIPT]);
    expect(none.stdout.length).toBe(0);
    expect(none.status?.status).toBe('Success');
  });

  test('non-zero exit code and stderr', async () => {
    const r = await exec(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', ['/bin/sh', '-c', 'exit 3']);
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '3' }] } });
    const cat = await exec(kc, 'prod', 'api-5f6d7c8b9-klmno', 'api', ['cat', '/etc/hostname', '/nope']);
    expect(cat.stdout.toString()).toBe('api-5f6d7c8b9-klmno\n');
    expect(cat.stderr.toString()).toBe('cat: /nope: No such file or directory\n');
    expect(cat.status?.details?.causes?.[0]?.message).toBe('1');
  });

  test('missing binary fails like the container runtime (distroless)', async () => {
    const r = await exec(kc, 'kube-system', 'coredns-5d8c7f6b9d-abcde', 'coredns', historyCommand());
    expect(r.status?.status).toBe('Failure');
    expect(r.status?.message).toContain(
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown',
    );
    const bash = await exec(kc, 'kube-system', 'kube-proxy-x1a2b', 'kube-proxy', historyCommand('/bin/bash'));
    expect(bash.status?.message).toContain('stat /bin/bash: no such file or directory');
  });

  test('exec into a missing pod, a finished container or an unknown container is refused before upgrade', async () => {
    await expect(exec(kc, 'prod', 'gone', 'x', ['sh'])).rejects.toBeDefined();
    const missing = await exec(kc, 'prod', 'gone', 'x', ['sh']).catch((e: { message?: string }) => e.message ?? String(e));
    expect(missing).toContain('404');
    const finished = await exec(kc, 'kube-system', 'cleanup-28620465-x7k2p', 'runner', ['/bin/sh', '-c', 'true']).catch((e: { message?: string }) => e.message);
    expect(finished).toContain('400');
    const unknown = await exec(kc, 'prod', 'api-5f6d7c8b9-klmno', 'nope', ['/bin/sh']).catch((e: { message?: string }) => e.message);
    expect(unknown).toContain('400');
  });

  test('every accepted exec is in execLog', async () => {
    const before = cluster.execLog.length;
    await exec(kc, 'kube-sys-tools', 'node-agent-x9z8y', 'agent', historyCommand());
    expect(cluster.execLog.slice(before)).toEqual([{ namespace: 'kube-sys-tools', pod: 'node-agent-x9z8y', container: 'agent', command: historyCommand() }]);
  });

  test('a vanished pod: exec answers 404 afterwards', async () => {
    const { cluster: c2, kc: kc2 } = await start();
    try {
      await exec(kc2, 'prod', 'postgres-0', 'postgres', ['/bin/sh', '-c', 'exit 0']);
      c2.deleteObject('Pod', 'prod', 'postgres-0');
      const err = await exec(kc2, 'prod', 'postgres-0', 'postgres', ['/bin/sh', '-c', 'exit 0']).catch((e: { message?: string }) => e.message);
      expect(err).toContain('404');
    } finally {
      await c2.stop();
    }
  });

  test('v4 server: same channels, status on channel 3', async () => {
    const { cluster: c4, kc: kc4 } = await start(undefined, { execProtocols: ['v4.channel.k8s.io'] });
    try {
      const r = await exec(kc4, 'prod', 'api-5f6d7c8b9-klmno', 'api', ['/bin/sh', '-c', 'exit 5']);
      expect(r.protocol).toBe('v4.channel.k8s.io');
      expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '5' }] } });
      const h = await exec(kc4, 'kube-sys-tools', 'node-agent-x9z8y', 'agent', historyCommand());
      expect(parseHistory(h.stdout).get('/root/.bash_history')).toContain('nsenter -t 1 -m -u -i -n sh');
    } finally {
      await c4.stop();
    }
  });

  test('base64.channel.k8s.io: text frames with the channel digit', async () => {
    const opts: Record<string, unknown> = {};
    await kc.applyToHTTPSOptions(opts);
    const url = `${cluster.server.replace('https', 'wss')}/api/v1/namespaces/prod/pods/api-5f6d7c8b9-klmno/exec?command=cat&command=%2Fetc%2Fhostname&stdout=true&stderr=true`;
    const ws = new WebSocket(url, ['base64.channel.k8s.io'], opts);
    const frames: string[] = [];
    ws.on('message', (d, isBinary) => {
      expect(isBinary).toBe(false);
      frames.push(d.toString());
    });
    await new Promise((r) => ws.on('close', r));
    expect(frames[0]).toBe('1'); // the empty "stream open" frame
    expect(frames[1]).toBe(`1${Buffer.from('api-5f6d7c8b9-klmno\n').toString('base64')}`);
    expect(JSON.parse(Buffer.from(frames[frames.length - 1]!.slice(1), 'base64').toString())).toEqual({ metadata: {}, status: 'Success' });
  });

  test('forbidden pods/exec: 403 before upgrade', async () => {
    const { cluster: cf, kc: kcf } = await start((s) => {
      s.forbidden = ['pods/exec'];
    });
    try {
      const err = await exec(kcf, 'prod', 'api-5f6d7c8b9-klmno', 'api', historyCommand()).catch((e: { message?: string }) => e.message);
      expect(err).toContain('403');
      expect(cf.execLog.length).toBe(0);
    } finally {
      await cf.stop();
    }
  });
});
