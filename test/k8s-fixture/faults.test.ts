/**
 * Fault injection on demand, with counters of what was served: cut and stalled log streams,
 * cut and stalled execs, connection resets, 429 with Retry-After, 5xx, truncated list bodies,
 * a dead list endpoint — so a test can compare what a collector kept with what the server sent.
 */
import { CoreV1Api, HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { containerLogsSource } from '../../shared/sources/containerlogs/source.js';
import { execInPod } from '../../shared/cluster/podExec.js';
import type { FixtureCluster, FixtureOptions, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { collect, context } from '../sources/helpers.js';

const NOW = new Date('2026-03-01T12:00:00Z');

function pod(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'a', creationTimestamp: '2026-03-01T08:00:00Z' },
    spec: { containers: [{ name: 'c' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', restartCount: 1, state: { running: { startedAt: '2026-03-01T09:00:00Z' } } }] },
  };
}

function scenario(): Scenario {
  const gen = (seed: number) => ({ lines: 1000, lineBytes: 60, startTime: '2026-03-01T10:00:00Z', stepMs: 1000, seed });
  return {
    name: 'faults',
    objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, pod('p1'), pod('p2'), pod('p3')],
    logs: { 'a/p1/c': { generated: gen(1), generatedPrevious: gen(2) }, 'a/p2/c': { generated: gen(3) }, 'a/p3/c': { generated: gen(4) } },
    containers: { 'a/p1/c': { binaries: ['/bin/sh'], files: { '/root/.bash_history': 'x'.repeat(5000) + '\n' } } },
  };
}

async function start(options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig }> {
  const cluster = await startFixtureCluster(scenario(), { now: () => NOW, ...options });
  return { cluster, kc: fixtureKubeConfig(cluster) };
}

/** GET through the client's auth and TLS; the body as far as it came, and how it ended. */
async function rawGet(kc: KubeConfig, path: string, signal?: AbortSignal, onData?: (text: string) => void): Promise<{ status: number; text: string; error?: string }> {
  const url = `${kc.getCurrentCluster()!.server}${path}`;
  const ctx = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  try {
    const res = await fetch(url, { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as never, ...(signal ? { signal } : {}) });
    let text = '';
    try {
      for await (const chunk of res.body!) {
        text += Buffer.from(chunk).toString('utf8');
        onData?.(text);
      }
      return { status: res.status, text };
    } catch (e) {
      return { status: res.status, text, error: (e as Error).name };
    }
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { status: 0, text: '', error: cause?.code ?? (e as Error).name };
  }
}

describe('log stream faults', () => {
  test('cut after N lines: exactly N complete lines, then the connection ends mid-body; counted per stream', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p1/log', query: /previous=true/, effect: 'cut', afterLines: 250, times: 1 }] });
    try {
      const cut = await rawGet(kc, '/api/v1/namespaces/a/pods/p1/log?container=c&previous=true&timestamps=true');
      expect(cut.status).toBe(200);
      expect(cut.error).toBeDefined();
      expect(cut.text.split('\n').length - 1).toBe(250);
      expect(cut.text.endsWith('\n')).toBe(true);
      // The current stream is not matched by the query; the second previous request is whole.
      expect((await rawGet(kc, '/api/v1/namespaces/a/pods/p1/log?container=c')).text.split('\n').length - 1).toBe(1000);
      expect((await rawGet(kc, '/api/v1/namespaces/a/pods/p1/log?container=c&previous=true')).error).toBeUndefined();
      expect(cluster.served.logs.get('a/p1/c/previous')).toEqual({ requests: 2, lines: 1250, bytes: 250 * 92 + 1000 * 61, cut: 1, stalled: 0 });
      expect(cluster.served.logs.get('a/p1/c/current')).toMatchObject({ requests: 1, lines: 1000, cut: 0 });
    } finally {
      await cluster.stop();
    }
  });

  test('cut after N bytes: mid-line', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p2/log', effect: 'cut', afterBytes: 1000 }] });
    try {
      const cut = await rawGet(kc, '/api/v1/namespaces/a/pods/p2/log?container=c');
      expect(Buffer.byteLength(cut.text)).toBe(1000);
      expect(cut.error).toBeDefined();
      expect(cluster.served.logs.get('a/p2/c/current')).toMatchObject({ lines: 16, bytes: 1000, cut: 1 });
    } finally {
      await cluster.stop();
    }
  });

  test('stalled: headers and N lines, then nothing, the connection open until the client gives up', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p3/log', effect: 'stall', afterLines: 3 }] });
    try {
      const ac = new AbortController();
      const r = await rawGet(kc, '/api/v1/namespaces/a/pods/p3/log?container=c', ac.signal, (text) => {
        if (text.split('\n').length - 1 === 3) ac.abort();
      });
      expect(r.status).toBe(200);
      expect(r.error).toBe('AbortError');
      expect(r.text.split('\n').length - 1).toBe(3);
      expect(cluster.served.logs.get('a/p3/c/current')).toMatchObject({ lines: 3, stalled: 1, cut: 0 });
    } finally {
      await cluster.stop();
    }
  });

  test('served counters against what the collector kept: a cut stream is resumed, kept = served less the boundary lines the resume repeated', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p2/log', effect: 'cut', afterLines: 400, times: 1 }] });
    try {
      const out = await collect(containerLogsSource, context(kc, { clock: () => NOW }));
      const kept = new Map<string, number>();
      for (const r of out.rows) {
        const key = `a/${String(r['pod_name'])}/c/${r['previous'] ? 'previous' : 'current'}`;
        kept.set(key, (kept.get(key) ?? 0) + 1);
      }
      const dropped = new Map<string, number>();
      for (const r of out.resumes) dropped.set(`${r.namespace}/${r.pod}/${r.container}/${r.previous ? 'previous' : 'current'}`, r.droppedLines);
      for (const [key, s] of cluster.served.logs) expect([key, (kept.get(key) ?? 0) + (dropped.get(key) ?? 0)]).toEqual([key, s.lines]);
      expect(cluster.served.logs.get('a/p2/c/current')).toMatchObject({ cut: 1, requests: 2 });
      expect(kept.get('a/p2/c/current')).toBe(1000);
      // Only the previous logs p2 and p3 never had (400) are missing.
      expect(out.gaps.map((g) => g.resource).sort()).toEqual(['pods/log a/p2 (c, previous)', 'pods/log a/p3 (c, previous)']);
    } finally {
      await cluster.stop();
    }
  });
});

describe('exec faults', () => {
  const target = { namespace: 'a', pod: 'p1', container: 'c' };

  test('cut mid-stream: some output, then the WebSocket closes without a status', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p1/exec', effect: 'cut', afterBytes: 100, times: 1 }] });
    try {
      const chunks: Buffer[] = [];
      const r = await execInPod(kc, { ...target, command: ['/bin/sh', '-c', 'cat /root/.bash_history'] }, { onStdout: (c: Buffer) => chunks.push(c) });
      expect(r.end).toBe('closed-without-status');
      expect(Buffer.concat(chunks).length).toBe(100);
      expect(cluster.served.execs.get('a/p1/c')).toMatchObject({ execs: 1, stdoutBytes: 100, cut: 1 });
      const whole = await execInPod(kc, { ...target, command: ['/bin/sh', '-c', 'cat /root/.bash_history'] }, { onStdout: () => undefined });
      expect(whole).toMatchObject({ end: 'success', stdoutBytes: 5001 });
    } finally {
      await cluster.stop();
    }
  });

  test('stalled: upgraded, then silence until the client times out', async () => {
    const { cluster, kc } = await start({ faults: [{ match: '/pods/p1/exec', effect: 'stall' }] });
    try {
      await expect(execInPod(kc, { ...target, command: ['/bin/sh', '-c', 'echo hi'] }, { onStdout: () => undefined, timeoutInMs: 300 })).rejects.toThrow(/time/i);
      expect(cluster.served.execs.get('a/p1/c')).toMatchObject({ execs: 1, stdoutBytes: 0, stalled: 1 });
    } finally {
      await cluster.stop();
    }
  });
});

describe('API faults', () => {
  test('connection reset, 503 then 500, a truncated list body, a dead list endpoint', async () => {
    const { cluster, kc } = await start();
    try {
      cluster.faults.push({ match: 'GET /api/v1/namespaces/a/pods', effect: 'reset', times: 1 });
      const reset = await rawGet(kc, '/api/v1/namespaces/a/pods');
      expect(reset).toMatchObject({ status: 0, error: 'ECONNRESET' });

      cluster.faults.push({ match: 'GET /api/v1/namespaces/a/configmaps', status: 503, times: 1 }, { match: 'GET /api/v1/namespaces/a/configmaps', status: 500, times: 1 });
      expect((await rawGet(kc, '/api/v1/namespaces/a/configmaps')).status).toBe(503);
      expect((await rawGet(kc, '/api/v1/namespaces/a/configmaps')).status).toBe(500);
      expect((await rawGet(kc, '/api/v1/namespaces/a/configmaps')).status).toBe(200);

      cluster.faults.push({ match: 'GET /api/v1/pods', effect: 'cut', times: 1 });
      const core = kc.makeApiClient(CoreV1Api);
      const truncated = await core.listPodForAllNamespaces().catch((e: Error) => e);
      expect(truncated).toBeInstanceOf(Error);
      expect(cluster.served.lists.get('/api/v1/pods')).toMatchObject({ pages: 1, items: 3, truncated: 1 });
      expect((await core.listPodForAllNamespaces()).items).toHaveLength(3);

      cluster.faults.push({ match: 'GET /api/v1/events', status: 503 });
      for (let i = 0; i < 4; i++) expect((await rawGet(kc, '/api/v1/events')).status).toBe(503);
      expect(cluster.faultHits().find((h) => h.rule.match === 'GET /api/v1/events')?.hits).toBe(4);
    } finally {
      await cluster.stop();
    }
  });

  test('429 with Retry-After, enforced: a client that comes back early gets another 429', async () => {
    const { cluster, kc } = await start({ faults: [{ match: 'GET /api/v1/namespaces', status: 429, retryAfterSeconds: 30, times: 1, enforceRetryAfter: true }] });
    try {
      const url = '/api/v1/namespaces';
      const first = await rawGet(kc, url);
      expect(first.status).toBe(429);
      expect(JSON.parse(first.text)).toMatchObject({ reason: 'TooManyRequests', details: { retryAfterSeconds: 30 } });
      expect((await rawGet(kc, url)).status).toBe(429);
      expect(cluster.faultHits()[0]!.hits).toBe(2);
    } finally {
      await cluster.stop();
    }
  });
});
