import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeApi } from '../../shared/cluster/kubeApi.js';
import { loadKubeConfig } from '../../shared/cluster/kubeConfig.js';
import { RequestBudget } from '../../shared/cluster/requestBudget.js';
import { generateTestCa, issueServerCert } from '../../shared/simulator/tls.js';

describe('RequestBudget', () => {
  test('never more permits out than the limit; first come, first served; the peak is recorded', async () => {
    const budget = new RequestBudget(2);
    const order: number[] = [];
    const releases = await Promise.all([budget.acquire(), budget.acquire()]);
    const waiting = [3, 4, 5].map((n) => budget.acquire().then((release) => (order.push(n), release)));
    expect(budget.stats()).toMatchObject({ limit: 2, inFlight: 2, peak: 2, waited: 3 });
    releases[0]();
    releases[0](); // a second release of the same permit changes nothing
    const third = await waiting[0]!;
    expect(order).toEqual([3]);
    expect(budget.stats().inFlight).toBe(2);
    releases[1]();
    third();
    (await waiting[1]!)();
    (await waiting[2]!)();
    expect(order).toEqual([3, 4, 5]);
    expect(budget.stats()).toMatchObject({ inFlight: 0, peak: 2, granted: 5 });
  });

  test('a wait ends with the abort reason and takes no permit; a raised limit lets waiters go at once', async () => {
    const budget = new RequestBudget(1);
    const held = await budget.acquire();
    const controller = new AbortController();
    const aborted = budget.acquire(controller.signal);
    const other = budget.acquire();
    controller.abort(new Error('run cancelled'));
    await expect(aborted).rejects.toThrow('run cancelled');
    budget.limit = 2;
    const second = await other;
    expect(budget.stats()).toMatchObject({ inFlight: 2, limit: 2 });
    held();
    second();
    await expect(budget.acquire(AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
    expect(() => new RequestBudget(0)).toThrow(RangeError);
  });

  test('whenIdle waits for the last permit, or gives up after its time limit', async () => {
    const budget = new RequestBudget(2);
    await budget.whenIdle();
    const a = await budget.acquire();
    const b = await budget.acquire();
    let idle = false;
    const waiting = budget.whenIdle().then(() => (idle = true));
    a();
    await new Promise((r) => setTimeout(r, 10));
    expect(idle).toBe(false);
    b();
    await waiting;
    expect(idle).toBe(true);
    const held = await budget.acquire();
    const started = Date.now();
    await budget.whenIdle(30);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    held();
  });
});

describe('KubeApi keeps its requests within the budget', () => {
  let server: Server;
  let inFlight = 0;
  let peak = 0;
  let kubeconfigYaml: string;

  beforeAll(async () => {
    const cert = await issueServerCert(await generateTestCa());
    server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      const done = (): void => {
        inFlight--;
      };
      res.on('close', done);
      if (req.url?.startsWith('/stream')) {
        // A log-like body that ends only after a while: its permit is held until then.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('line\n');
        setTimeout(() => res.end('last\n'), 60);
        return;
      }
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }, 20);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    kubeconfigYaml = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'certificate-authority-data': Buffer.from(cert.caPem).toString('base64') } }],
      users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    peak = 0;
  });

  test('forty GETs at a budget of 3: the server never sees more than 3 at once', async () => {
    const api = new KubeApi(loadKubeConfig({ kubeconfigYaml }), { maxConcurrentRequests: 3 });
    await Promise.all(Array.from({ length: 40 }, () => api.getJson('/api/v1/namespaces')));
    expect(peak).toBe(3);
    expect(api.budget.stats()).toMatchObject({ peak: 3, inFlight: 0, granted: 40 });
    await api.close();
  });

  test('a stream holds its permit until its body ends; the next request waits for it', async () => {
    const api = new KubeApi(loadKubeConfig({ kubeconfigYaml }), { maxConcurrentRequests: 1 });
    const body = await api.openStreamOnce('/stream', undefined);
    const next = api.getJson('/api/v1/namespaces');
    await new Promise((r) => setTimeout(r, 30));
    expect(api.budget.stats()).toMatchObject({ inFlight: 1 });
    let text = '';
    for await (const chunk of body) text += String(chunk);
    expect(text).toBe('line\nlast\n');
    await next;
    expect(peak).toBe(1);
    expect(api.budget.stats()).toMatchObject({ inFlight: 0, granted: 2 });
    await api.close();
  });
});
