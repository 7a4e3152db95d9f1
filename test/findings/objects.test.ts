import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadObjects, parseObjectsText, redactSecret } from '../../shared/findings/objects.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'findings-objects-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = (objects: { kind: string; metadata: { name: string } }[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`);

describe('parseObjectsText', () => {
  test('multi-document YAML, empty documents ignored', () => {
    const text = '---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: b, namespace: x}\n';
    const { objects, problems } = parseObjectsText(text, 'f.yaml', 'yaml');
    expect(problems).toEqual([]);
    expect(objects.map((o) => `${o.object.kind}/${o.object.metadata.name}@doc${o.origin.document}:line${o.origin.line}`)).toEqual([
      'Pod/a@doc1:line2',
      'ServiceAccount/b@doc3:line7',
    ]);
  });

  test('kind: List (kubectl get -o yaml) and typed lists whose items carry no kind', () => {
    const list = 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n';
    expect(names(parseObjectsText(list, 'l.yaml').objects.map((o) => o.object))).toEqual(['Pod/a', 'Deployment/d']);
    const typed = JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleList', items: [{ metadata: { name: 'x' }, rules: [] }] });
    const [o] = parseObjectsText(typed, 'l.json').objects;
    expect(o!.object).toMatchObject({ kind: 'ClusterRole', apiVersion: 'rbac.authorization.k8s.io/v1', metadata: { name: 'x' } });
  });

  test('JSON arrays, nested lists, and NDJSON saved as .json', () => {
    const array = JSON.stringify([
      { kind: 'Pod', metadata: { name: 'a' } },
      { kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'b' } }] },
    ]);
    expect(names(parseObjectsText(array, 'a.json', 'json').objects.map((o) => o.object))).toEqual(['Pod/a', 'Pod/b']);
    const ndjson = '{"kind":"Pod","metadata":{"name":"a"}}\n{"kind":"Pod","metadata":{"name":"b"}}\n';
    expect(names(parseObjectsText(ndjson, 'n.json', 'json').objects.map((o) => o.object))).toEqual(['Pod/a', 'Pod/b']);
  });

  test('bad YAML names the document and line; the other documents still load', () => {
    const text = 'kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: [unclosed\n---\nkind: Pod\nmetadata: {name: c}\n';
    const { objects, problems } = parseObjectsText(text, 'bad.yaml', 'yaml');
    expect(names(objects.map((o) => o.object))).toEqual(['Pod/a', 'Pod/c']);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ file: 'bad.yaml', document: 2, fatal: true });
    expect(problems[0]!.line).toBeGreaterThanOrEqual(4);
    expect(problems[0]!.reason).toMatch(/^invalid YAML/);
  });

  test('bad JSON names the line and never quotes the input', () => {
    const text = '{\n  "kind": "Secret",\n  "data": {"password": "c2VjcmV0" oops}\n}';
    const { objects, problems } = parseObjectsText(text, 'bad.json', 'json');
    expect(objects).toEqual([]);
    expect(problems[0]).toMatchObject({ file: 'bad.json', line: 3, fatal: true });
    expect(problems[0]!.reason).not.toContain('c2VjcmV0');
  });

  test('things that are not Kubernetes objects are skipped with the reason (not fatal)', () => {
    const text = JSON.stringify({ kind: 'List', items: [{ kind: 'Pod', metadata: { name: 'ok' } }, { metadata: { name: 'no-kind' } }, { kind: 'Pod', metadata: {} }, 'string'] });
    const { objects, problems } = parseObjectsText(text, 'mixed.json');
    expect(names(objects.map((o) => o.object))).toEqual(['Pod/ok']);
    expect(problems.map((p) => `${p.item}:${p.fatal}:${p.reason}`)).toEqual([
      '1:false:not a Kubernetes object: missing kind',
      '2:false:not a Kubernetes object: Pod without metadata.name',
      '3:false:not a Kubernetes object (not a mapping)',
    ]);
  });
});

describe('Secrets', () => {
  test('values and the last-applied annotation are dropped, key names kept', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's', namespace: 'x', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"password":"aHVudGVyMg=="}}', keep: 'me' } },
      data: { password: 'aHVudGVyMg==' },
      stringData: { token: 'plain-token' },
    };
    const redacted = redactSecret(secret);
    const text = JSON.stringify(redacted);
    expect(text).not.toContain('aHVudGVyMg==');
    expect(text).not.toContain('plain-token');
    expect(redacted.data).toEqual({ password: '<redacted>', token: '<redacted>' });
    expect(redacted.metadata.annotations).toEqual({ keep: 'me' });
    const [parsed] = parseObjectsText(JSON.stringify(secret), 's.json').objects;
    expect(JSON.stringify(parsed)).not.toContain('aHVudGVyMg==');
  });
});

describe('loadObjects', () => {
  test('directories recursively, .yaml/.yml/.json/.ndjson(.gz), other files ignored; rows artifacts passed over', async () => {
    await mkdir(join(dir, 'a', 'b'), { recursive: true });
    await writeFile(join(dir, 'one.yaml'), 'kind: Pod\nmetadata: {name: one}\n');
    await writeFile(join(dir, 'a', 'two.yml'), 'kind: Pod\nmetadata: {name: two}\n');
    await writeFile(join(dir, 'a', 'b', 'three.json'), JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: [{ metadata: { name: 'three' } }] }));
    await writeFile(join(dir, 'a', 'b', 'pods.raw.ndjson.gz'), gzipSync('{"kind":"Pod","metadata":{"name":"four"}}\n{"object":{"kind":"Pod","metadata":{"name":"five"}}}\n'));
    await writeFile(join(dir, 'a', 'b', 'x.rows.ndjson.gz'), gzipSync('{"TimeGenerated":"2026-01-01T00:00:00Z"}\n'));
    await writeFile(join(dir, 'notes.txt'), 'not yaml: [');
    const loaded = await loadObjects([dir]);
    expect(names(loaded.objects).sort()).toEqual(['Pod/five', 'Pod/four', 'Pod/one', 'Pod/three', 'Pod/two']);
    expect(loaded.skipped).toEqual([]);
    expect(loaded.files.map((f) => f.objects).reduce((a, b) => a + b, 0)).toBe(5);
    // Named explicitly, a rows artifact is still called out (not fatal).
    const explicit = await loadObjects([join(dir, 'a', 'b', 'x.rows.ndjson.gz')]);
    expect(explicit.skipped).toEqual([expect.objectContaining({ file: join(dir, 'a', 'b', 'x.rows.ndjson.gz'), fatal: false })]);
  });

  test('an evidence bundle directory: only sources/ is read, bookkeeping is passed over quietly', async () => {
    await mkdir(join(dir, 'bundle', 'sources', 'snapshot'), { recursive: true });
    await mkdir(join(dir, 'bundle', 'custody'), { recursive: true });
    await writeFile(join(dir, 'bundle', 'manifest.json'), '{"schemaVersion":1}');
    await writeFile(join(dir, 'bundle', 'custody', '0001-collection-started.json'), '{"step":"collection-started"}');
    await writeFile(join(dir, 'bundle', 'sources', 'snapshot', 'all.summary.json'), '{"gaps":[]}');
    await writeFile(join(dir, 'bundle', 'sources', 'snapshot', 'all._v1_pods.ndjson.gz'), gzipSync('{"kind":"Pod","metadata":{"name":"p"}}\n'));
    const loaded = await loadObjects([join(dir, 'bundle')]);
    expect(names(loaded.objects)).toEqual(['Pod/p']);
    expect(loaded.skipped).toEqual([]);
  });

  test('NDJSON errors name the line; a missing path is fatal; good files still load', async () => {
    await writeFile(join(dir, 'objs.ndjson'), '{"kind":"Pod","metadata":{"name":"a"}}\n{broken\n\n{"kind":"Pod","metadata":{"name":"c"}}\n');
    const loaded = await loadObjects([join(dir, 'objs.ndjson'), join(dir, 'missing.yaml')]);
    expect(names(loaded.objects)).toEqual(['Pod/a', 'Pod/c']);
    expect(loaded.skipped).toEqual([
      expect.objectContaining({ file: join(dir, 'objs.ndjson'), line: 2, fatal: true }),
      expect.objectContaining({ file: join(dir, 'missing.yaml'), fatal: true, reason: expect.stringContaining('ENOENT') }),
    ]);
  });

  test('a corrupt .gz is reported, not thrown', async () => {
    await writeFile(join(dir, 'bad.raw.ndjson.gz'), Buffer.from('not gzip at all'));
    await writeFile(join(dir, 'bad.yaml.gz'), Buffer.from('not gzip either'));
    const loaded = await loadObjects([join(dir, 'bad.raw.ndjson.gz'), join(dir, 'bad.yaml.gz')]);
    expect(loaded.objects).toEqual([]);
    expect(loaded.skipped.map((s) => s.fatal)).toEqual([true, true]);
  });

  test('the same object from several files (e.g. artifacts of one bundle) is loaded once', async () => {
    const pod = { kind: 'Pod', metadata: { name: 'a', namespace: 'x', uid: 'u-1' } };
    await writeFile(join(dir, 'snapshot.raw.ndjson'), `${JSON.stringify(pod)}\n${JSON.stringify({ kind: 'Pod', metadata: { name: 'b', namespace: 'x' } })}\n`);
    await writeFile(
      join(dir, 'workloads.raw.ndjson'),
      `${JSON.stringify(pod)}\n${JSON.stringify({ kind: 'Pod', metadata: { name: 'b', namespace: 'x' } })}\n${JSON.stringify({ kind: 'ServiceAccount', metadata: { name: 'a', namespace: 'x' } })}\n`,
    );
    const loaded = await loadObjects([dir]);
    expect(names(loaded.objects)).toEqual(['Pod/a', 'Pod/b', 'ServiceAccount/a']);
    expect(loaded.duplicates).toBe(2);
    expect(loaded.origins.map((o) => o.file)).toEqual([join(dir, 'snapshot.raw.ndjson'), join(dir, 'snapshot.raw.ndjson'), join(dir, 'workloads.raw.ndjson')]);
  });

  test('an explicitly named file with another extension is sniffed', async () => {
    await writeFile(join(dir, 'dump.txt'), '{"kind":"Pod","metadata":{"name":"j"}}');
    await writeFile(join(dir, 'dump2'), 'kind: Pod\nmetadata: {name: y}\n');
    const loaded = await loadObjects([join(dir, 'dump.txt'), join(dir, 'dump2')]);
    expect(names(loaded.objects)).toEqual(['Pod/j', 'Pod/y']);
  });
});
