/**
 * Wire details a kubelet and an etcd-backed API server have: every log line time-stamped,
 * sinceTime at second precision, bodies cut anywhere (mid-line, mid-character), lines longer
 * than the runtime's 16 KiB entries served whole, and paginated lists served from the first
 * page's snapshot while the cluster changes underneath (410 and an inconsistent continuation
 * once the snapshot is gone).
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import { Log } from '@kubernetes/client-node';
import { containerLogsSource } from '../../shared/sources/containerlogs/source.js';
import { renderLog } from '../../shared/simulator/kube/logs.js';
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { collect, context } from '../sources/helpers.js';

const NOW = new Date('2026-03-01T12:00:00Z');

function pod(name: string, namespace = 'a'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, creationTimestamp: '2026-03-01T09:00:00Z' },
    spec: { containers: [{ name: 'c' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', state: { running: { startedAt: '2026-03-01T09:00:00Z' } } }] },
  };
}

async function readLog(kc: KubeConfig, name: string, options: Parameters<Log['log']>[5]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const done = new Promise((r) => out.on('finish', r));
  await new Log(kc).log('a', name, 'c', out, options);
  await done;
  return text;
}

const LINES = [
  { time: '2026-03-01T11:00:00.100000000Z', message: 'héllo wörld ✓ 日本語' },
  { message: 'continuation written with the line before' },
  { time: '2026-03-01T11:00:01.000000001Z', message: `long ${'x'.repeat(40 * 1024)} end` },
  { time: '2026-03-01T11:00:01.500000000Z', message: 'same second, later' },
  { time: '2026-03-01T11:00:02.000000000Z', message: 'next second' },
];

describe('log wire details', () => {
  test('the body is cut at fixed byte offsets, whatever the lines and characters', () => {
    const chunks = [...renderLog({ current: LINES }, false, { timestamps: true, chunkBytes: 7 })];
    const whole = Buffer.concat(chunks).toString('utf8');
    expect(chunks.slice(0, -1).every((c) => c.length === 7)).toBe(true);
    expect(whole.split('\n')[0]).toBe('2026-03-01T11:00:00.100000000Z héllo wörld ✓ 日本語');
    // Some chunk ends inside a multi-byte character, and most end mid-line.
    expect(chunks.some((c) => c.toString('utf8').endsWith('\uFFFD'))).toBe(true);
    expect(chunks.filter((c) => c[c.length - 1] !== 0x0a).length).toBeGreaterThan(chunks.length / 2);
  });

  test('through the collector: tiny chunks, a 40 KiB line and continuation lines arrive exact, every line time-stamped', async () => {
    const cluster = await startFixtureCluster(
      { name: 'wire', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, pod('p')], logs: { 'a/p/c': { current: LINES } } },
      { now: () => NOW, logChunkBytes: 5 },
    );
    try {
      const out = await collect(containerLogsSource, context(fixtureKubeConfig(cluster), { clock: () => NOW }));
      expect(out.rows.map((r) => r['message'])).toEqual(LINES.map((l) => l.message));
      expect(out.rows.map((r) => r['TimeGenerated'])).toEqual([
        '2026-03-01T11:00:00.100000000Z',
        '2026-03-01T11:00:00.100000000Z',
        '2026-03-01T11:00:01.000000001Z',
        '2026-03-01T11:00:01.500000000Z',
        '2026-03-01T11:00:02.000000000Z',
      ]);
      expect(out.rows.every((r) => r['timestamp_present'] === true)).toBe(true);
    } finally {
      await cluster.stop();
    }
  });

  test('generated lines longer than 16 KiB are served whole, one timestamp each', async () => {
    const s: Scenario = {
      name: 'long',
      objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, pod('p')],
      logs: { 'a/p/c': { generated: { lines: 30, lineBytes: 100, startTime: '2026-03-01T10:00:00Z', stepMs: 1000, longLines: { every: 10, bytes: 20_000 } } } },
    };
    const cluster = await startFixtureCluster(s, { now: () => NOW });
    try {
      const lines = (await readLog(fixtureKubeConfig(cluster), 'p', { timestamps: true })).split('\n').slice(0, -1);
      expect(lines.map((l) => l.length - 31)).toEqual(Array.from({ length: 30 }, (_, i) => ((i + 1) % 10 === 0 ? 20_000 : 100)));
      expect(lines[9]!.slice(0, 31)).toBe('2026-03-01T10:00:09.000000000Z ');
    } finally {
      await cluster.stop();
    }
  });

  test('sinceTime is inclusive and, as the API server passes it on, whole seconds: a resume sees its boundary second again', async () => {
    const cluster = await startFixtureCluster(
      { name: 'since', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, pod('p')], logs: { 'a/p/c': { current: LINES } } },
      { now: () => NOW },
    );
    try {
      const kc = fixtureKubeConfig(cluster);
      const from = await readLog(kc, 'p', { timestamps: true, sinceTime: '2026-03-01T11:00:01.500000000Z' });
      expect(
        from
          .split('\n')
          .slice(0, -1)
          .map((l) => l.slice(31, 50)),
      ).toEqual([`long ${'x'.repeat(14)}`, 'same second, later', 'next second']);
    } finally {
      await cluster.stop();
    }
  });
});

describe('lists while the cluster changes', () => {
  async function start(options: Parameters<typeof startFixtureCluster>[1] = {}): Promise<{ cluster: Awaited<ReturnType<typeof startFixtureCluster>>; core: CoreV1Api }> {
    const cluster = await startFixtureCluster(
      { name: 'paging', objects: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, ...['p1', 'p2', 'p3', 'p4', 'p5'].map((n) => pod(n))] },
      options,
    );
    return { cluster, core: fixtureKubeConfig(cluster).makeApiClient(CoreV1Api) };
  }

  test("pages continue from the first page's snapshot: a deleted pod still listed, a new one not, versions unmoved", async () => {
    const { cluster, core } = await start();
    try {
      const first = await core.listNamespacedPod({ namespace: 'a', limit: 2 });
      expect(first.items.map((p) => p.metadata!.name)).toEqual(['p1', 'p2']);
      cluster.deleteObject('Pod', 'a', 'p4');
      cluster.putObject(pod('p35'));
      const p3 = { ...pod('p3'), metadata: { ...pod('p3').metadata, labels: { changed: 'yes' } } };
      const stored = cluster.putObject(p3);
      expect(Number(stored.metadata['resourceVersion'])).toBeGreaterThan(Number(first.metadata!.resourceVersion));
      const rest = await core.listNamespacedPod({ namespace: 'a', limit: 10, _continue: first.metadata!._continue! });
      expect(rest.items.map((p) => p.metadata!.name)).toEqual(['p3', 'p4', 'p5']);
      expect(rest.items[0]!.metadata!.labels).toBeUndefined();
      expect(rest.metadata!.resourceVersion).toBe(first.metadata!.resourceVersion);
      const fresh = await core.listNamespacedPod({ namespace: 'a' });
      expect(fresh.items.map((p) => p.metadata!.name)).toEqual(['p1', 'p2', 'p3', 'p35', 'p5']);
      expect(fresh.items[2]!.metadata!.labels).toEqual({ changed: 'yes' });
      expect(fresh.items[2]!.metadata!.resourceVersion).toBe(stored.metadata['resourceVersion']);
    } finally {
      await cluster.stop();
    }
  });

  test('once history is compacted, the token is 410 Expired with an inconsistent continuation that sees the change', async () => {
    let now = NOW.getTime();
    const { cluster, core } = await start({ now: () => new Date(now), historyWindowMs: 60_000 });
    try {
      const first = await core.listNamespacedPod({ namespace: 'a', limit: 2 });
      cluster.deleteObject('Pod', 'a', 'p4');
      cluster.putObject(pod('p35'));
      now += 120_000;
      const err = await core.listNamespacedPod({ namespace: 'a', limit: 10, _continue: first.metadata!._continue! }).catch((e: { code: number; body: string }) => e);
      expect((err as { code: number }).code).toBe(410);
      const status = JSON.parse((err as { body: string }).body) as { reason: string; metadata: { continue: string } };
      expect(status.reason).toBe('Expired');
      const inconsistent = await core.listNamespacedPod({ namespace: 'a', limit: 10, _continue: status.metadata.continue });
      expect(inconsistent.items.map((p) => p.metadata!.name)).toEqual(['p3', 'p35', 'p5']);
    } finally {
      await cluster.stop();
    }
  });
});
