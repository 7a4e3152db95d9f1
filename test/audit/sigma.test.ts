import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createAuditLabeler } from '../../shared/audit/label.js';
import { compileSigmaRule, loadSigmaRules, parseSigmaYaml, SigmaRuleError, type CompiledSigmaRule } from '../../shared/audit/sigma.js';
import { auditLabelRow } from '../../shared/audit/tables.js';
import type { AuditEvent, AuditLabel } from '../../shared/audit/types.js';
import { runAudit } from '../../shared/cli/audit.js';
import type { CliIo } from '../../shared/cli/io.js';
import { EXIT } from '../../shared/cli/io.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SIGMA_DIR = join(HERE, '..', 'fixtures', 'audit', 'sigma');

let seq = 0;
function ev(over: Partial<AuditEvent> & { code?: number; username?: string } = {}): AuditEvent {
  const { code = 200, username = 'alice@contoso.example', ...rest } = over;
  seq++;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: `5160a000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'get',
    user: { username, groups: ['system:authenticated'] },
    sourceIPs: ['203.0.113.9'],
    userAgent: 'kubectl/v1.30.2 (linux/amd64) kubernetes/abc',
    responseStatus: { metadata: {}, code },
    requestReceivedTimestamp: '2024-06-01T10:00:00.000000Z',
    stageTimestamp: '2024-06-01T10:00:00.100000Z',
    ...rest,
  };
}
const exec = (cmd: string, over: Partial<Parameters<typeof ev>[0]> = {}) =>
  ev({
    verb: 'create',
    requestURI: `/api/v1/namespaces/prod/pods/api-1/exec?${cmd}&container=api&stdout=true`,
    objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'exec' },
    code: 101,
    ...over,
  });

let rules: CompiledSigmaRule[];
beforeAll(async () => {
  const loaded = await loadSigmaRules([SIGMA_DIR]);
  rules = loaded.rules;
  expect(loaded.skipped).toEqual([expect.objectContaining({ title: 'Whoami Run On A Windows Host', logsource: 'category: process_creation, product: windows' })]);
});

function sigmaLabels(events: AuditEvent[], only?: string): AuditLabel[] {
  const labeler = createAuditLabeler([], { sigmaRules: rules });
  return events.flatMap((e) => labeler.push(e)).filter((l) => !only || l.title === only);
}

describe('Sigma rules of the test tree', () => {
  it('loads the Kubernetes audit rules and leaves other log sources out', () => {
    expect(rules.map((r) => r.meta.title).sort()).toEqual([
      'Admission Webhook Configuration Written Or Removed',
      'Command Run In A Pod Container Through The API Server',
      'Pod Created With A Host Path Volume And Added Capabilities',
      'Request Refused By The API Server',
      'Secrets Listed Across All Namespaces',
      'Shell Or Download Tool Started In A Pod From Outside The Cluster Networks',
    ]);
  });

  const cases: [string, () => AuditEvent[], () => AuditEvent[]][] = [
    [
      'Command Run In A Pod Container Through The API Server',
      () => [exec('command=id'), exec('command=id', { verb: 'get' })],
      () => [ev({ objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'log' } }), exec('command=id', { verb: 'delete' })],
    ],
    [
      'Secrets Listed Across All Namespaces',
      () => [ev({ verb: 'list', requestURI: '/api/v1/secrets', objectRef: { resource: 'secrets' } })],
      () => [
        ev({ verb: 'list', objectRef: { resource: 'secrets', namespace: 'prod' } }),
        ev({ verb: 'list', objectRef: { resource: 'secrets' }, username: 'system:kube-controller-manager' }),
      ],
    ],
    [
      'Request Refused By The API Server',
      () => [ev({ code: 403 }), ev({ code: 401, requestURI: '/api' })],
      () => [ev({ code: 200 }), ev({ code: 401, requestURI: '/healthz' }), ev({ code: 404 })],
    ],
    [
      'Admission Webhook Configuration Written Or Removed',
      () => [ev({ verb: 'delete', objectRef: { resource: 'validatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io', name: 'gatekeeper' } })],
      () => [
        ev({ verb: 'list', objectRef: { resource: 'validatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io' } }),
        ev({ verb: 'delete', objectRef: { resource: 'validatingadmissionpolicies', apiGroup: 'admissionregistration.k8s.io', name: 'x' } }),
      ],
    ],
    [
      'Shell Or Download Tool Started In A Pod From Outside The Cluster Networks',
      () => [
        exec('command=%2Fbin%2Fsh&command=-i', { sourceIPs: ['198.51.100.7'] }),
        exec('command=%2Fusr%2Fbin%2Fcurl&command=http%3A%2F%2Fx', { sourceIPs: ['198.51.100.7'] }),
        exec('command=CURL', { sourceIPs: ['2001:db8::7'] }),
        ev({ userAgent: 'kube-hunter/0.6.8', sourceIPs: ['198.51.100.7'] }),
      ],
      () => [
        exec('command=%2Fbin%2Fsh&command=-i', { sourceIPs: ['10.224.0.31'] }),
        exec('command=%2Fusr%2Fbin%2Fcurlish', { sourceIPs: ['198.51.100.7'] }),
        ev({ userAgent: 'kubectl/v1.30.2', sourceIPs: ['198.51.100.7'] }),
      ],
    ],
    [
      'Pod Created With A Host Path Volume And Added Capabilities',
      () => [
        ev({
          verb: 'create',
          objectRef: { resource: 'pods', namespace: 'prod', name: 'x' },
          requestObject: { spec: { volumes: [{ name: 'h', hostPath: { path: '/' } }], containers: [{ name: 'c', securityContext: { capabilities: { add: ['sys_admin'] } } }] } },
          code: 201,
        }),
      ],
      () => [
        ev({
          verb: 'create',
          objectRef: { resource: 'pods', namespace: 'prod', name: 'x' },
          requestObject: { spec: { volumes: [{ name: 'h', hostPath: { path: '/' } }], containers: [{ name: 'c', securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }] } },
          code: 201,
        }),
        ev({
          verb: 'create',
          objectRef: { resource: 'pods', namespace: 'prod', name: 'x' },
          requestObject: { spec: { volumes: [{ name: 'e', emptyDir: {} }], containers: [{ name: 'c', securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }] } },
          code: 201,
        }),
      ],
    ],
  ];

  it.each(cases)('%s: labels its events, not the near misses', (title, fires, quiet) => {
    const events = fires();
    const labels = sigmaLabels(events, title);
    expect(labels.map((l) => l.auditID)).toEqual(events.map((e) => e.auditID));
    expect(sigmaLabels(quiet(), title)).toEqual([]);
  });

  it("labels with the Sigma rule's id, title, level and tags; attack tags become ATT&CK ids", () => {
    const [label] = sigmaLabels([ev({ verb: 'list', requestURI: '/api/v1/secrets', objectRef: { resource: 'secrets' } })], 'Secrets Listed Across All Namespaces');
    expect(label).toMatchObject({
      ruleId: '9c2e41d8-5b7f-4a09-b3c4-6e8f1a2d3c45',
      ruleKind: 'sigma',
      severity: 'high',
      attack: ['T1552.007'],
      tags: ['attack.credential-access', 'attack.t1552.007'],
      sigma: { level: 'high', status: 'test', file: expect.stringMatching(/secrets_all_namespaces\.yml$/) },
      matched: { verb: 'list', 'objectRef.resource': 'secrets', 'objectRef.namespace': '(absent)' },
      outcome: 'success',
    });
    expect(auditLabelRow(label!)).toMatchObject({
      rule_id: '9c2e41d8-5b7f-4a09-b3c4-6e8f1a2d3c45',
      rule_kind: 'sigma',
      attack_techniques: 'T1552.007',
      rule_tags: 'attack.credential-access,attack.t1552.007',
    });
  });
});

const rule = (detection: string, extra = '') =>
  `title: T\nid: 00000000-0000-4000-8000-00000000000${++seq % 10}\nlogsource:\n  product: kubernetes\n  service: audit\n${extra}detection:\n${detection}\nlevel: low\n`;
const compile = (detection: string, extra = '') => {
  const [r] = parseSigmaYaml(rule(detection, extra), 'x.yml');
  if (!r || 'skipped' in r) throw new Error('not compiled');
  return r;
};

describe('the Sigma subset', () => {
  it('matches strings case-insensitively with * and ? wildcards and \\ escapes; numbers against strings', () => {
    const r = compile('  sel:\n    user.username: "ALICE@*.example"\n    requestURI: "/api/v1/namespaces/defaul?/pods"\n    responseStatus.code: "200"\n  condition: sel');
    expect(r.evaluate(ev())).toBeDefined();
    expect(r.evaluate(ev({ username: 'bob@contoso.example' }))).toBeUndefined();
    const star = compile('  sel:\n    userAgent: "kubectl\\\\*"\n  condition: sel');
    expect(star.evaluate(ev({ userAgent: 'kubectl*' }))).toBeDefined();
    expect(star.evaluate(ev())).toBeUndefined();
  });

  it('contains, startswith, endswith, re (with i), all, cidr, exists, null and lists', () => {
    expect(compile('  s:\n    user.groups|contains: AUTHENTICATED\n  condition: s').evaluate(ev())).toEqual({ 'user.groups': 'system:authenticated' });
    expect(compile('  s:\n    requestURI|endswith: /pods\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    requestURI|re: "^/api/v1/namespaces/[a-z]+/PODS$"\n  condition: s').evaluate(ev())).toBeUndefined();
    expect(compile('  s:\n    requestURI|re|i: "^/api/v1/namespaces/[a-z]+/PODS$"\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    userAgent|contains|all: [kubectl, linux]\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    userAgent|contains|all: [kubectl, windows]\n  condition: s').evaluate(ev())).toBeUndefined();
    expect(compile('  s:\n    sourceIPs|cidr: [203.0.113.0/24]\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    sourceIPs|cidr: 2001:db8::/32\n  condition: s').evaluate(ev({ sourceIPs: ['2001:db8::1'] }))).toBeDefined();
    expect(compile('  s:\n    impersonatedUser|exists: true\n  condition: s').evaluate(ev())).toBeUndefined();
    expect(compile('  s:\n    impersonatedUser.username: null\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    verb: [list, get]\n  condition: s').evaluate(ev())).toBeDefined();
    expect(compile('  s:\n    - verb: list\n    - verb: get\n      objectRef.resource: null\n  condition: s').evaluate(ev())).toBeDefined();
    expect(
      compile('  s:\n    annotations.authorization.k8s.io/decision: forbid\n  condition: s').evaluate(ev({ annotations: { 'authorization.k8s.io/decision': 'forbid' } })),
    ).toBeDefined();
    expect(compile('  s:\n    exec.command|contains: token\n  condition: s').evaluate({ ...ev(), exec: { command: ['cat', '/var/run/secrets/token'] } })).toBeDefined();
  });

  it('conditions: and, or, not, parentheses, 1 of, all of, them, and a list of conditions', () => {
    const d = '  a:\n    verb: get\n  b:\n    objectRef.resource: pods\n  c:\n    user.username: bob\n';
    const on = (cond: string, e: AuditEvent) => compile(`${d}  condition: ${cond}`).evaluate(e) !== undefined;
    const pod = ev({ objectRef: { resource: 'pods', namespace: 'default' } });
    expect(on('a and b', pod)).toBe(true);
    expect(on('a and c', pod)).toBe(false);
    expect(on('a and (b or c)', pod)).toBe(true);
    expect(on('a and not (b or c)', pod)).toBe(false);
    expect(on('not c', pod)).toBe(true);
    expect(on('1 of them', pod)).toBe(true);
    expect(on('all of them', pod)).toBe(false);
    expect(on('all of a*', pod)).toBe(true);
    expect(on('c or a and b', pod)).toBe(true); // and binds tighter than or
    expect(on('[c, b]', pod)).toBe(true); // a list of conditions: any of them
    expect(on('[c, not b]', pod)).toBe(false);
  });

  it.each([
    ['  s:\n    verb|base64: get\n  condition: s', /x\.yml \(rule "T"\): detection\.s: modifier "base64" in "verb\|base64" is not supported/],
    ['  s:\n    - get\n    - list\n  condition: s', /keyword search .* is not supported/],
    ['  s:\n    verb: get\n  condition: s | count() by user.username > 5', /aggregation .* not supported/],
    ['  s:\n    verb: get\n  t:\n    verb: list\n  condition: s near t', /"near": not supported/],
    ['  s:\n    verb: get\n  timeframe: 5m\n  condition: s', /"timeframe" .* not supported/],
    ['  s:\n    file_path: "*gcc*"\n  condition: s', /field "file_path" is not a field of a Kubernetes audit event/],
    ['  s:\n    verb: get\n  condition: s and t', /"t" is not a search identifier/],
    ['  s:\n    verb: get\n  condition: 2 of s*', /quantifier "2 of": only "1 of" and "all of"/],
    ['  s:\n    verb: get\n  condition: (s', /unbalanced "\("/],
    ['  s:\n    sourceIPs|cidr: 10.0.0.0/33\n  condition: s', /is not a CIDR/],
    ['  s:\n    verb|re: "(["\n  condition: s', /not a valid regular expression/],
    ['  s:\n    verb|contains|startswith: g\n  condition: s', /combines contains and startswith/],
  ])('refuses what it cannot evaluate, naming the file and the construct (%#)', (detection, message) => {
    expect(() => parseSigmaYaml(rule(detection), 'x.yml')).toThrow(SigmaRuleError);
    expect(() => parseSigmaYaml(rule(detection), 'x.yml')).toThrow(message);
  });

  it('refuses correlation rules, filters and rule collections', () => {
    expect(() => compileSigmaRule({ title: 'c', correlation: { type: 'event_count' } }, 'c.yml')).toThrow(
      /c\.yml \(rule "c"\): "correlation:" \(correlation rules\) is not supported/,
    );
    expect(() => compileSigmaRule({ title: 'f', filter: { rules: [] } }, 'f.yml')).toThrow(/"filter:"/);
    expect(() => compileSigmaRule({ action: 'global', title: 'g' }, 'g.yml')).toThrow(/"action:" \(rule collections\)/);
  });

  it('a folder with refused rules fails as a whole, naming every refused file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigma-'));
    try {
      await mkdir(join(dir, 'sub'));
      await writeFile(join(dir, 'ok.yml'), rule('  s:\n    verb: get\n  condition: s'));
      await writeFile(join(dir, 'sub', 'bad1.yml'), rule('  s:\n    verb|windash: get\n  condition: s'));
      await writeFile(join(dir, 'bad2.yaml'), rule('  s:\n    verb: get\n  condition: s | count() > 3'));
      await expect(loadSigmaRules([dir])).rejects.toThrow(
        /--sigma: 2 Sigma rule file\(s\) use what this evaluator does not support; fix or remove them:\n {2}.*bad2\.yaml.*aggregation.*\n {2}.*sub\/bad1\.yml.*windash/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

describe('aks-evidence audit --sigma', () => {
  it('evaluates the Sigma rules over the same parsed events as the built-in rules', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sigma-cli-'));
    try {
      const file = join(dir, 'audit.ndjson');
      await writeFile(
        file,
        [
          exec('command=%2Fbin%2Fsh&command=-i&stdin=true&tty=true', { sourceIPs: ['198.51.100.7'] }),
          ev({ verb: 'list', requestURI: '/api/v1/secrets', objectRef: { resource: 'secrets' } }),
        ]
          .map((e) => JSON.stringify(e))
          .join('\n'),
      );
      const out = new Sink();
      const err = new Sink();
      const io: CliIo = { stdout: out, stderr: err, env: {}, cwd: dir };
      const code = await runAudit([file], { sigma: [SIGMA_DIR], format: 'json' }, io);
      expect(code).toBe(EXIT.ok);
      const labels = out.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as AuditLabel);
      const byKind = (k: string) =>
        labels
          .filter((l) => l.ruleKind === k)
          .map((l) => l.title)
          .sort();
      expect(byKind('sigma')).toEqual([
        'Command Run In A Pod Container Through The API Server',
        'Secrets Listed Across All Namespaces',
        'Shell Or Download Tool Started In A Pod From Outside The Cluster Networks',
      ]);
      expect(
        labels
          .filter((l) => l.ruleKind === 'match')
          .map((l) => l.ruleId)
          .sort(),
      ).toEqual(['exec-interactive-shell', 'pod-exec', 'secret-list-cluster-wide']);
      expect(err.text).toMatch(/sigma: 6 Kubernetes audit rule\(s\) loaded; 1 rule\(s\) of other log sources left out/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
