/**
 * Issue 17's fault suite: a collection (the CLI's in-process pipeline, collectRun) of the same
 * simulated cluster under each fault the simulator injects on demand, compared with a collection
 * without faults and with what the simulator says it served.
 *
 * Recoverable faults — cut and stalled log streams, cut execs, connection resets, 429 and 5xx,
 * truncated list bodies — lose nothing: every log stream's rows are the rows of the clean run,
 * line for line; every line the simulator served is either kept or dropped as a repeat a resume
 * asked for (counted per pod, container and stream); every history command is there once.
 * Faults that cannot be recovered — a dead list endpoint, a log endpoint that never answers, a
 * log stream that never makes progress again, a stalled exec, an exec cut twice — end in exactly
 * the named gaps, and nothing else is lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore, Gap, Manifest, StreamResume } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { readSummary } from '../../shared/pipeline/collectTask.js';
import { createCommandHistorySource } from '../../shared/sources/commandhistory/source.js';
import { SOURCE_DEFINITIONS, SourceRegistry } from '../../shared/sources/registry.js';
import type { FaultRule, FixtureCluster, GeneratedLog, Scenario, ServedCounters } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { namespace, pod } from '../sources/helpers.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const SOURCES_COLLECTED = ['containerlogs', 'commandhistory', 'suspiciouspods', 'events'];
/** The sources, with command history's exec time limit set (its default, 30 s, is what a stalled exec would cost). */
const registry = (execTimeoutInMs: number): SourceRegistry =>
  new SourceRegistry(SOURCE_DEFINITIONS.map((s) => (s.name === 'commandhistory' ? createCommandHistorySource({ execTimeoutInMs }) : s)));

/** Four lines a second, every fifth written with the one before (same timestamp), a long line now and then. */
function log(lines: number, seed: number, startTime = '2026-03-01T10:30:00Z'): GeneratedLog {
  return { lines, lineBytes: 70, startTime, stepMs: 250, seed, untimestampedEvery: 5, longLines: { every: 97, bytes: 20_000 } };
}

const BASH = Array.from({ length: 50 }, (_, i) => `#${1772355000 + i * 60}\necho step ${i} && curl -s http://198.51.100.7/${i}`).join('\n') + '\n';
const ash = (n: number, tag: string): string => Array.from({ length: n }, (_, i) => `${tag} command ${i}`).join('\n') + '\n';

/** Built once: pod uids are part of every row, and must be the same in every run. */
const SCENARIO = buildScenario();

function buildScenario(): Scenario {
  return {
    name: 'edges',
    objects: [
      namespace('a'),
      namespace('b'),
      pod({ namespace: 'a', name: 'p1', containers: [{ name: 'c', restartCount: 1 }] }),
      pod({ namespace: 'a', name: 'p2', containers: [{ name: 'c' }, { name: 'sidecar' }] }),
      pod({ namespace: 'a', name: 'p3', containers: [{ name: 'c' }] }),
      pod({ namespace: 'a', name: 'p4', containers: [{ name: 'c' }] }),
      pod({ namespace: 'b', name: 'p5', containers: [{ name: 'c' }] }),
      pod({ namespace: 'b', name: 'p6', containers: [{ name: 'c', restartCount: 2 }] }),
    ],
    logs: {
      'a/p1/c': { generated: log(400, 1), generatedPrevious: log(200, 2, '2026-03-01T09:30:00Z') },
      'a/p2/c': { generated: log(300, 3) },
      'a/p2/sidecar': { generated: log(200, 4) },
      'a/p3/c': { generated: log(300, 5) },
      'a/p4/c': { generated: log(300, 6) },
      'b/p5/c': { generated: log(300, 7) },
      'b/p6/c': { generated: log(300, 8), generatedPrevious: log(150, 9, '2026-03-01T09:30:00Z') },
    },
    containers: {
      'a/p1/c': { binaries: ['/bin/sh', '/bin/bash'], files: { '/root/.bash_history': BASH, '/home/dev/.ash_history': ash(40, 'dev') } },
      'a/p2/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': ash(80, 'p2') } },
      'a/p2/sidecar': { binaries: [] },
      'a/p3/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': ash(60, 'p3') } },
      'a/p4/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': ash(30, 'p4') } },
      'b/p5/c': { binaries: ['/bin/sh'], files: {} },
      'b/p6/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': ash(20, 'p6') } },
    },
  };
}

type Row = Record<string, unknown>;

interface Run {
  manifest: Manifest;
  /** Log rows per stream "<ns>/<pod>/<container>/current|previous", in line order. */
  logs: Map<string, Row[]>;
  /** History rows per container "<ns>/<pod>/<container>", by file and line. */
  history: Map<string, Row[]>;
  resumes: StreamResume[];
  served: ServedCounters;
  gaps: Gap[];
}

async function rowsOf(store: EvidenceStore, manifest: Manifest, table: string): Promise<Row[]> {
  const out: Row[] = [];
  for (const a of manifest.artifacts.filter((x) => x.kind === 'rows' && x.table === table)) {
    for await (const r of readNdjson(store, a.path)) out.push(r as Row);
  }
  return out;
}

function group(rows: Row[], key: (r: Row) => string, order: (a: Row, b: Row) => number): Map<string, Row[]> {
  const out = new Map<string, Row[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k) ?? [];
    list.push(r);
    out.set(k, list);
  }
  for (const list of out.values()) list.sort(order);
  return out;
}

const streamKey = (ns: string, pod: string, container: string, previous: boolean): string => `${ns}/${pod}/${container}/${previous ? 'previous' : 'current'}`;

async function collectUnder(faults: FaultRule[], request: { logIdleTimeoutSeconds?: number; sources?: string[]; execTimeoutInMs?: number } = {}): Promise<Run> {
  const cluster: FixtureCluster = await startFixtureCluster(structuredClone(SCENARIO), { now: () => NOW, faults, maxPageSize: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-faults-'));
  try {
    const store = await openLocalBundle(dir, 'run-faults');
    const sealed = await collectRun({
      kubeConfig: fixtureKubeConfig(cluster),
      store,
      runId: 'run-faults',
      request: {
        caseId: 'case-17',
        sources: request.sources ?? SOURCES_COLLECTED,
        sinceSeconds: 7 * 86400,
        ...(request.logIdleTimeoutSeconds ? { logIdleTimeoutSeconds: request.logIdleTimeoutSeconds } : {}),
      },
      collector: collectorIdentity({ runtime: 'test' }),
      facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
      clock: () => NOW,
      registry: registry(request.execTimeoutInMs ?? 30_000),
    });
    const manifest = sealed.manifest;
    expect((await verifyBundle(store)).ok).toBe(true);
    const resumes: StreamResume[] = [];
    for (const a of manifest.artifacts.filter((x) => x.path.endsWith('.summary.json'))) resumes.push(...((await readSummary(store, a.path)).resumes ?? []));
    const logs = group(
      await rowsOf(store, manifest, 'kubelogs_CL'),
      (r) => streamKey(String(r['namespace']), String(r['pod_name']), String(r['container_name']), r['previous'] === true),
      (x, y) => Number(x['line_number']) - Number(y['line_number']),
    );
    const history = group(
      await rowsOf(store, manifest, 'commandhistory_CL'),
      (r) => `${String(r['namespace'])}/${String(r['pod_name'])}/${String(r['container_name'])}`,
      (x, y) => String(x['history_file']).localeCompare(String(y['history_file'])) || Number(x['line_number']) - Number(y['line_number']),
    );
    return { manifest, logs, history, resumes, served: cluster.served, gaps: Object.values(manifest.sources).flatMap((s) => s.gaps) };
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every line served is kept or was a repeat a resume dropped; per stream. */
function expectServedAccountedFor(run: Run): void {
  const dropped = new Map<string, number>();
  for (const r of run.resumes) {
    const key = streamKey(r.namespace, r.pod, r.container, r.previous);
    dropped.set(key, (dropped.get(key) ?? 0) + r.droppedLines);
  }
  for (const [key, served] of run.served.logs) {
    expect([key, (run.logs.get(key)?.length ?? 0) + (dropped.get(key) ?? 0)]).toEqual([key, served.lines]);
  }
}

let clean: Run;

beforeAll(async () => {
  clean = await collectUnder([]);
}, 60_000);

test('the clean run: every stream and history complete, no gap; the reference for every fault', () => {
  expect(Object.fromEntries(Object.entries(clean.manifest.sources).map(([n, s]) => [n, s.status]))).toEqual({
    containerlogs: 'complete',
    commandhistory: 'complete',
    suspiciouspods: 'complete',
    events: 'complete',
  });
  expect(clean.gaps).toEqual([]);
  const expected: Record<string, number> = {
    'a/p1/c/current': 400,
    'a/p1/c/previous': 200,
    'a/p2/c/current': 300,
    'a/p2/sidecar/current': 200,
    'a/p3/c/current': 300,
    'a/p4/c/current': 300,
    'b/p5/c/current': 300,
    'b/p6/c/current': 300,
    'b/p6/c/previous': 150,
  };
  expect(Object.fromEntries([...clean.logs].map(([k, rows]) => [k, rows.length]))).toEqual(expected);
  expect(Object.fromEntries([...clean.served.logs].map(([k, s]) => [k, s.lines]))).toEqual(expected);
  expect(Object.fromEntries([...clean.history].map(([k, rows]) => [k, rows.length]))).toEqual({ 'a/p1/c': 90, 'a/p2/c': 80, 'a/p3/c': 60, 'a/p4/c': 30, 'b/p6/c': 20 });
  expect(clean.resumes).toEqual([]);
});

describe('recoverable faults: zero lines lost', () => {
  test.each<[string, FaultRule[], { logIdleTimeoutSeconds?: number; resumed?: Record<string, StreamResume['cause']> }]>([
    [
      'log streams cut mid-body (mid-line, mid-character, after N lines, twice in one stream, a previous log)',
      [
        { match: '/pods/p1/log', query: /previous=true/, effect: 'cut', afterBytes: 3001, times: 1 },
        { match: '/pods/p1/log', effect: 'cut', afterLines: 120, times: 2 },
        { match: '/pods/p2/log', query: /container=sidecar/, effect: 'cut', afterBytes: 20_000 + 77, times: 1 },
        { match: '/pods/p3/log', effect: 'cut', afterBytes: 9_999, times: 1 },
        { match: '/pods/p6/log', query: /previous=true/, effect: 'cut', afterLines: 1, times: 1 },
      ],
      { resumed: { 'a/p1/c/previous': 'cut', 'a/p1/c/current': 'cut', 'a/p2/sidecar/current': 'cut', 'a/p3/c/current': 'cut', 'b/p6/c/previous': 'cut' } },
    ],
    [
      'log streams stalled (headers and some lines, then silence; one before any line)',
      [
        { match: '/pods/p4/log', effect: 'stall', afterLines: 77, times: 1 },
        { match: '/pods/p5/log', effect: 'stall', afterBytes: 0, times: 1 },
      ],
      { logIdleTimeoutSeconds: 2, resumed: { 'a/p4/c/current': 'idle', 'b/p5/c/current': 'idle' } },
    ],
    [
      'execs cut mid-stream (retried once)',
      [
        { match: '/pods/p1/exec', effect: 'cut', afterBytes: 700, times: 1 },
        { match: '/pods/p3/exec', effect: 'cut', afterBytes: 10, times: 1 },
      ],
      {},
    ],
    [
      'connection resets (pod list, a log, an exec)',
      [
        { match: 'GET /api/v1/pods', effect: 'reset', times: 2 },
        { match: '/pods/p2/log', effect: 'reset', times: 1 },
        { match: '/pods/p4/exec', effect: 'reset', times: 1 },
      ],
      {},
    ],
    [
      '429 with Retry-After and 5xx (list, logs, exec)',
      [
        { match: 'GET /api/v1/pods', status: 429, retryAfterSeconds: 1, times: 2 },
        { match: '/pods/p5/log', status: 503, times: 2 },
        { match: '/pods/p6/log', status: 500, times: 1 },
        { match: '/pods/p2/exec', status: 500, times: 1 },
        { match: 'GET /api/v1/events', status: 502, times: 1 },
      ],
      {},
    ],
    [
      'truncated list bodies (first page and a continued page)',
      [
        { match: 'GET /api/v1/pods', effect: 'cut', times: 1 },
        { match: 'GET /api/v1/pods', query: /continue=/, effect: 'cut', afterBytes: 100, times: 2 },
      ],
      {},
    ],
  ])(
    '%s',
    async (_name, faults, expectation) => {
      const run = await collectUnder(faults, expectation.logIdleTimeoutSeconds ? { logIdleTimeoutSeconds: expectation.logIdleTimeoutSeconds } : {});
      // Nothing lost, nothing doubled: every stream and every history row as in the clean run.
      expect(run.gaps).toEqual([]);
      expect([...run.logs.keys()].sort()).toEqual([...clean.logs.keys()].sort());
      for (const [key, rows] of clean.logs) expect([key, run.logs.get(key)]).toEqual([key, rows]);
      expect(run.history).toEqual(clean.history);
      expect(run.gaps).toEqual([]);
      expect(Object.values(run.manifest.sources).map((s) => s.status)).toEqual(['complete', 'complete', 'complete', 'complete']);
      expectServedAccountedFor(run);
      // Each resumed stream is in its task summary, with why.
      const resumed = new Map(run.resumes.map((r) => [streamKey(r.namespace, r.pod, r.container, r.previous), r.cause]));
      expect(Object.fromEntries(resumed)).toEqual(expectation.resumed ?? {});
      for (const [key, s] of run.served.logs) if (s.cut + s.stalled > 0) expect([key, resumed.has(key)]).toEqual([key, true]);
      expect(run.manifest.sources['containerlogs']?.resumes ?? 0).toBe(run.resumes.length);
      // Cut execs: retried once, as a second collector action; every exec the server ran is recorded.
      const cutExecs = [...run.served.execs].filter(([, s]) => s.cut > 0).map(([k]) => k);
      const retried = run.manifest.actions.filter((a) => a.attempt === 2).map((a) => `${a.namespace}/${a.pod}/${a.container}`);
      expect(retried.sort()).toEqual(cutExecs.sort());
      const execsServed = [...run.served.execs.values()].reduce((n, s) => n + s.execs, 0);
      expect(run.manifest.actions.length).toBe(execsServed);
    },
    90_000,
  );
});

describe('faults that cannot be recovered: exactly the named gaps, nothing else lost', () => {
  const cleanExcept = (run: Run, lost: string[]): void => {
    for (const [key, rows] of clean.logs) if (!lost.includes(key)) expect([key, run.logs.get(key)]).toEqual([key, rows]);
  };

  test('a dead pod list: the pod-based sources failed, each named with the pod list as a run-level gap; the others complete', async () => {
    const run = await collectUnder([{ match: 'GET /api/v1/pods', status: 503 }]);
    expect(Object.fromEntries(Object.entries(run.manifest.sources).map(([n, s]) => [n, s.status]))).toEqual({
      containerlogs: 'failed',
      commandhistory: 'failed',
      suspiciouspods: 'failed',
      events: 'complete',
    });
    const prerequisite = run.manifest.gaps.filter((g) => g.prerequisite !== undefined);
    expect(prerequisite.map((g) => [g.source, g.prerequisite, g.reason, g.resource])).toEqual([
      ['containerlogs', 'pod list', 'retries-exhausted', 'pods'],
      ['commandhistory', 'pod list', 'retries-exhausted', 'pods'],
      ['suspiciouspods', 'pod list', 'retries-exhausted', 'pods'],
    ]);
    for (const g of prerequisite)
      expect(g.detail).toMatch(
        /^prerequisite failed: the pod list \(pods\) could not be read: GET \/api\/v1\/pods: HTTP 503 .*gave up after 5 attempts.*; \w+ failed: what it would have listed was not collected$/,
      );
    // The failed prerequisite comes first and is not repeated as a generic "source failed".
    expect(run.manifest.gaps.slice(0, 3)).toEqual(prerequisite);
    expect(run.manifest.gaps.filter((g) => /^source \w+ failed/.test(g.detail))).toEqual([]);
    expect(run.logs.size + run.history.size).toBe(0);
    expect(run.served.logs.size + run.served.execs.size).toBe(0);
  }, 60_000);

  test('a log endpoint that never answers: one retries-exhausted gap for that stream', async () => {
    const run = await collectUnder([{ match: '/pods/p4/log', status: 500 }]);
    expect(run.gaps.map((g) => [g.reason, g.namespace, g.pod, g.container, g.resource])).toEqual([['retries-exhausted', 'a', 'p4', 'c', 'pods/log a/p4 (c)']]);
    expect(run.logs.has('a/p4/c/current')).toBe(false);
    cleanExcept(run, ['a/p4/c/current']);
    expect(run.manifest.sources['containerlogs']?.status).toBe('partial');
    expect(run.history).toEqual(clean.history);
  }, 60_000);

  test('a stream that makes no progress after a cut: a timeout gap naming it; the lines before the cut kept exactly', async () => {
    const run = await collectUnder(
      [
        { match: '/pods/p6/log', query: /sinceTime=/, effect: 'stall', afterBytes: 0 },
        { match: '/pods/p6/log', query: /^(?!.*previous=true)/, effect: 'cut', afterLines: 30, times: 1 },
      ],
      { logIdleTimeoutSeconds: 1 },
    );
    expect(run.gaps.map((g) => [g.reason, g.pod, g.container, g.resource])).toEqual([['timeout', 'p6', 'c', 'pods/log b/p6 (c)']]);
    expect(run.gaps[0]!.detail).toMatch(
      /^log stream interrupted after 30 lines \(3 resume\(s\) in a row brought no new line\): no data from the API server for 1 s; lines up to 30 are kept/,
    );
    expect(run.logs.get('b/p6/c/current')).toEqual(clean.logs.get('b/p6/c/current')!.slice(0, 30));
    expect(run.resumes.filter((r) => r.pod === 'p6').map((r) => r.cause)).toEqual(['cut', 'idle', 'idle']);
    cleanExcept(run, ['b/p6/c/current']);
    expectServedAccountedFor(run);
  }, 60_000);

  test('a stalled exec: a timeout gap for that container; every other history complete', async () => {
    // Real execs in the simulator take their time on a loaded machine: 8 s, not 30 s, before a stall counts.
    const run = await collectUnder([{ match: '/pods/p2/exec', query: /container=c\b/, effect: 'stall' }], { execTimeoutInMs: 8000 });
    expect(run.gaps.map((g) => [g.source, g.reason, g.pod, g.container])).toEqual([['commandhistory', 'timeout', 'p2', 'c']]);
    expect(run.history.has('a/p2/c')).toBe(false);
    for (const [key, rows] of clean.history) if (key !== 'a/p2/c') expect([key, run.history.get(key)]).toEqual([key, rows]);
    cleanExcept(run, []);
  }, 60_000);

  test('an exec cut twice: retried once, then an exec-failed gap naming it; what the two read kept once', async () => {
    const run = await collectUnder([{ match: '/pods/p3/exec', effect: 'cut', afterBytes: 400 }]);
    expect(run.gaps.map((g) => [g.source, g.reason, g.pod, g.container])).toEqual([['commandhistory', 'exec-failed', 'p3', 'c']]);
    const kept = run.history.get('a/p3/c') ?? [];
    const reference = clean.history.get('a/p3/c')!;
    expect(kept.length).toBeGreaterThan(0);
    // Complete lines as in the clean run, each once; the line the second cut fell in is kept as far
    // as it came (the raw file record says how many bytes of the file arrived).
    const last = kept.length - 1;
    expect(kept.slice(0, last)).toEqual(reference.slice(0, last));
    expect(String(reference[last]!['command']).startsWith(String(kept[last]!['command']))).toBe(true);
    expect(run.manifest.actions.filter((a) => a.pod === 'p3').map((a) => [a.outcome, a.attempt])).toEqual([
      ['failed', undefined],
      ['failed', 2],
    ]);
    for (const [key, rows] of clean.history) if (key !== 'a/p3/c') expect([key, run.history.get(key)]).toEqual([key, rows]);
  }, 60_000);
});
