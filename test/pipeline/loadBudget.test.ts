import { planWaves, requestShare, runBudget, startable } from '../../shared/pipeline/loadBudget.js';
import type { CollectTask } from '../../shared/pipeline/types.js';

describe('the load budget in shares', () => {
  test('pod-sharded tasks take a quarter of the budget, lists an eighth, the audit log (no Kubernetes) none; at least 1', () => {
    expect(requestShare({ source: 'containerlogs', shard: { index: 0, count: 4 } }, 32)).toBe(8);
    expect(requestShare({ source: 'commandhistory' }, 32)).toBe(8);
    expect(requestShare({ source: 'events' }, 32)).toBe(4);
    expect(requestShare({ source: 'snapshot' }, 32)).toBe(4);
    expect(requestShare({ source: 'audit' }, 32)).toBe(0);
    expect(requestShare({ source: 'events' }, 1)).toBe(1);
    expect(requestShare({ source: 'containerlogs' }, 2)).toBe(1);
  });

  test("the run budget is the request's, else 32", () => {
    expect(runBudget(12)).toBe(12);
    expect(runBudget(undefined)).toBe(32);
    expect(runBudget(0)).toBe(32);
  });

  test('waves take tasks in plan order while their shares fit; a task that does not fit waits, and a run always moves on', () => {
    expect(startable([8, 8, 8, 8, 4], 0, 0, 32, 0)).toEqual([0, 1, 2, 3]);
    expect(startable([8, 8, 8, 8, 4], 4, 0, 32, 0)).toEqual([4]);
    expect(startable([4, 8, 4], 0, 28, 32, 2)).toEqual([0]);
    expect(startable([8, 1], 0, 30, 32, 1)).toEqual([]);
    expect(startable([40], 0, 0, 32, 0)).toEqual([0]);
    expect(startable([0, 0, 8], 0, 0, 8, 0)).toEqual([0, 1, 2]);
  });
});

describe('planWaves', () => {
  const shard = (source: string, index: number, count: number): CollectTask => ({ source, shard: { index, count } });

  test("a pod-sharded source's shards fill waves of their own; one-task sources take the room left, then waves of their own; nothing over the budget, every task once", () => {
    const tasks: CollectTask[] = [
      ...[0, 1, 2, 3, 4].map((i) => shard('containerlogs', i, 5)),
      { source: 'events' },
      ...[0, 1, 2, 3, 4].map((i) => shard('commandhistory', i, 5)),
      { source: 'rbacbindings' },
      { source: 'snapshot' },
      { source: 'cronjobs' },
    ];
    const shares = tasks.map((t) => requestShare(t, 32));
    const waves = planWaves(tasks, shares, 32);
    expect(waves).toEqual([[0, 1, 2, 3], [4, 5, 11, 12, 13], [6, 7, 8, 9], [10]]);
    for (const wave of waves) expect(wave.reduce((n, i) => n + shares[i]!, 0)).toBeLessThanOrEqual(32);
    expect(waves.flat().sort((a, b) => a - b)).toEqual(tasks.map((_t, i) => i));
  });

  test('a plan that fits the budget is one wave, in plan order', () => {
    const tasks: CollectTask[] = [{ source: 'events' }, shard('containerlogs', 0, 3), shard('containerlogs', 1, 3), shard('containerlogs', 2, 3), { source: 'rbacbindings' }];
    expect(
      planWaves(
        tasks,
        tasks.map((t) => requestShare(t, 32)),
        32,
      ),
    ).toEqual([[0, 1, 2, 3, 4]]);
  });
});
