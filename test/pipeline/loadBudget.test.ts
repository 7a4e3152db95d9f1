import { requestShare, runBudget, startable } from '../../shared/pipeline/loadBudget.js';

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

  test('the run budget is the request\'s, else 32', () => {
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
