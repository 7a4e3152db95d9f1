/**
 * The raw baseline: the same Kubernetes API requests the collector issues for the eight
 * KubeForenSys sources, under the same load budget (at most `concurrency` requests in flight
 * across all sources, each request and each exec holding a slot while it runs), with every
 * body read and thrown away. It is the ceiling the collector is measured against
 * (collector throughput / baseline).
 */
import { KubeAuth } from '../shared/cluster/kubeAuth.js';
import type { KubeConfigLike } from '../shared/cluster/kubeConfig.js';
import https from 'node:https';
import tls from 'node:tls';
import pLimit from 'p-limit';
import WebSocket from 'ws';
import { HISTORY_SHELLS, historyCommand } from '../shared/sources/commandhistory/historyScript.js';
import { appendAll } from '../shared/util/arrays.js';

interface BaselineOptions {
  sources: string[];
  concurrency: number;
  sinceSeconds: number;
}

interface PodLite {
  metadata: { namespace: string; name: string };
  spec: { containers: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
  status?: {
    containerStatuses?: { name: string; restartCount: number; state?: { running?: unknown } }[];
    initContainerStatuses?: { name: string; restartCount: number; state?: { running?: unknown } }[];
  };
}

export async function rawBaseline(kc: KubeConfigLike, options: BaselineOptions): Promise<Record<string, unknown>> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  // The same credentials and TLS material as the collector, one SecureContext for every connection.
  const auth = await KubeAuth.for(kc).resolve();
  const base: https.RequestOptions = { headers: auth.headers };
  const secureContext = tls.createSecureContext({
    ...(auth.tls.ca ? { ca: auth.tls.ca } : {}),
    ...(auth.tls.cert ? { cert: auth.tls.cert } : {}),
    ...(auth.tls.key ? { key: auth.tls.key } : {}),
  });
  const agent = new https.Agent({ keepAlive: true, maxSockets: options.concurrency, secureContext });
  let requests = 0;
  let bytes = 0;
  /** Per-source counters: sources run concurrently, so the totals cannot be differenced. */
  interface Counter {
    requests: number;
    bytes: number;
  }
  const count = (c: Counter, n: number): void => {
    c.bytes += n;
    bytes += n;
  };

  // One budget for every request of every source, as the collector's KubeApi has.
  const budget = pLimit(options.concurrency);
  const get = (c: Counter, path: string): Promise<Buffer | undefined> => budget(() => rawGet(c, path));
  const rawGet = (c: Counter, path: string): Promise<Buffer | undefined> =>
    new Promise((resolve, reject) => {
      requests++;
      c.requests++;
      const url = new URL(path, server);
      const req = https.request(url, { ...base, agent, method: 'GET' }, (res) => {
        const keep: Buffer[] = [];
        const wantBody = (res.headers['content-type'] ?? '').includes('json');
        res.on('data', (chunk: Buffer) => {
          count(c, chunk.length);
          if (wantBody) keep.push(chunk);
        });
        res.on('end', () => resolve(wantBody ? Buffer.concat(keep) : undefined));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });

  async function listAll(c: Counter, path: string): Promise<unknown[]> {
    const items: unknown[] = [];
    let cont: string | undefined;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const body = await get(c, `${path}${sep}limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      const parsed = JSON.parse(body?.toString('utf8') ?? '{}') as { items?: unknown[]; metadata?: { continue?: string } };
      appendAll(items, parsed.items ?? []);
      cont = parsed.metadata?.continue || undefined;
    } while (cont);
    return items;
  }

  /** One exec; resolves true when the runtime said the shell does not exist (status channel 3). */
  const execOnce = (c: Counter, ns: string, pod: string, container: string, shell: string): Promise<boolean> => budget(() => rawExecOnce(c, ns, pod, container, shell));
  const rawExecOnce = (c: Counter, ns: string, pod: string, container: string, shell: string): Promise<boolean> =>
    new Promise((resolve) => {
      requests++;
      c.requests++;
      const q = new URLSearchParams({ container, stdout: 'true', stderr: 'true' });
      for (const c of historyCommand(shell)) q.append('command', c);
      const url = `${server.replace(/^http/, 'ws')}/api/v1/namespaces/${ns}/pods/${pod}/exec?${q.toString()}`;
      const ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io'], { ...(base as WebSocket.ClientOptions), agent });
      let missing = false;
      ws.on('message', (d: Buffer) => {
        count(c, d.length);
        if (d[0] === 3 && /no such file|not found/i.test(d.subarray(1).toString('utf8'))) missing = true;
      });
      ws.on('close', () => resolve(missing));
      ws.on('error', () => resolve(false));
    });
  // The same work as the collector: the next shell only when the previous one is missing.
  const exec = async (c: Counter, ns: string, pod: string, container: string): Promise<void> => {
    for (const shell of HISTORY_SHELLS) if (!(await execOnce(c, ns, pod, container, shell))) return;
  };

  const perSource: Record<string, { seconds: number; requests: number; bytes: number }> = {};
  const timed = async (name: string, fn: (c: Counter) => Promise<void>) => {
    const c: Counter = { requests: 0, bytes: 0 };
    const t0 = performance.now();
    await fn(c);
    perSource[name] = { seconds: (performance.now() - t0) / 1000, ...c };
  };

  const lists: Record<string, string[]> = {
    events: ['/api/v1/events'],
    serviceaccounts: ['/api/v1/serviceaccounts'],
    suspiciouspods: ['/api/v1/pods'],
    rbacbindings: ['/apis/rbac.authorization.k8s.io/v1/rolebindings', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings'],
    cronjobs: ['/apis/batch/v1/cronjobs'],
    networkpolicies: ['/apis/networking.k8s.io/v1/networkpolicies', '/api/v1/namespaces'],
  };

  const t0 = performance.now();
  await Promise.all(
    options.sources.map(async (source) => {
      if (source === 'containerlogs') {
        await timed(source, async (c) => {
          const pods = (await listAll(c, '/api/v1/pods')) as PodLite[];
          const jobs: Promise<unknown>[] = [];
          for (const pod of pods) {
            const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])];
            const names = [...pod.spec.containers, ...(pod.spec.initContainers ?? []), ...(pod.spec.ephemeralContainers ?? [])].map((c) => c.name);
            for (const name of names) {
              const p = `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/log?container=${encodeURIComponent(name)}&timestamps=true&sinceSeconds=${options.sinceSeconds}`;
              jobs.push(get(c, p));
              if ((statuses.find((s) => s.name === name)?.restartCount ?? 0) > 0) jobs.push(get(c, `${p}&previous=true`));
            }
          }
          await Promise.all(jobs);
        });
      } else if (source === 'commandhistory') {
        await timed(source, async (c) => {
          const pods = (await listAll(c, '/api/v1/pods')) as PodLite[];
          const jobs: Promise<unknown>[] = [];
          for (const pod of pods) {
            for (const s of pod.status?.containerStatuses ?? []) {
              if (s.state?.running) jobs.push(exec(c, pod.metadata.namespace, pod.metadata.name, s.name));
            }
          }
          await Promise.all(jobs);
        });
      } else if (lists[source]) {
        await timed(source, async (c) => {
          await Promise.all((lists[source] ?? []).map((p) => listAll(c, p)));
        });
      }
    }),
  );
  agent.destroy();
  return { seconds: (performance.now() - t0) / 1000, requests, bytes, perSource };
}
