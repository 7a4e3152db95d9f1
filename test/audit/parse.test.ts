import { createReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditParseError, detectAuditShape, normalizeAuditRecord, parseAuditInput, splitCsvRecord, type AuditParseProblem } from '../../shared/audit/parse.js';
import { REDACTED, redactAuditEvent } from '../../shared/audit/redact.js';
import { AuditDeduper, FinalStageSelector, selectFinalEvents } from '../../shared/audit/stages.js';
import type { AuditEvent } from '../../shared/audit/types.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'audit');
const SECRET_B64 = 'U0hBUEUtQ0FOQVJZLXBhc3N3b3Jk';

async function parseFile(name: string, problems: AuditParseProblem[] = []): Promise<AuditEvent[]> {
  const out: AuditEvent[] = [];
  for await (const e of parseAuditInput(createReadStream(join(FIXTURES, name)), { onProblem: (p) => problems.push(p) })) out.push(e);
  return out;
}

/** What must survive every shape: identity of the request and who did what to what. */
function essentials(e: AuditEvent) {
  return {
    auditID: e.auditID,
    stage: e.stage,
    verb: e.verb,
    requestURI: e.requestURI,
    user: e.user.username,
    groups: e.user.groups,
    sourceIPs: e.sourceIPs,
    objectRef: e.objectRef,
    code: e.responseStatus?.code,
    received: Date.parse(e.requestReceivedTimestamp ?? ''),
    stageTime: Date.parse(e.stageTimestamp ?? ''),
  };
}

describe('audit input shapes', () => {
  const shapes = [
    'raw.ndjson',
    'diagnostic-records.ndjson',
    'diagnostic-records.json',
    'aksaudit-rows.json',
    'aksaudit-export.csv',
    'azurediagnostics-rows.json',
    'la-response.json',
  ];

  it.each(shapes)('%s normalizes to the same audit events as the raw log', async (name) => {
    const raw = await parseFile('raw.ndjson');
    const problems: AuditParseProblem[] = [];
    const events = await parseFile(name, problems);
    expect(problems).toEqual([]);
    expect(events).toHaveLength(5);
    expect(events.map(essentials)).toEqual(raw.map(essentials));
    for (const e of events) {
      expect(e.kind).toBe('Event');
      expect(e.apiVersion).toBe('audit.k8s.io/v1');
    }
  });

  it.each(shapes)('%s: the Secret in the response keeps its keys and loses its value', async (name) => {
    const events = await parseFile(name);
    const secretRead = events.find((e) => e.objectRef?.resource === 'secrets' && e.verb === 'get')!;
    expect(secretRead.responseObject).toMatchObject({ kind: 'Secret', data: { password: REDACTED } });
    expect(JSON.stringify(events)).not.toContain(SECRET_B64);
  });

  it('keeps impersonation from raw, diagnostic and AzureDiagnostics shapes; AKSAudit rows have no such column', async () => {
    for (const name of ['raw.ndjson', 'diagnostic-records.ndjson', 'azurediagnostics-rows.json']) {
      const e = (await parseFile(name)).find((x) => x.auditID.endsWith('04'))!;
      expect(e.impersonatedUser?.username).toBe('system:serviceaccount:kube-system:coredns');
    }
    const row = (await parseFile('aksaudit-rows.json')).find((x) => x.auditID.endsWith('04'))!;
    expect(row.impersonatedUser).toBeUndefined();
  });

  it('reads the portal CSV times as UTC', async () => {
    const [first] = await parseFile('aksaudit-export.csv');
    expect(first!.requestReceivedTimestamp).toBe('2024-06-01T10:00:40.300Z');
  });

  it('skips non-audit diagnostic categories without calling them problems', async () => {
    const problems: AuditParseProblem[] = [];
    const events = await parseFile('diagnostic-records.ndjson', problems);
    expect(events).toHaveLength(5);
    expect(problems).toEqual([]);
  });

  it('reports unreadable records by line, without their content, and goes on', async () => {
    const good = JSON.stringify({ auditID: 'x-1', stage: 'ResponseComplete', verb: 'get', requestURI: '/api', user: { username: 'u' } });
    const text = [
      good,
      '{"not json',
      JSON.stringify({ hello: 'SECRET-LOOKING-CONTENT' }),
      JSON.stringify({ properties: { log: '{"truncated' }, category: 'kube-audit' }),
      good.replace('x-1', 'x-2'),
    ].join('\n');
    const problems: AuditParseProblem[] = [];
    const events: AuditEvent[] = [];
    for await (const e of parseAuditInput(text, { onProblem: (p) => problems.push(p) })) events.push(e);
    expect(events.map((e) => e.auditID)).toEqual(['x-1', 'x-2']);
    const unreadable = problems.filter((p) => p.kind === 'unreadable');
    expect(unreadable.map((p) => p.line)).toEqual([2, 3, 4]);
    // The two good records lack level and timestamps: kept, and the missing fields are named.
    expect(problems.filter((p) => p.kind === 'incomplete').map((p) => [p.line, p.missing])).toEqual([
      [1, ['level', 'requestReceivedTimestamp', 'stageTimestamp']],
      [5, ['level', 'requestReceivedTimestamp', 'stageTimestamp']],
    ]);
    expect(unreadable[2]!.message).toBe('properties.log was cut after 11 characters, before the request was described');
    expect(JSON.stringify(problems)).not.toContain('SECRET-LOOKING-CONTENT');
  });

  it('detects shapes and refuses what is none of them', () => {
    expect(detectAuditShape({ auditID: 'a', kind: 'Event' })).toBe('audit-event');
    expect(detectAuditShape({ AuditId: 'a' })).toBe('aks-audit-row');
    expect(detectAuditShape({ log_s: '{}', Category: 'kube-audit' })).toBe('azure-diagnostics-row');
    expect(detectAuditShape({ records: [] })).toBe('aks-diagnostic');
    expect(detectAuditShape({ tables: [] })).toBe('la-response');
    expect(() => normalizeAuditRecord({ foo: 1 })).toThrow(AuditParseError);
    expect(() => normalizeAuditRecord({ AuditId: '' })).toThrow(/AKSAudit row has neither Verb nor RequestUri/);
  });

  it('splits RFC 4180 CSV records, quotes and commas included', () => {
    expect(splitCsvRecord('a,"b,c","d ""e""",')).toEqual(['a', 'b,c', 'd "e"', '']);
  });
});

describe('Secret redaction', () => {
  const base: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'RequestResponse',
    auditID: 'r',
    stage: 'ResponseComplete',
    requestURI: '/',
    verb: 'list',
    user: {},
  };

  it('redacts SecretList items, last-applied annotations, patches, TokenRequest and TokenReview tokens', () => {
    const list = redactAuditEvent({
      ...base,
      objectRef: { resource: 'secrets' },
      responseObject: {
        kind: 'SecretList',
        items: [{ metadata: { name: 'a', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"k":"VALUE1"}}' } }, data: { k: 'VALUE2' } }],
      },
    });
    const patch = redactAuditEvent({
      ...base,
      verb: 'patch',
      objectRef: { resource: 'secrets', namespace: 'n', name: 's' },
      requestObject: [
        { op: 'replace', path: '/data/k', value: 'VALUE3' },
        { op: 'test', path: '/metadata/name', value: 's' },
      ],
    });
    const merge = redactAuditEvent({ ...base, verb: 'patch', objectRef: { resource: 'secrets' }, requestObject: { stringData: { k: 'VALUE4' } } });
    const token = redactAuditEvent({
      ...base,
      verb: 'create',
      objectRef: { resource: 'serviceaccounts', subresource: 'token' },
      responseObject: { kind: 'TokenRequest', status: { token: 'VALUE5', expirationTimestamp: 'x' } },
    });
    const review = redactAuditEvent({
      ...base,
      verb: 'create',
      objectRef: { resource: 'tokenreviews', apiGroup: 'authentication.k8s.io' },
      requestObject: { kind: 'TokenReview', spec: { token: 'VALUE6' } },
    });
    const nested = redactAuditEvent({ ...base, objectRef: { resource: 'configmaps' }, responseObject: { kind: 'List', items: [{ kind: 'Secret', data: { a: 'VALUE7' } }] } });
    const text = JSON.stringify([list, patch, merge, token, review, nested]);
    for (let i = 1; i <= 7; i++) expect(text).not.toContain(`VALUE${i}`);
    expect(token.responseObject).toMatchObject({ status: { token: REDACTED, expirationTimestamp: 'x' } });
    expect(list.responseObject).toMatchObject({ items: [{ data: { k: REDACTED } }] });
  });

  it('leaves other objects alone', () => {
    const cm = { kind: 'ConfigMap', data: { k: 'visible' } };
    expect(redactAuditEvent({ ...base, objectRef: { resource: 'configmaps' }, responseObject: cm }).responseObject).toEqual(cm);
  });
});

describe('stage selection and duplicates', () => {
  const ev = (auditID: string, stage: string, t: string): AuditEvent => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage,
    requestURI: '/',
    verb: 'get',
    user: {},
    requestReceivedTimestamp: t,
  });

  it('keeps one final event per request; ResponseStarted only when nothing completed', async () => {
    const input = [
      ev('a', 'RequestReceived', '2024-01-01T00:00:00Z'),
      ev('a', 'ResponseComplete', '2024-01-01T00:00:00Z'),
      ev('a', 'ResponseComplete', '2024-01-01T00:00:00Z'),
      ev('b', 'ResponseStarted', '2024-01-01T00:00:01Z'),
      ev('b', 'ResponseComplete', '2024-01-01T00:00:01Z'),
      ev('c', 'ResponseStarted', '2024-01-01T00:00:02Z'),
      ev('d', 'Panic', '2024-01-01T00:00:03Z'),
    ];
    const out: AuditEvent[] = [];
    for await (const e of selectFinalEvents(input)) out.push(e);
    expect(out.map((e) => `${e.auditID}:${e.stage}`)).toEqual(['a:ResponseComplete', 'b:ResponseComplete', 'd:Panic', 'c:ResponseStarted']);
  });

  it('follow-mode release: a ResponseStarted released early wins over a late completion', () => {
    const s = new FinalStageSelector();
    expect(s.push(ev('x', 'ResponseStarted', '2024-01-01T00:00:00Z'))).toEqual([]);
    expect(s.flushStarted(Date.parse('2023-12-31T00:00:00Z'))).toEqual([]);
    expect(s.flushStarted(Date.parse('2024-01-01T00:05:00Z')).map((e) => e.stage)).toEqual(['ResponseStarted']);
    expect(s.push(ev('x', 'ResponseComplete', '2024-01-01T00:00:00Z'))).toEqual([]);
  });

  it('forgets the oldest keys past its cap', () => {
    const d = new AuditDeduper({ maxKeys: 2 });
    expect(d.isNew(ev('1', 'ResponseComplete', ''))).toBe(true);
    expect(d.isNew(ev('2', 'ResponseComplete', ''))).toBe(true);
    expect(d.isNew(ev('1', 'ResponseComplete', ''))).toBe(false);
    expect(d.isNew(ev('3', 'ResponseComplete', ''))).toBe(true);
    expect(d.isNew(ev('1', 'ResponseComplete', ''))).toBe(true);
  });
});

describe('per record: one bad record never takes its neighbours', () => {
  const event = (id: string) => ({
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: id,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/pods',
    verb: 'list',
    user: { username: 'u' },
    requestReceivedTimestamp: '2024-01-01T00:00:00Z',
    stageTimestamp: '2024-01-01T00:00:00Z',
  });
  const collect = async (text: string) => {
    const problems: AuditParseProblem[] = [];
    const events: AuditEvent[] = [];
    for await (const e of parseAuditInput(text, { onProblem: (p) => problems.push(p) })) events.push(e);
    return { ids: events.map((e) => e.auditID), problems: problems.map((p) => `${p.kind} ${p.line ?? '-'}:${p.index ?? '-'} ${p.message}`) };
  };

  it('a JSON array with a bad element and a cut last element: the others are read, each problem has its place', async () => {
    const text = `[\n${JSON.stringify(event('a'))},\n{"auditID": "b", "verb": NaN},\n${JSON.stringify(event('c'))},\n${JSON.stringify(event('d')).slice(0, 160)}`;
    const r = await collect(text);
    expect(r.ids).toEqual(['a', 'c', 'd']);
    expect(r.problems).toEqual([
      'unreadable 3:2 not valid JSON',
      expect.stringMatching(/^partial 5:4 record was cut after 160 characters: the event keeps the fields before the cut; missing: .*stageTimestamp$/),
    ]);
  });

  it('a query response or a records wrapper with one unreadable row keeps the rest', async () => {
    const response = {
      tables: [
        {
          name: 'PrimaryResult',
          columns: [{ name: 'Category' }, { name: 'log_s' }],
          rows: [
            ['kube-audit', JSON.stringify(event('x'))],
            ['kube-audit', '{"kind":"Event","auditID":"y","ver'],
            ['kube-audit', JSON.stringify(event('z'))],
          ],
        },
      ],
    };
    const r = await collect(JSON.stringify(response));
    expect(r.ids).toEqual(['x', 'z']);
    expect(r.problems).toEqual(['unreadable 1:2 log_s was cut after 34 characters, before the request was described']);
  });

  it('an AzureDiagnostics log_s cut at 32,766 characters keeps the request, timed by the row', async () => {
    const big = JSON.stringify({
      ...event('big'),
      requestObject: { pad: 'x'.repeat(40_000) },
      requestReceivedTimestamp: undefined,
      stageTimestamp: undefined,
      tail: { requestReceivedTimestamp: '2024-01-01T00:00:00Z' },
    });
    const row = { TimeGenerated: '2024-01-01T00:00:01.5000000Z', Category: 'kube-audit', log_s: big.slice(0, 32_766) };
    const r = await collect(JSON.stringify([row]));
    expect(r.ids).toEqual(['big']);
    expect(r.problems).toEqual([
      expect.stringMatching(/^partial -:1 log_s was cut after 32,766 characters: the event keeps the fields before the cut; missing: .*requestReceivedTimestamp, stageTimestamp$/),
    ]);
    const [e] = await (async () => {
      const out: AuditEvent[] = [];
      for await (const x of parseAuditInput(JSON.stringify([row]))) out.push(x);
      return out;
    })();
    expect(e!.stageTimestamp).toBe('2024-01-01T00:00:01.5000000Z');
    expect(e!.parseNote).toMatchObject({ cutAt: 32_766, timeFrom: 'the time of the record that carried it' });
  });

  it('an AKSAudit row without AuditId is kept, with the missing field named', async () => {
    const r = await collect(
      JSON.stringify([
        {
          TimeGenerated: '2024-01-01T00:00:00Z',
          Level: 'Metadata',
          Stage: 'ResponseComplete',
          RequestUri: '/api/v1/secrets',
          Verb: 'list',
          User: '{"username":"u"}',
          ObjectRef: '{"resource":"secrets"}',
          RequestReceivedTime: '2024-01-01T00:00:00Z',
          StageReceivedTime: '2024-01-01T00:00:00Z',
        },
      ]),
    );
    expect(r.ids).toEqual(['']);
    expect(r.problems).toEqual(['incomplete -:1 kept without auditID']);
  });
});
