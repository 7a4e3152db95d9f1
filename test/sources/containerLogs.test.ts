import { containerLogsSource, logRow, logRowSerializer, podColumns } from '../../shared/sources/containerlogs/source.js';
import { LineSplitter, splitLogLine } from '../../shared/util/lines.js';
import { inPodShard } from '../../shared/sources/common/shard.js';
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import { collect, context, FIXED_NOW, namespace, ndjsonRows, pod, startCluster } from './helpers.js';

const T = (minutesAgo: number, frac = ''): string => new Date(FIXED_NOW.getTime() - minutesAgo * 60_000).toISOString().replace('.000Z', `${frac}Z`);

function richScenario(): Scenario {
  const objects: KubeObject[] = [
    namespace('default'),
    namespace('kube-system'),
    pod({
      namespace: 'default',
      name: 'web',
      labels: { app: 'web' },
      annotations: { note: 'x' },
      initContainers: [{ name: 'init-db', state: 'terminated:0' }],
      containers: [
        { name: 'nginx', restartCount: 2 },
        { name: 'sidecar', state: 'waiting:ContainerCreating' },
      ],
      ephemeralContainers: [{ name: 'debugger', image: 'busybox:1.36' }],
    }),
    pod({ namespace: 'kube-system', name: 'job-done', phase: 'Succeeded', containers: [{ name: 'task', state: 'terminated:0' }] }),
  ];
  return {
    name: 'logs',
    objects,
    logs: {
      'default/web/init-db': {
        current: [
          { time: T(60), message: 'migrating' },
          { time: T(59), message: 'done' },
        ],
      },
      'default/web/nginx': {
        current: [
          { time: T(30, '.123456789'), message: 'GET / 200' },
          { message: 'a line without timestamp' },
          { time: T(10), message: 'GET /admin 403 with  two  spaces' },
          { time: T(5), message: '' },
        ],
        previous: [
          { time: T(120), message: 'panic: boom' },
          { time: T(119), message: 'héllo wörld ✓ 日本' },
        ],
      },
      'default/web/debugger': { current: [{ time: T(2), message: 'debug shell started' }] },
      'kube-system/job-done/task': { current: [{ time: T(200), message: 'job finished' }] },
    },
  };
}

describe('container logs source', () => {
  test('collects every container type, current and previous logs, with exact line splitting', async () => {
    const { cluster, kc } = await startCluster(richScenario(), { now: () => FIXED_NOW });
    try {
      const out = await collect(containerLogsSource, context(kc));
      const streams = new Map<string, string[]>();
      for (const r of out.rows) {
        const key = `${r['namespace']}/${r['pod_name']}/${r['container_name']}/${r['previous'] ? 'prev' : 'cur'}`;
        const list = streams.get(key) ?? [];
        list.push(String(r['message']));
        streams.set(key, list);
      }
      expect(Object.fromEntries(streams)).toEqual({
        'default/web/init-db/cur': ['migrating', 'done'],
        'default/web/nginx/cur': ['GET / 200', 'a line without timestamp', 'GET /admin 403 with  two  spaces', ''],
        'default/web/nginx/prev': ['panic: boom', 'héllo wörld ✓ 日本'],
        'default/web/debugger/cur': ['debug shell started'],
        'kube-system/job-done/task/cur': ['job finished'],
      });
      // Total equals the fixture's lines: nothing lost, nothing duplicated.
      expect(out.rows).toHaveLength(10);

      const nginx = out.rows.filter((r) => r['container_name'] === 'nginx' && !r['previous']);
      expect(nginx.map((r) => r['line_number'])).toEqual([1, 2, 3, 4]);
      expect(nginx[0]).toMatchObject({
        TimeGenerated: T(30, '.123456789'),
        timestamp_present: true,
        container_type: 'container',
        image: 'registry.example/nginx:1',
        labels: '{"app":"web"}',
        annotations: '{"note":"x"}',
        node_name: 'aks-node-1',
        containerimages: JSON.stringify(['registry.example/init-db:1', 'registry.example/nginx:1', 'registry.example/sidecar:1', 'busybox:1.36']),
      });
      expect(nginx[0]!['pod_uid']).toMatch(/^[0-9a-f-]{36}$/);
      // A line written with the one before it: the kubelet serves it with that line's time, exactly.
      expect(nginx[1]).toMatchObject({ timestamp_present: true, TimeGenerated: '2026-03-01T11:30:00.123456789Z', message: 'a line without timestamp' });
      expect(out.rows.find((r) => r['container_name'] === 'init-db')!['container_type']).toBe('init');
      expect(out.rows.find((r) => r['container_name'] === 'debugger')!['container_type']).toBe('ephemeral');

      // The container that never started has no log: counted as coverage, never asked for, not a gap.
      expect(out.gaps).toEqual([]);
      expect(out.coverage).toEqual([{ containerlogs: { containers: 5, streams: 5, notStarted: 1, resumedStreams: 0, peakOpenStreams: expect.any(Number) as number } }]);
      const logRequests = cluster.requestLog.filter((r) => r.path.endsWith('/log'));
      expect(logRequests.some((r) => r.query.includes('container=sidecar'))).toBe(false);
      for (const r of logRequests) expect(r.query).toContain('timestamps=true');
      // Raw objects: the two pods, kind restored.
      expect(out.raws.map((r) => (r.object as KubeObject).metadata.name).sort()).toEqual(['job-done', 'web']);
      expect(out.raws[0]!.object).toMatchObject({ apiVersion: 'v1', kind: 'Pod' });
      // 1 pod list + 5 log streams.
      expect(out.requests).toBe(6);
    } finally {
      await cluster.stop();
    }
  });

  test('sinceSeconds limits lines on the server side (by the time the runtime recorded, every line has one)', async () => {
    const { cluster, kc } = await startCluster(richScenario(), { now: () => FIXED_NOW });
    try {
      const out = await collect(containerLogsSource, context(kc, { sinceSeconds: 15 * 60 }));
      expect(out.rows.map((r) => r['message']).sort()).toEqual(['', 'GET /admin 403 with  two  spaces', 'debug shell started']);
      expect(cluster.requestLog.filter((r) => r.path.endsWith('/log')).every((r) => r.query.includes('sinceSeconds=900'))).toBe(true);
    } finally {
      await cluster.stop();
    }
  });

  test('a container without a status of its own is still asked for', async () => {
    const s: Scenario = {
      name: 'nostatus',
      objects: [namespace('default'), pod({ namespace: 'default', name: 'odd', containers: [{ name: 'app' }], noStatus: true })],
      logs: { 'default/odd/app': { current: [{ time: T(3), message: 'still logging' }] } },
    };
    s.objects[1]!['status'] = { phase: 'Running', containerStatuses: [] };
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(containerLogsSource, context(kc));
      expect(out.rows.map((r) => r['message'])).toEqual(['still logging']);
      expect(out.gaps).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });

  test('a crash-looping container: previous log collected, the 400 on the current one is container-not-running', async () => {
    const s: Scenario = {
      name: 'crashloop',
      objects: [namespace('default'), pod({ namespace: 'default', name: 'loop', containers: [{ name: 'app', state: 'waiting:CrashLoopBackOff', restartCount: 3 }] })],
      logs: { 'default/loop/app': { previous: [{ time: T(3), message: 'fatal: cannot connect' }] } },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(containerLogsSource, context(kc));
      expect(out.rows.map((r) => [r['message'], r['previous']])).toEqual([['fatal: cannot connect', true]]);
      expect(out.gaps).toEqual([
        expect.objectContaining({
          reason: 'container-not-running',
          container: 'app',
          detail: 'no log: container waiting: CrashLoopBackOff (the API answered 400)',
        }),
      ]);
    } finally {
      await cluster.stop();
    }
  });

  test('a previous log that is gone is a not-found gap', async () => {
    const s: Scenario = {
      name: 'noprev',
      objects: [namespace('default'), pod({ namespace: 'default', name: 'crashy', containers: [{ name: 'app', restartCount: 1 }] })],
      logs: { 'default/crashy/app': { current: [{ time: T(1), message: 'up' }] } },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(containerLogsSource, context(kc));
      expect(out.rows.map((r) => r['message'])).toEqual(['up']);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'not-found', container: 'app', resource: 'pods/log default/crashy (app, previous)' })]);
    } finally {
      await cluster.stop();
    }
  });

  test('paginates pods, and shards split them disjointly and completely', async () => {
    const objects: KubeObject[] = [namespace('a'), namespace('b')];
    const logs: Scenario['logs'] = {};
    for (let i = 0; i < 20; i++) {
      const ns = i % 2 === 0 ? 'a' : 'b';
      objects.push(pod({ namespace: ns, name: `p${i}`, containers: [{ name: 'c' }] }));
      logs[`${ns}/p${i}/c`] = {
        current: [
          { time: T(1), message: `line of p${i}` },
          { time: T(0), message: `second of p${i}` },
        ],
      };
    }
    const { cluster, kc } = await startCluster({ name: 'many', objects, logs }, { maxPageSize: 3 });
    try {
      const all = await collect(containerLogsSource, context(kc));
      expect(all.rows).toHaveLength(40);
      expect(cluster.requestLog.filter((r) => r.path === '/api/v1/pods')).toHaveLength(7);

      const perShard: string[][] = [];
      for (let index = 0; index < 3; index++) {
        const out = await collect(containerLogsSource, context(kc, { shard: { index, count: 3 } }));
        const pods = [...new Set(out.rows.map((r) => `${r['namespace']}/${r['pod_name']}`))];
        for (const p of pods) {
          const [ns, name] = p.split('/') as [string, string];
          expect(inPodShard(ns, name, { index, count: 3 })).toBe(true);
        }
        expect(out.raws).toHaveLength(pods.length);
        perShard.push(pods);
      }
      const union = perShard.flat();
      expect(union).toHaveLength(20);
      expect(new Set(union).size).toBe(20);
    } finally {
      await cluster.stop();
    }
  });

  test('priority pods are collected first', async () => {
    const objects: KubeObject[] = [namespace('a'), namespace('z')];
    for (let i = 0; i < 5; i++) objects.push(pod({ namespace: 'a', name: `p${i}`, containers: [{ name: 'c' }] }));
    objects.push(pod({ namespace: 'z', name: 'suspect', containers: [{ name: 'c' }] }));
    const { cluster, kc } = await startCluster({ name: 'prio', objects, logs: { 'z/suspect/c': { current: [{ time: T(1), message: 'evil' }] } } });
    try {
      const out = await collect(containerLogsSource, context(kc, { priorityPods: ['z/suspect', 'z/missing'], concurrency: 1 }));
      expect((out.raws[0]!.object as KubeObject).metadata.name).toBe('suspect');
      expect(out.rows[0]!['message']).toBe('evil');
      expect(out.raws.filter((r) => (r.object as KubeObject).metadata.name === 'suspect')).toHaveLength(1);
      expect(out.raws).toHaveLength(6);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'pod-vanished', namespace: 'z', pod: 'missing' })]);
    } finally {
      await cluster.stop();
    }
  });

  test('403 on pods/log is one forbidden gap for the whole source', async () => {
    const objects: KubeObject[] = [namespace('a')];
    for (let i = 0; i < 6; i++) objects.push(pod({ namespace: 'a', name: `p${i}`, containers: [{ name: 'c' }, { name: 'd' }] }));
    const { cluster, kc } = await startCluster({ name: 'forbidden', objects, forbidden: ['pods/log'] });
    try {
      const out = await collect(containerLogsSource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.raws).toHaveLength(6);
      expect(out.gaps).toHaveLength(1);
      expect(out.gaps[0]).toMatchObject({ reason: 'forbidden', resource: 'pods/log' });
      expect(out.gaps[0]!.detail).toMatch(/^reading pods\/log was refused for 12 log stream\(s\) in namespace\(s\) a: /);
    } finally {
      await cluster.stop();
    }
  });

  test('a pod deleted during collection is a pod-vanished gap; the others are complete', async () => {
    const objects: KubeObject[] = [namespace('a')];
    const logs: Scenario['logs'] = {};
    for (const name of ['p1', 'p2', 'p3']) {
      objects.push(pod({ namespace: 'a', name, containers: [{ name: 'c' }, { name: 'd' }] }));
      logs[`a/${name}/c`] = { current: [{ time: T(1), message: `${name} c` }] };
      logs[`a/${name}/d`] = { current: [{ time: T(1), message: `${name} d` }] };
    }
    const { cluster, kc } = await startCluster({ name: 'vanish', objects, logs });
    try {
      const ctx = context(kc, { concurrency: 1 });
      const rows: string[] = [];
      const gaps: unknown[] = [];
      for await (const item of containerLogsSource.collect(ctx)) {
        if (item.kind === 'rowsNdjson') {
          const batch = ndjsonRows(item);
          rows.push(...batch.map((row) => String(row['message'])));
          if (rows.length === batch.length) cluster.deleteObject('Pod', 'a', 'p2');
        }
        if (item.kind === 'gap') gaps.push(item.gap);
      }
      expect(rows.sort()).toEqual(['p1 c', 'p1 d', 'p3 c', 'p3 d']);
      expect(gaps).toEqual([expect.objectContaining({ reason: 'pod-vanished', namespace: 'a', pod: 'p2' })]);
    } finally {
      await cluster.stop();
    }
  });

  test('429 and 500 on a log request are retried', async () => {
    const s: Scenario = {
      name: 'retry',
      objects: [namespace('a'), pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] })],
      logs: {
        'a/p/c': {
          current: [
            { time: T(1), message: 'one' },
            { time: T(0), message: 'two' },
          ],
        },
      },
    };
    const { cluster, kc } = await startCluster(s, {
      faults: [
        { match: '/pods/p/log', status: 429, times: 1, retryAfterSeconds: 0 },
        { match: '/pods/p/log', status: 500, times: 1 },
      ],
    });
    try {
      const out = await collect(containerLogsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.rows.map((r) => r['message'])).toEqual(['one', 'two']);
      expect(cluster.requestLog.filter((r) => r.path.endsWith('/log')).map((r) => r.status)).toEqual([429, 500, 200]);
    } finally {
      await cluster.stop();
    }
  });

  test('streams large logs line by line: every generated line arrives once, in order, long multi-byte lines intact', async () => {
    const long = `${'日本語'.repeat(40_000)}✓`; // ~360 KB line spanning many TLS records and chunks
    const s: Scenario = {
      name: 'big',
      objects: [namespace('a'), pod({ namespace: 'a', name: 'big', containers: [{ name: 'c' }] })],
      logs: {
        'a/big/c': {
          current: [{ time: T(100), message: long }],
          generated: { lines: 50_000, lineBytes: 120, startTime: T(90), stepMs: 10, untimestampedEvery: 1000 },
        },
      },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      let count = 0;
      let untimestamped = 0;
      let outOfOrder = 0;
      let wrongLength = 0;
      let first: string | undefined;
      for await (const item of containerLogsSource.collect(context(kc))) {
        if (item.kind !== 'rowsNdjson') continue;
        for (const row of ndjsonRows(item)) {
          count++;
          if (row['line_number'] !== count) outOfOrder++;
          if (count === 1) first = String(row['message']);
          if (!row['timestamp_present']) untimestamped++;
          else if (count > 1 && String(row['message']).length !== 120) wrongLength++;
        }
      }
      expect(first).toBe(long);
      expect(count).toBe(50_001);
      // The kubelet stamps every line (a line written with the one before carries its time).
      expect(untimestamped).toBe(0);
      expect(outOfOrder).toBe(0);
      expect(wrongLength).toBe(0);
    } finally {
      await cluster.stop();
    }
  });

  test('a consumer that stops early ends the source and its streams cleanly', async () => {
    const s: Scenario = {
      name: 'early',
      objects: [namespace('a'), ...[1, 2, 3, 4].map((i) => pod({ namespace: 'a', name: `p${i}`, containers: [{ name: 'c' }] }))],
      logs: Object.fromEntries([1, 2, 3, 4].map((i) => [`a/p${i}/c`, { generated: { lines: 200_000, lineBytes: 100, startTime: T(60), stepMs: 1 } }])),
    };
    const { cluster, kc } = await startCluster(s);
    try {
      let rows = 0;
      for await (const item of containerLogsSource.collect(context(kc))) {
        if (item.kind === 'rowsNdjson' && (rows += item.rows) >= 100) break;
      }
      expect(rows).toBeGreaterThanOrEqual(100);
      expect(rows).toBeLessThan(200_000);
    } finally {
      await cluster.stop();
    }
  });

  test('an aborted run stops and throws the abort reason', async () => {
    const s: Scenario = {
      name: 'abort',
      objects: [namespace('a'), pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] })],
      logs: { 'a/p/c': { generated: { lines: 500_000, lineBytes: 100, startTime: T(60), stepMs: 1 } } },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      const controller = new AbortController();
      let rows = 0;
      await expect(
        (async () => {
          for await (const item of containerLogsSource.collect(context(kc, { abortSignal: controller.signal }))) {
            if (item.kind === 'rowsNdjson' && (rows += item.rows) >= 10) controller.abort(new Error('time budget spent'));
          }
        })(),
      ).rejects.toThrow('time budget spent');
      expect(rows).toBeLessThan(500_000);
    } finally {
      await cluster.stop();
    }
  });
});

describe('log line splitting', () => {
  test('splits chunks at any byte, multi-byte characters included', () => {
    const text = 'first ✓ line\nsecond 日本語 line\r\n\nlast without newline';
    const bytes = Buffer.from(text, 'utf8');
    for (let size = 1; size <= bytes.length; size++) {
      const splitter = new LineSplitter();
      const lines: string[] = [];
      for (let i = 0; i < bytes.length; i += size) lines.push(...splitter.push(bytes.subarray(i, i + size)));
      const last = splitter.end();
      if (last !== undefined) lines.push(last);
      expect(lines).toEqual(['first ✓ line', 'second 日本語 line\r', '', 'last without newline']);
    }
  });

  test('splits the timestamp at the first space only when it is RFC 3339', () => {
    expect(splitLogLine('2026-03-01T10:00:00.123456789Z hello  world')).toEqual({ timestamp: '2026-03-01T10:00:00.123456789Z', message: 'hello  world' });
    expect(splitLogLine('2026-03-01T10:00:00Z ')).toEqual({ timestamp: '2026-03-01T10:00:00Z', message: '' });
    expect(splitLogLine('2026-03-01T10:00:00Z')).toEqual({ timestamp: '2026-03-01T10:00:00Z', message: '' });
    expect(splitLogLine('2026-03-01T12:00:00+02:00 offset')).toEqual({ timestamp: '2026-03-01T10:00:00.000Z', message: 'offset' });
    expect(splitLogLine('2026-13-45T99:00:00Z bad date')).toEqual({ message: '2026-13-45T99:00:00Z bad date' });
    expect(splitLogLine('plain line')).toEqual({ message: 'plain line' });
    expect(splitLogLine('')).toEqual({ message: '' });
  });
});

describe('logRowSerializer', () => {
  test('gives byte for byte JSON.stringify(logRow(...)) for every kind of line and pod', () => {
    const pods = [
      pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] }),
      {
        ...pod({ namespace: 'b', name: 'q"uote', containers: [{ name: 'c\\1' }] }),
        metadata: { namespace: 'b', name: 'q"uote', uid: 'u-1', labels: { 'app.kubernetes.io/name': 'x"y', emoji: '✓' }, annotations: { note: 'line\nbreak' } },
      },
      { metadata: { namespace: 'c', name: 'bare' }, spec: {} },
    ] as Record<string, unknown>[];
    const containers = [
      { name: 'c', type: 'container' as const, image: 'registry.example.io/app:1.0' },
      { name: 'init-"x"', type: 'init' as const, image: '' },
      { name: 'dbg', type: 'ephemeral' as const, image: undefined as unknown as string },
    ];
    const lines = [
      '2026-03-01T11:59:00.123456789Z hello world',
      '2026-03-01T11:59:00Z',
      '2026-03-01T11:59:00+02:00 offset time is normalized',
      'no timestamp at all',
      '2026-13-45T99:99:99Z not a real time',
      '',
      '2026-03-01T11:59:00Z "quotes" \\ backslash \t tab \u0001 control ✓ 日本語 \ud83d\ude00',
      '2026-03-01T11:59:00Z lone surrogate \ud800 here',
    ];
    for (const raw of pods) {
      const columns = podColumns(raw);
      for (const container of containers) {
        for (const previous of [false, true]) {
          const serialize = logRowSerializer(columns, container, previous);
          lines.forEach((line, i) => {
            const expected = JSON.stringify(logRow(columns, container, previous, i + 1, line, '2026-03-01T12:00:00.000Z'));
            expect(serialize(i + 1, line, '2026-03-01T12:00:00.000Z')).toBe(expected);
          });
        }
      }
    }
  });
});

describe('container logs: how many streams are open at once follows what bounds the run', () => {
  const streamsOpen = (coverage: Record<string, unknown>[]) => (coverage[0]?.['containerlogs'] as { peakOpenStreams: number }).peakOpenStreams;

  test('with request latency and a consumer that waits for rows, it climbs from a few to the whole share', async () => {
    const { cluster, kc } = await startCluster(generateCluster({ pods: 240, containersPerPod: 1, linesPerContainer: 20, restartEvery: 0, historyFraction: 0 }), { latencyMs: 20 });
    try {
      const out = await collect(containerLogsSource, context(kc, { concurrency: 16, sinceSeconds: 86400 * 7 }));
      expect(out.rows).toHaveLength(240 * 20);
      expect(streamsOpen(out.coverage)).toBe(16);
    } finally {
      await cluster.stop();
    }
  });

  test('when the consumer is the bottleneck, it keeps a few streams open: more would only hold more buffers', async () => {
    const { cluster, kc } = await startCluster(generateCluster({ pods: 60, containersPerPod: 1, linesPerContainer: 400, restartEvery: 0, historyFraction: 0 }));
    try {
      let rows = 0;
      let coverage: Record<string, unknown> | undefined;
      for await (const item of containerLogsSource.collect(context(kc, { concurrency: 16, sinceSeconds: 86400 * 7 }))) {
        if (item.kind === 'rowsNdjson') rows += ndjsonRows(item).length;
        if (item.kind === 'coverage') coverage = item.coverage;
        // A slow store: every batch of rows takes 5 ms to write.
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(rows).toBe(60 * 400);
      expect(streamsOpen([coverage!])).toBeLessThan(16);
    } finally {
      await cluster.stop();
    }
  });
});
