import type { KubeListItem } from '../../shared/cluster/paginate.js';
import { podLogTrigger, podStartTrigger } from '../../shared/preservation/podTriggers.js';

function pod(extra: { deletionTimestamp?: string; restartCount?: number } = {}): KubeListItem {
  return {
    metadata: { name: 'web', namespace: 'shop', uid: 'u1', ...(extra.deletionTimestamp ? { deletionTimestamp: extra.deletionTimestamp } : {}) },
    spec: { containers: [{ name: 'app' }] },
    status: { containerStatuses: [{ name: 'app', restartCount: extra.restartCount ?? 0, state: { running: {} } }] },
  };
}

describe('which pod changes fetch logs', () => {
  test('a pod found terminating when a window starts afresh: every stream, the previous one where it restarted', () => {
    expect(podStartTrigger(pod())).toBeUndefined();
    const t = podStartTrigger(pod({ deletionTimestamp: '2026-03-01T12:00:00Z', restartCount: 2 }));
    expect(t?.reason).toBe('terminating');
    expect(t?.fetches.map((f) => [f.container.name, f.previous, f.instance])).toEqual([
      ['app', false, 2],
      ['app', true, 1],
    ]);
  });

  test('a restart by more than one between two looks names the instances no kubelet keeps', () => {
    const t = podLogTrigger('MODIFIED', pod({ restartCount: 3 }), pod({ restartCount: 0 }));
    expect(t?.reason).toBe('restarted');
    expect(t?.lostInstances).toEqual([{ container: 'app', from: 0, to: 1 }]);
    expect(podLogTrigger('ADDED', pod(), undefined)).toBeUndefined();
  });
});
