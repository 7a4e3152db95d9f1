import { Agent } from 'node:https';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { runAudit } from '../../shared/cli/audit.js';
import type { CliIo } from '../../shared/cli/io.js';
import { EXIT } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { aksAuditRow, startLogAnalyticsStub, type LogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLUSTER = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-prod';
const WORKSPACE = '3f1c2a9e-0000-4000-8000-00000000abcd';
const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}
const io = () => {
  const out = new Sink();
  const err = new Sink();
  return { stdout: out, stderr: err, out, err, env: {}, cwd: HERE } as CliIo & { out: Sink; err: Sink };
};

let stub: LogAnalyticsStub;
let logsClientOptions: LogsQueryClientOptions;
beforeAll(async () => {
  const text = await readFile(join(HERE, '..', '..', 'shared', 'simulator', 'kube', 'scenarios', 'compromise.audit.ndjson'), 'utf8');
  const events = text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  stub = await startLogAnalyticsStub({ rows: events.map((e) => aksAuditRow(e, 'AKSAudit', CLUSTER)) });
  const agent = new Agent({ ca: stub.caPem });
  logsClientOptions = {
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ position: 'perCall', policy: { name: 'trust-stub-ca', sendRequest: (req, next) => ((req.agent = agent), next(req)) } }],
  };
});
afterAll(async () => {
  await stub?.stop();
});

const labels = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { ruleId: string; auditID: string; time: string });

describe('aks-evidence audit --workspace (Log Analytics stub)', () => {
  it('labels a window read from the workspace', async () => {
    const c = io();
    const code = await runAudit(
      [],
      { workspace: WORKSPACE, cluster: CLUSTER, since: '2024-06-01T09:00:00Z', until: '2024-06-01T13:00:00Z', endpoint: stub.endpoint, format: 'json' },
      c,
      { credential, logsClientOptions },
    );
    expect(code).toBe(0);
    const got = labels(c.out.text);
    const rules = new Set(got.map((l) => l.ruleId));
    for (const r of ['auth-failure-burst', 'secret-read-cross-namespace-sa', 'pod-exec', 'rbac-binding-powerful-role', 'anonymous-success', 'cleanup-delete-own-creation'])
      expect(rules).toContain(r);
    // Time order (labels follow the events they label).
    const times = got.map((l) => Date.parse(l.time));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('follows the workspace: overlapping polls, each label once, until stopped', async () => {
    // The clock starts at 10:00 and moves 20 minutes per poll; windows reach back 15 minutes.
    let now = Date.parse('2024-06-01T10:00:00Z');
    const controller = new AbortController();
    let polls = 0;
    const c = io();
    const code = await runAudit(
      [],
      { workspace: WORKSPACE, cluster: CLUSTER, since: '2024-06-01T09:50:00Z', endpoint: stub.endpoint, format: 'json', follow: true, interval: '60s' },
      c,
      {
        credential,
        logsClientOptions,
        clock: () => new Date(now),
        abortSignal: controller.signal,
        sleep: async () => {
          now += 20 * 60_000;
          if (++polls === 5) controller.abort();
        },
      },
    );
    expect(code).toBe(0);
    const got = labels(c.out.text);
    // Five polls (10:00 … 11:20) covered 09:35 → 11:20: the attack up to the token request, not the clean-up.
    const keys = got.map((l) => `${l.auditID}:${l.ruleId}`);
    expect(new Set(keys).size).toBe(keys.length);
    const rules = new Set(got.map((l) => l.ruleId));
    for (const r of ['auth-failure-burst', 'secret-read-cross-namespace-sa', 'pod-exec', 'rbac-binding-powerful-role', 'anonymous-success', 'serviceaccount-token-request'])
      expect(rules).toContain(r);
    expect(rules).not.toContain('cleanup-delete-own-creation');
    expect(got.every((l) => Date.parse(l.time) < Date.parse('2024-06-01T11:20:00Z'))).toBe(true);
    expect(c.err.text).toMatch(/following workspace .* every 60s/);
    // The polls re-read the last 15 minutes each time.
    const spans = stub.requests.filter((r) => r.count).map((r) => r.timespan);
    expect(spans).toEqual(
      expect.arrayContaining([
        '2024-06-01T09:35:00.000Z/2024-06-01T10:00:00.000Z',
        '2024-06-01T09:45:00.000Z/2024-06-01T10:20:00.000Z',
        '2024-06-01T10:45:00.000Z/2024-06-01T11:20:00.000Z',
      ]),
    );
  });

  it('needs the cluster with --workspace, and files or a workspace', async () => {
    await expect(runAudit([], { workspace: WORKSPACE }, io(), { credential })).rejects.toThrow(/--cluster: the AKS cluster resource id is required/);
    await expect(runAudit([], {}, io(), { credential })).rejects.toThrow(/give one or more audit files, or --workspace/);
  });
});

describe('aks-evidence audit on damaged files: per record, with the shared exit codes', () => {
  const good = (id: string, at: string, over: Record<string, unknown> = {}) =>
    JSON.stringify({
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Request',
      auditID: id,
      stage: 'ResponseComplete',
      requestURI:
        '/api/v1/namespaces/prod/pods/api-1/exec?command=cat&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount%2Ftoken&container=api&stdout=true&stderr=true',
      verb: 'create',
      user: { username: 'eve@fabrikam.example', groups: ['system:authenticated'] },
      sourceIPs: ['10.244.1.17'],
      objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'exec', apiVersion: 'v1' },
      responseStatus: { metadata: {}, code: 101 },
      requestReceivedTimestamp: at,
      stageTimestamp: at,
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': '' },
      ...over,
    });
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-exit-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const run = async (argv: string[]) => {
    const c = io();
    c.cwd = dir;
    const code = await runCli(['audit', ...argv], c);
    return { code, out: c.out.text, err: c.err.text };
  };

  it('0 when every record is read', async () => {
    await writeFile(join(dir, 'ok.ndjson'), `${good('e-1', '2024-06-01T10:00:00Z')}\n`);
    const r = await run(['ok.ndjson', '--format', 'json']);
    expect(r.code).toBe(EXIT.ok);
    expect(
      r.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { ruleId: string }).ruleId),
    ).toEqual(['pod-exec', 'exec-read-service-account-token']);
  });

  it('3 when a record is cut or unreadable: named by file and line, its neighbours kept', async () => {
    const cut = good('e-3', '2024-06-01T10:00:02Z');
    await writeFile(
      join(dir, 'damaged.ndjson'),
      [good('e-2', '2024-06-01T10:00:01Z'), cut.slice(0, cut.indexOf('"requestReceivedTimestamp"') + 12), 'not json', good('e-4', '2024-06-01T10:00:03Z')].join('\n'),
    );
    const r = await run(['damaged.ndjson', '--format', 'json']);
    expect(r.code).toBe(EXIT.gaps);
    const labelled = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { auditID: string; ruleId: string });
    expect([...new Set(labelled.map((l) => l.auditID))]).toEqual(['e-2', 'e-4', 'e-3']); // the cut one has no time: listed last
    expect(r.err).toMatch(
      /damaged\.ndjson line 2: cut: record was cut after \d+ characters: the event keeps the fields before the cut; missing: requestReceivedTimestamp, stageTimestamp/,
    );
    expect(r.err).toMatch(/damaged\.ndjson line 3: unreadable: not valid JSON/);
    expect(r.err).toMatch(/3 audit event\(s\), 6 label\(s\).*1 event\(s\) without a time; 1 record\(s\) unreadable, 1 cut record\(s\) kept in part/);
  });

  it('a diagnostic record whose log was cut keeps the request; a {"records": [...]} blob loses only its bad record', async () => {
    // A large body comes before the timestamps, as the API server writes an event: the cut takes them.
    const { requestReceivedTimestamp, stageTimestamp, annotations, ...head } = JSON.parse(good('e-6', '2024-06-01T10:00:06Z')) as Record<string, unknown>;
    const big = JSON.stringify({
      ...head,
      level: 'RequestResponse',
      requestObject: { kind: 'PodExecOptions', padding: 'x'.repeat(40_000) },
      requestReceivedTimestamp,
      stageTimestamp,
      annotations,
    });
    const blob = {
      records: [
        { time: '2024-06-01T10:00:05.0000000Z', category: 'kube-audit', properties: { log: `${good('e-5', '2024-06-01T10:00:05Z')}\n` } },
        { time: '2024-06-01T10:00:06.0000000Z', category: 'kube-audit', properties: { log: big.slice(0, 32_768) } },
        { time: '2024-06-01T10:00:07.0000000Z', category: 'kube-audit', properties: { log: '{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Req' } },
        { time: '2024-06-01T10:00:08.0000000Z', category: 'kube-audit', properties: { log: `${good('e-8', '2024-06-01T10:00:08Z')}\n` } },
      ],
    };
    await writeFile(join(dir, 'PT1H.json'), JSON.stringify(blob, null, 2));
    const r = await run(['PT1H.json', '--format', 'json']);
    expect(r.code).toBe(EXIT.gaps);
    const ids = [
      ...new Set(
        r.out
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { auditID: string; time: string }).auditID),
      ),
    ];
    expect(ids).toEqual(['e-5', 'e-6', 'e-8']);
    // The cut record's time comes from its diagnostic record.
    expect(r.out).toContain('"time":"2024-06-01T10:00:06.0000000Z"');
    expect(r.err).toMatch(/PT1H\.json record 2: cut: properties\.log was cut after 32,768 characters/);
    expect(r.err).toMatch(/PT1H\.json record 3: unreadable: properties\.log was cut after \d+ characters, before the request was described/);
  });

  it('keeps records without auditID, stage or times, names what is missing, and lists the timeless apart (exit 0: nothing lost)', async () => {
    await writeFile(
      join(dir, 'sample.json'),
      JSON.stringify([
        {
          verb: 'create',
          requestURI: '/api/v1/namespaces/prod/pods/web-0/exec?command=cat&command=%2Fetc%2Fkubernetes%2Fazure.json',
          user: { username: 'mallory' },
          objectRef: { resource: 'pods', namespace: 'prod', name: 'web-0', subresource: 'exec' },
          responseStatus: { code: 101 },
        },
      ]),
    );
    const r = await run(['sample.json']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toMatch(
      /sample\.json record 1: incomplete: kept without auditID, stage, level, requestReceivedTimestamp, stageTimestamp \(no time: listed apart from the timeline\)/,
    );
    expect(r.out).toMatch(/1 event\(s\) without a time of their own .* labelled apart from the timeline:\n.*\(no time\).*exec-read-node-credentials/s);
  });

  it('1 when nothing could be read; 2 for a missing file or a refused Sigma rule', async () => {
    await writeFile(join(dir, 'garbage.ndjson'), '{"truncated\nstill not json\n');
    expect((await run(['garbage.ndjson'])).code).toBe(EXIT.failed);
    const missing = await run(['nope.ndjson']);
    expect(missing.code).toBe(EXIT.input);
    expect(missing.err).toMatch(/files: nope\.ndjson: cannot be read \(ENOENT\); check the path/);
    await mkdir(join(dir, 'sigma'));
    await writeFile(join(dir, 'sigma', 'bad.yml'), 'title: x\nlogsource: { product: kubernetes, service: audit }\ndetection:\n  s:\n    verb|base64offset: get\n  condition: s\n');
    const refused = await run(['ok.ndjson', '--sigma', 'sigma']);
    expect(refused.code).toBe(EXIT.input);
    expect(refused.err).toMatch(/--sigma: 1 Sigma rule file\(s\) .*\n {2}.*bad\.yml \(rule "x"\): detection\.s: modifier "base64offset"/);
  });

  it('--evaluate: 0 when the corpus meets the target, 1 when it does not', async () => {
    const corpus = join(HERE, '..', 'fixtures', 'audit', 'corpus');
    const met = await run(['--evaluate', corpus]);
    expect(met.code).toBe(EXIT.ok);
    expect(met.out).toMatch(/^overall \(micro\) .* 1\.000 {3}0\.986$/m);
    const strict = await run(['--evaluate', corpus, '--target', '0.99']);
    expect(strict.code).toBe(EXIT.failed);
    expect(strict.err).toMatch(/target 0\.99 MISSED/);
  });
});
