import { Agent } from 'node:https';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { runAudit } from '../../shared/cli/audit.js';
import type { CliIo } from '../../shared/cli/io.js';
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
  const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
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

const labels = (text: string) => text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { ruleId: string; auditID: string; time: string });

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
    for (const r of ['auth-failure-burst', 'secret-read-cross-namespace-sa', 'pod-exec', 'rbac-binding-powerful-role', 'anonymous-success', 'cleanup-delete-own-creation']) expect(rules).toContain(r);
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
    const code = await runAudit([], { workspace: WORKSPACE, cluster: CLUSTER, since: '2024-06-01T09:50:00Z', endpoint: stub.endpoint, format: 'json', follow: true, interval: '60s' }, c, {
      credential,
      logsClientOptions,
      clock: () => new Date(now),
      abortSignal: controller.signal,
      sleep: async () => {
        now += 20 * 60_000;
        if (++polls === 5) controller.abort();
      },
    });
    expect(code).toBe(0);
    const got = labels(c.out.text);
    // Five polls (10:00 … 11:20) covered 09:35 → 11:20: the attack up to the token request, not the clean-up.
    const keys = got.map((l) => `${l.auditID}:${l.ruleId}`);
    expect(new Set(keys).size).toBe(keys.length);
    const rules = new Set(got.map((l) => l.ruleId));
    for (const r of ['auth-failure-burst', 'secret-read-cross-namespace-sa', 'pod-exec', 'rbac-binding-powerful-role', 'anonymous-success', 'serviceaccount-token-request']) expect(rules).toContain(r);
    expect(rules).not.toContain('cleanup-delete-own-creation');
    expect(got.every((l) => Date.parse(l.time) < Date.parse('2024-06-01T11:20:00Z'))).toBe(true);
    expect(c.err.text).toMatch(/following workspace .* every 60s/);
    // The polls re-read the last 15 minutes each time.
    const spans = stub.requests.filter((r) => r.count).map((r) => r.timespan);
    expect(spans).toEqual(expect.arrayContaining(['2024-06-01T09:35:00.000Z/2024-06-01T10:00:00.000Z', '2024-06-01T09:45:00.000Z/2024-06-01T10:20:00.000Z', '2024-06-01T10:45:00.000Z/2024-06-01T11:20:00.000Z']));
  });

  it('needs the cluster with --workspace, and files or a workspace', async () => {
    await expect(runAudit([], { workspace: WORKSPACE }, io(), { credential })).rejects.toThrow(/--cluster: the AKS cluster resource id is required/);
    await expect(runAudit([], {}, io(), { credential })).rejects.toThrow(/give one or more audit files, or --workspace/);
  });
});
