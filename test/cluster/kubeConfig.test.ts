import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KubeAuth } from '../../shared/cluster/kubeAuth.js';
import { describeCluster, kubeConfigFromToken, KubeConfigError, loadKubeConfig } from '../../shared/cluster/kubeConfig.js';

const SECRET = 'super-secret-token-value';

function kubeconfig(contexts: string[], current: string | undefined, server = 'https://aks-1.example:443'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: contexts.map((c) => ({ name: c, cluster: { server, 'certificate-authority-data': Buffer.from('pem').toString('base64') } })),
    users: contexts.map((c) => ({ name: c, user: { token: SECRET } })),
    contexts: contexts.map((c) => ({ name: c, context: { cluster: c, user: c } })),
    ...(current ? { 'current-context': current } : {}),
  });
}

describe('loadKubeConfig', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-kc-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('loads a file and a YAML string; selects the current or the requested context', async () => {
    const file = join(dir, 'config');
    await writeFile(file, kubeconfig(['prod', 'staging'], 'prod'));
    expect(describeCluster(loadKubeConfig({ kubeconfigPath: file }))).toEqual({ server: 'https://aks-1.example:443', name: 'prod' });
    expect(loadKubeConfig({ kubeconfigPath: file, context: 'staging' }).getCurrentContext()).toBe('staging');
    expect(loadKubeConfig({ kubeconfigYaml: kubeconfig(['x'], 'x') }).getCurrentContext()).toBe('x');
  });

  test('several files merge like KUBECONFIG: first definition and first current-context win, missing files skipped', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, kubeconfig(['one'], undefined, 'https://a.example'));
    await writeFile(b, kubeconfig(['one', 'two'], 'two', 'https://b.example'));
    const kc = loadKubeConfig({ kubeconfigPath: [join(dir, 'missing'), a, b] });
    expect(kc.getContexts().map((c) => c.name)).toEqual(['one', 'two']);
    expect(kc.getCurrentContext()).toBe('two');
    expect(kc.getCluster('one')!.server).toBe('https://a.example');
  });

  test('errors name the fix and never quote the file', async () => {
    const file = join(dir, 'two');
    await writeFile(file, kubeconfig(['prod', 'staging'], undefined));
    const expectError = (fn: () => unknown, message: RegExp): void => {
      let caught: unknown;
      try {
        fn();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(KubeConfigError);
      expect((caught as Error).message).toMatch(message);
      expect((caught as Error).message).not.toContain(SECRET);
      expect(JSON.stringify(caught)).not.toContain(SECRET);
    };
    expectError(() => loadKubeConfig({ kubeconfigPath: file, context: 'dev' }), /context "dev" is not in the kubeconfig; use --context, available: prod, staging/);
    expectError(() => loadKubeConfig({ kubeconfigPath: file }), /no current-context; use --context, available: prod, staging/);
    expectError(() => loadKubeConfig({ kubeconfigPath: join(dir, 'nope') }), /not found: pass --kubeconfig <file>/);
    expectError(() => loadKubeConfig({}), /no kubeconfig given/);
    const broken = join(dir, 'broken');
    await writeFile(broken, `users:\n- name: x\n  user:\n    token: ${SECRET}\n  bad: [unclosed\n`);
    expectError(() => loadKubeConfig({ kubeconfigPath: broken }), /is not valid YAML \(line \d+\)/);
  });
});

describe('kubeConfigFromToken and describeCluster', () => {
  test('builds an in-memory config that authenticates with the token; describeCluster shows no credential', async () => {
    const kc = kubeConfigFromToken({ server: 'https://aks-1.hcp.westeurope.azmk8s.io:443', caData: Buffer.from('pem').toString('base64'), token: SECRET, name: 'aks-1' });
    expect(describeCluster(kc)).toEqual({ server: 'https://aks-1.hcp.westeurope.azmk8s.io:443', name: 'aks-1' });
    expect(JSON.stringify(describeCluster(kc))).not.toContain(SECRET);
    const auth = await KubeAuth.for(kc).resolve();
    expect(auth.headers.Authorization).toBe(`Bearer ${SECRET}`);
    expect(auth.tls.ca?.toString()).toBe('pem');
  });

  test('refuses http and missing parts with a clear message', () => {
    expect(() => kubeConfigFromToken({ server: 'http://x', caData: 'a', token: 't', name: 'n' })).toThrow(/must use https/);
    expect(() => kubeConfigFromToken({ server: 'nope', caData: 'a', token: 't', name: 'n' })).toThrow(/is not a URL/);
    expect(() => kubeConfigFromToken({ server: 'https://x', caData: '', token: 't', name: 'n' })).toThrow(/no CA data/);
    expect(() => kubeConfigFromToken({ server: 'https://x', caData: 'a', token: '', name: 'n' })).toThrow(/no token/);
  });

  test('describeCluster strips credentials from the server URL', () => {
    const kc = loadKubeConfig({ kubeconfigYaml: kubeconfig(['c'], 'c', 'https://user:pw@host.example:6443/?sig=abc') });
    expect(describeCluster(kc).server).toBe('https://host.example:6443');
  });
});
