import { execDetailsOf, shellQuote } from '../../shared/audit/execRequest.js';
import { jsonPatchAsObject } from '../../shared/audit/patchView.js';
import type { AuditEvent } from '../../shared/audit/types.js';

const base = (over: Partial<AuditEvent>): AuditEvent => ({
  kind: 'Event',
  apiVersion: 'audit.k8s.io/v1',
  level: 'Request',
  auditID: 'a',
  stage: 'ResponseComplete',
  requestURI: '/',
  verb: 'create',
  user: { username: 'u' },
  ...over,
});

describe('exec details', () => {
  it('decodes command= parameters as kubectl sends them (Go query encoding: + is a space, one parameter per argument)', () => {
    const e = base({
      requestURI: '/api/v1/namespaces/prod/pods/api-1/exec?command=%2Fbin%2Fsh&command=-c&command=echo+hi+%7C+base64&container=api&stdin=true&stdout=true&tty=true',
      objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'exec' },
    });
    expect(execDetailsOf(e)).toEqual({
      kind: 'exec',
      namespace: 'prod',
      pod: 'api-1',
      container: 'api',
      command: ['/bin/sh', '-c', 'echo hi | base64'],
      commandLine: "/bin/sh -c 'echo hi | base64'",
      tty: true,
      stdin: true,
      stdout: true,
    });
  });

  it('reads a PodExecOptions body when the URI has no command (exports and clients that send one)', () => {
    const e = base({
      requestURI: '/api/v1/namespaces/prod/pods/api-1/exec',
      objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'exec' },
      requestObject: { kind: 'PodExecOptions', apiVersion: 'v1', command: ['cat', '/etc/kubernetes/azure.json'], container: 'api', stdin: false, tty: false },
    });
    expect(execDetailsOf(e)).toMatchObject({ command: ['cat', '/etc/kubernetes/azure.json'], container: 'api', stdin: false, tty: false });
  });

  it('reads attach, port-forward and kubectl debug', () => {
    expect(
      execDetailsOf(
        base({
          requestURI: '/api/v1/namespaces/p/pods/a/attach?container=c&stdin=true&tty=true',
          objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'attach' },
        }),
      ),
    ).toMatchObject({ kind: 'attach', container: 'c', command: [], commandLine: '', tty: true, stdin: true });
    expect(
      execDetailsOf(
        base({
          verb: 'get',
          requestURI: '/api/v1/namespaces/p/pods/a/portforward?ports=5432&ports=8080',
          objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'portforward' },
        }),
      ),
    ).toMatchObject({ kind: 'portforward', ports: ['5432', '8080'] });
    const debug = base({
      verb: 'patch',
      objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'ephemeralcontainers' },
      requestObject: {
        spec: {
          ephemeralContainers: [
            { name: 'old', image: 'x' },
            { name: 'debugger-7qz', image: 'busybox:1.36', command: ['sh'], args: ['-c', 'id'], stdin: true, tty: true, targetContainerName: 'api' },
          ],
        },
      },
    });
    expect(execDetailsOf(debug)).toEqual({
      kind: 'debug',
      namespace: 'p',
      pod: 'a',
      container: 'debugger-7qz',
      image: 'busybox:1.36',
      targetContainer: 'api',
      command: ['sh', '-c', 'id'],
      commandLine: 'sh -c id',
      stdin: true,
      tty: true,
    });
  });

  it('is undefined for anything that runs nothing', () => {
    expect(execDetailsOf(base({ objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'log' } }))).toBeUndefined();
    expect(execDetailsOf(base({ objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'exec', apiGroup: 'example.com' } }))).toBeUndefined();
  });

  it('quotes argv as a shell would read it back', () => {
    expect(shellQuote(['sh', '-c', "echo 'x' && id"])).toBe(`sh -c 'echo '\\''x'\\'' && id'`);
  });
});

describe('JSON patch as the object it produces', () => {
  it('lays out add and replace values at their pointers; removals and tests set nothing', () => {
    expect(
      jsonPatchAsObject([
        { op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { privileged: true } },
        { op: 'replace', path: '/spec/template/spec/hostPID', value: true },
        { op: 'add', path: '/spec/template/spec/volumes/-', value: { name: 'h', hostPath: { path: '/' } } },
        { op: 'remove', path: '/spec/replicas' },
        { op: 'add', path: '/metadata/annotations/a~1b', value: 'x' },
      ]),
    ).toEqual({
      spec: { template: { spec: { containers: [{ securityContext: { privileged: true } }], hostPID: true, volumes: [{ name: 'h', hostPath: { path: '/' } }] } } },
      metadata: { annotations: { 'a/b': 'x' } },
    });
    expect(jsonPatchAsObject({ spec: {} })).toBeUndefined();
    expect(jsonPatchAsObject(['x'])).toBeUndefined();
  });
});
