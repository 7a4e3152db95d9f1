import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { KubeApi } from '../../shared/cluster/kubeApi.js';
import { KubeAuth } from '../../shared/cluster/kubeAuth.js';
import { loadKubeConfig } from '../../shared/cluster/kubeConfig.js';
import { generateTestCa, issueServerCert, type TestCa } from '../../shared/simulator/tls.js';

/**
 * Every way a kubeconfig user authenticates, against a loopback HTTPS server that checks what a
 * Kubernetes API server checks: the bearer token or basic credentials, a client certificate
 * signed by its CA, impersonation headers. It answers 401 to tokens it was told to refuse.
 */

interface Seen {
  authorization?: string;
  clientCn?: string;
  impersonate: Record<string, string | string[] | undefined>;
}

const SECRET_TOKEN = 'token-that-must-never-be-printed';

async function clientCert(ca: TestCa, cn: string): Promise<{ certPem: string; keyPem: string }> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 86_400_000),
    ca: { key: ca.keyPem, cert: ca.certPem },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { certPem: pems.cert, keyPem: pems.private };
}

describe('KubeAuth: every kubeconfig authentication mode, on the wire', () => {
  let server: Server;
  let url: string;
  let ca: TestCa;
  let caPem: string;
  let dir: string;
  const seen: Seen[] = [];
  const refused = new Set<string>();

  beforeAll(async () => {
    ca = await generateTestCa();
    const cert = await issueServerCert(ca);
    caPem = cert.caPem;
    server = createServer({ key: cert.keyPem, cert: cert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.authorized ? socket.getPeerCertificate() : undefined;
      const impersonate = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('impersonate-')));
      const entry: Seen = { impersonate };
      if (req.headers.authorization) entry.authorization = req.headers.authorization;
      if (peer?.subject?.CN) entry.clientCn = String(peer.subject.CN);
      seen.push(entry);
      const token = req.headers.authorization?.replace(/^Bearer /, '');
      if (token && refused.has(token)) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401, message: 'Unauthorized' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind":"NamespaceList","items":[]}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-auth-'));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    refused.clear();
  });

  /** A kubeconfig file in its own directory (relative paths resolve against it). */
  async function kubeconfigFile(user: Record<string, unknown>, name: string, cluster: Record<string, unknown> = {}): Promise<string> {
    const file = join(dir, `${name}.kubeconfig`);
    await writeFile(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64'), ...cluster } }],
        users: [{ name, user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: name } }],
        'current-context': 'x',
      }),
    );
    return file;
  }

  const list = (file: string) => KubeApi.for(loadKubeConfig({ kubeconfigPath: file })).getJson('/api/v1/namespaces');
  const failure = (file: string): Promise<Error> =>
    list(file).then(
      () => {
        throw new Error('expected the request to fail');
      },
      (e: unknown) => e as Error,
    );

  test('a bearer token, with impersonation of a user, groups, uid and extra', async () => {
    const file = await kubeconfigFile({ token: SECRET_TOKEN, as: 'alice', 'as-groups': ['ir', 'sre'], 'as-uid': 'u-1', 'as-user-extra': { scopes: ['a', 'b'] } }, 'bearer');
    await list(file);
    expect(seen[0]).toEqual({
      authorization: `Bearer ${SECRET_TOKEN}`,
      impersonate: { 'impersonate-user': 'alice', 'impersonate-group': 'ir, sre', 'impersonate-uid': 'u-1', 'impersonate-extra-scopes': 'a, b' },
    });
  });

  test('basic credentials', async () => {
    await list(await kubeconfigFile({ username: 'admin', password: 'pa:ss' }, 'basic'));
    expect(seen[0]?.authorization).toBe(`Basic ${Buffer.from('admin:pa:ss').toString('base64')}`);
  });

  test('a client certificate and key from files named relative to the kubeconfig, and from inline data', async () => {
    const pair = await clientCert(ca, 'cert-user');
    await writeFile(join(dir, 'client.crt'), pair.certPem);
    await writeFile(join(dir, 'client.key'), pair.keyPem);
    await list(await kubeconfigFile({ 'client-certificate': 'client.crt', 'client-key': 'client.key' }, 'certfiles'));
    await list(
      await kubeconfigFile({ 'client-certificate-data': Buffer.from(pair.certPem).toString('base64'), 'client-key-data': Buffer.from(pair.keyPem).toString('base64') }, 'certdata'),
    );
    expect(seen.map((s) => s.clientCn)).toEqual(['cert-user', 'cert-user']);
    expect(seen.every((s) => s.authorization === undefined)).toBe(true);
  });

  test('a token-file is read again after a minute (projected tokens rotate)', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'first-token\n');
    const kc = loadKubeConfig({ kubeconfigPath: await kubeconfigFile({ 'token-file': 'token' }, 'tokenfile') });
    let now = 1_000_000;
    const auth = new KubeAuth(kc, { now: () => now });
    expect((await auth.resolve()).headers.Authorization).toBe('Bearer first-token');
    await writeFile(tokenFile, 'second-token\n');
    now += 30_000;
    expect((await auth.resolve()).headers.Authorization).toBe('Bearer first-token');
    now += 31_000;
    expect((await auth.resolve()).headers.Authorization).toBe('Bearer second-token');
  });

  describe('exec credential plugins', () => {
    /** A plugin script: prints an ExecCredential, records what it was given. */
    async function plugin(name: string, body: string): Promise<string> {
      const file = join(dir, name);
      await writeFile(file, `#!${process.execPath}\n${body}\n`);
      await chmod(file, 0o755);
      return file;
    }

    test('runs the command with its args and env and KUBERNETES_EXEC_INFO; caches the token until it expires; a 401 runs it again', async () => {
      const record = join(dir, 'exec-record.ndjson');
      await plugin(
        'exec-token.js',
        `const fs = require('fs');
         const n = fs.existsSync(${JSON.stringify(record)}) ? fs.readFileSync(${JSON.stringify(record)}, 'utf8').split('\\n').filter(Boolean).length : 0;
         fs.appendFileSync(${JSON.stringify(record)}, JSON.stringify({ args: process.argv.slice(2), env: process.env.PLUGIN_SETTING, info: JSON.parse(process.env.KUBERNETES_EXEC_INFO) }) + '\\n');
         process.stderr.write('plugin: signing in\\n');
         console.log(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: 'exec-token-' + n, expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));`,
      );
      const file = await kubeconfigFile(
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: './exec-token.js',
            args: ['get-token', '--server-id', 'x'],
            env: [{ name: 'PLUGIN_SETTING', value: 'on' }],
            interactiveMode: 'Never',
            provideClusterInfo: true,
          },
        },
        'exec',
        { extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { audience: 'aks' } }] },
      );
      const kc = loadKubeConfig({ kubeconfigPath: file });
      const api = new KubeApi(kc);
      await api.getJson('/api/v1/namespaces');
      await api.getJson('/api/v1/namespaces');
      expect(seen.map((s) => s.authorization)).toEqual(['Bearer exec-token-0', 'Bearer exec-token-0']);
      const runs = (await readFile(record, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { args: string[]; env: string; info: { spec: Record<string, unknown> } });
      expect(runs).toHaveLength(1);
      expect(runs[0]).toMatchObject({ args: ['get-token', '--server-id', 'x'], env: 'on' });
      expect(runs[0]?.info).toEqual({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        spec: { interactive: false, cluster: { server: url, 'certificate-authority-data': Buffer.from(caPem).toString('base64'), config: { audience: 'aks' } } },
      });
      // The server stops accepting the token: the request is asked again with a fresh one.
      refused.add('exec-token-0');
      await api.getJson('/api/v1/namespaces');
      expect(seen.slice(2).map((s) => s.authorization)).toEqual(['Bearer exec-token-0', 'Bearer exec-token-1']);
      await api.close();
    });

    test('a plugin that returns a client certificate and key', async () => {
      const pair = await clientCert(ca, 'exec-cert-user');
      await plugin(
        'exec-cert.js',
        `console.log(${JSON.stringify(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { clientCertificateData: pair.certPem, clientKeyData: pair.keyPem } }))});`,
      );
      await list(await kubeconfigFile({ exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: join(dir, 'exec-cert.js') } }, 'execcert'));
      expect(seen[0]?.clientCn).toBe('exec-cert-user');
    });

    test('a missing plugin names its install hint; a failing or garbled one says so without quoting its output', async () => {
      const missing = await kubeconfigFile({ exec: { command: 'kubelogin-not-installed', installHint: 'install kubelogin: https://aka.ms/aks/kubelogin' } }, 'missing');
      await expect(list(missing)).rejects.toThrow('exec credential plugin "kubelogin-not-installed" was not found: install kubelogin: https://aka.ms/aks/kubelogin');
      await plugin('exec-fail.js', `console.log('${SECRET_TOKEN}'); process.exit(3);`);
      const failing = await failure(await kubeconfigFile({ exec: { command: join(dir, 'exec-fail.js') } }, 'failing'));
      expect(failing.message).toContain('exited with code 3');
      await plugin('exec-garbled.js', `console.log('not json ${SECRET_TOKEN}');`);
      const garbled = await failure(await kubeconfigFile({ exec: { command: join(dir, 'exec-garbled.js') } }, 'garbled'));
      expect(garbled.message).toContain('did not print an ExecCredential');
      for (const e of [failing, garbled]) expect(`${e.message} ${JSON.stringify(e)}`).not.toContain(SECRET_TOKEN);
      const interactive = await failure(await kubeconfigFile({ exec: { command: join(dir, 'exec-fail.js'), interactiveMode: 'Always' } }, 'interactive'));
      expect(interactive.message).toContain('needs an interactive terminal');
      expect(seen).toHaveLength(0);
    });
  });

  test('a legacy auth-provider (oidc with a valid id-token) goes through client-node, loaded only for it', async () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const idToken = `${b64({ alg: 'none' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, sub: 'oidc-user' })}.sig`;
    await list(
      await kubeconfigFile({ 'auth-provider': { name: 'oidc', config: { 'id-token': idToken, 'idp-issuer-url': 'https://issuer.invalid', 'client-id': 'k8s' } } }, 'oidc'),
    );
    expect(seen[0]?.authorization).toBe(`Bearer ${idToken}`);
  });
});
