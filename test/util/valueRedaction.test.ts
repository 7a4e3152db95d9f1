import { createHash } from 'node:crypto';
import { holdsSerializedObject, LAST_APPLIED, REDACTED_MARKER, redactAnnotations, redactedMapJson, redactRawObject } from '../../shared/util/valueRedaction.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('holdsSerializedObject', () => {
  test.each([
    ['{"password":"x"}', true],
    ['[{"name":"a"}]', true],
    ['{a: b, c: d}', true],
    ['database:\n  user: app\n  password: x\n', true],
    ['- one\n- two', true],
    ['note: rotated weekly', false],
    ['[WARNING] do not delete', false],
    ['{not json', false],
    ['line one\nline two', false],
    ['11111111-2222-3333-4444-555555555555', false],
    ['true', false],
    ['', false],
  ])('%j → %s', (value, expected) => {
    expect(holdsSerializedObject(value)).toBe(expected);
  });
});

describe('redactAnnotations (rows and raw objects alike)', () => {
  test('last-applied and serialized objects become their SHA-256; plain values stay; the input is not changed', () => {
    const lastApplied = '{"kind":"Pod","spec":{"containers":[{"env":[{"name":"K","value":"secret"}]}]}}';
    const input = { [LAST_APPLIED]: lastApplied, 'example.com/cfg': '{"token":"t"}', team: 'payments', 'azure.workload.identity/client-id': '1111' };
    const out = redactAnnotations(input);
    expect(out).toEqual({ [LAST_APPLIED]: sha(lastApplied), 'example.com/cfg': sha('{"token":"t"}'), team: 'payments', 'azure.workload.identity/client-id': '1111' });
    expect(input[LAST_APPLIED]).toBe(lastApplied);
    // Idempotent: a hash or the Secret marker is never hashed again.
    expect(redactAnnotations(out)).toBe(out);
    expect(redactAnnotations({ [LAST_APPLIED]: REDACTED_MARKER })).toEqual({ [LAST_APPLIED]: REDACTED_MARKER });
  });

  test('nothing to redact: the same object, no copy; a row column is "{}" when absent', () => {
    const labels = { app: 'web', tier: 'backend' };
    expect(redactAnnotations(labels)).toBe(labels);
    expect(redactedMapJson(undefined)).toBe('{}');
    expect(redactedMapJson(labels)).toBe('{"app":"web","tier":"backend"}');
  });
});

describe('redactRawObject', () => {
  const deployment = () => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'api', annotations: { [LAST_APPLIED]: '{"spec":{}}', team: 'x' }, labels: { app: 'api' } },
    spec: {
      template: {
        metadata: { annotations: { 'example.com/cfg': '{"k":"v"}' } },
        spec: {
          initContainers: [{ name: 'init', env: [{ name: 'A', value: 'init-secret' }] }],
          containers: [
            {
              name: 'app',
              image: 'x',
              env: [
                { name: 'B', value: 'app-secret' },
                { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
                { name: 'D', value: '' },
              ],
            },
          ],
        },
      },
    },
    status: { replicas: 1 },
  });

  test('hash (default): env values and serialized annotations at any depth become SHA-256; names, references and the rest stay', () => {
    const input = deployment();
    const before = JSON.stringify(input);
    const out = redactRawObject(input) as ReturnType<typeof deployment>;
    expect(JSON.stringify(input)).toBe(before); // never mutates what the source yielded
    expect(out.spec.template.spec.initContainers[0]!.env[0]).toEqual({ name: 'A', value: sha('init-secret') });
    expect(out.spec.template.spec.containers[0]!.env).toEqual([
      { name: 'B', value: sha('app-secret') },
      { name: 'C', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
      { name: 'D', value: '' },
    ]);
    expect(out.metadata.annotations).toEqual({ [LAST_APPLIED]: sha('{"spec":{}}'), team: 'x' });
    expect(out.spec.template.metadata.annotations['example.com/cfg']).toBe(sha('{"k":"v"}'));
    // Unchanged subtrees are shared, not copied.
    expect(out.status).toBe(input.status);
    expect(out.metadata.labels).toBe(input.metadata.labels);
    expect(redactRawObject(out)).toBe(out);
  });

  test('keep: the object as served', () => {
    const input = deployment();
    expect(redactRawObject(input, 'keep')).toBe(input);
  });

  test('an object without env values or annotations is returned as is', () => {
    const event = { kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Pod' }, message: 'Pulled' };
    expect(redactRawObject(event)).toBe(event);
  });
});
