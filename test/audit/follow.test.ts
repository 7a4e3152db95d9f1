import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { followAudit, type AuditFollowItem, type AuditWindow } from '../../shared/audit/follow.js';
import { createAuditLabeler } from '../../shared/audit/label.js';
import { loadAuditRules } from '../../shared/audit/rules.js';
import type { AuditEvent } from '../../shared/audit/types.js';
import { fileTailFetch } from '../../shared/cli/audit.js';

const T0 = Date.parse('2024-06-01T10:00:00Z');

function ev(id: string, atSec: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID: id,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/prod/pods/api/exec?command=sh',
    verb: 'create',
    user: { username: 'eve' },
    objectRef: { resource: 'pods', namespace: 'prod', name: 'api', subresource: 'exec' },
    responseStatus: { code: 101 },
    requestReceivedTimestamp: new Date(T0 + atSec * 1000).toISOString(),
    ...over,
  };
}

/** A fake clock that advances one minute per poll, and a store of events by time. */
function harness(events: AuditEvent[]) {
  let now = T0 + 60_000;
  const windows: AuditWindow[] = [];
  const fetch = (w: AuditWindow) => {
    windows.push(w);
    // Like Log Analytics: an event is visible once its time is inside the window.
    return events.filter((e) => {
      const t = Date.parse(e.requestReceivedTimestamp!);
      return t >= w.start.getTime() && t < w.end.getTime();
    });
  };
  return {
    windows,
    fetch,
    clock: () => new Date(now),
    sleep: async () => {
      now += 60_000;
    },
  };
}

async function take(items: AsyncIterable<AuditFollowItem>, controller: AbortController, windows: number): Promise<AuditFollowItem[]> {
  const out: AuditFollowItem[] = [];
  let seen = 0;
  for await (const item of items) {
    out.push(item);
    if (item.kind === 'window' && ++seen === windows) controller.abort();
  }
  return out;
}

describe('followAudit', () => {
  it('queries consecutive overlapping windows, labels each event once as it arrives, and stops on abort', async () => {
    const rules = await loadAuditRules();
    const events = [
      ev('e1', 10),
      ev('e2', 70, {
        verb: 'get',
        objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' },
        responseStatus: { code: 200 },
        requestURI: '/api/v1/namespaces/prod/secrets/db',
      }),
      ev('e3', 130),
    ];
    const h = harness(events);
    const controller = new AbortController();
    const items = await take(
      followAudit(h.fetch, {
        intervalMs: 60_000,
        overlapMs: 120_000,
        start: new Date(T0),
        clock: h.clock,
        sleep: h.sleep,
        labeler: createAuditLabeler(rules),
        abortSignal: controller.signal,
      }),
      controller,
      4,
    );
    // Windows advance and reach back by the overlap.
    expect(h.windows.map((w) => [(w.start.getTime() - T0) / 1000, (w.end.getTime() - T0) / 1000])).toEqual([
      [-120, 60],
      [-60, 120],
      [0, 180],
      [60, 240],
    ]);
    const got = items.filter((i): i is Extract<AuditFollowItem, { kind: 'event' }> => i.kind === 'event');
    // Each event once, although overlapping windows returned e1 and e2 several times.
    expect(got.map((i) => i.event.auditID)).toEqual(['e1', 'e2', 'e3']);
    expect(got.map((i) => i.labels.map((l) => l.ruleId))).toEqual([['pod-exec'], ['secret-read'], ['pod-exec']]);
    // Labels arrive with their window: e1 in the first, e2 in the second.
    const order = items.map((i) => (i.kind === 'event' ? i.event.auditID : 'W'));
    expect(order).toEqual(['e1', 'W', 'e2', 'W', 'e3', 'W', 'W']);
  });

  it('holds a ResponseStarted until its completion could have arrived, then labels it once', async () => {
    const rules = await loadAuditRules();
    const h = harness([ev('s1', 30, { stage: 'ResponseStarted' }), ev('s1', 30, { stage: 'ResponseComplete' })].slice(0, 1));
    const controller = new AbortController();
    const items = await take(
      followAudit(h.fetch, {
        intervalMs: 60_000,
        overlapMs: 60_000,
        start: new Date(T0),
        clock: h.clock,
        sleep: h.sleep,
        labeler: createAuditLabeler(rules),
        abortSignal: controller.signal,
      }),
      controller,
      3,
    );
    const order = items.map((i) => (i.kind === 'event' ? `${i.event.auditID}:${i.event.stage}` : 'W'));
    // Window 1 ends at +60 s: started at +30 s is within the overlap, so it waits; window 2 (end +120 s) releases it.
    expect(order).toEqual(['W', 's1:ResponseStarted', 'W', 'W']);
  });

  it('reports a failed window and retries it on the next poll', async () => {
    const h = harness([ev('e1', 10)]);
    let calls = 0;
    const errors: string[] = [];
    const controller = new AbortController();
    const items = await take(
      followAudit(
        (w) => {
          calls++;
          if (calls === 1) throw new Error('503 from the service');
          return h.fetch(w);
        },
        { intervalMs: 60_000, start: new Date(T0), clock: h.clock, sleep: h.sleep, abortSignal: controller.signal, onError: (e) => errors.push((e as Error).message) },
      ),
      controller,
      2,
    );
    expect(errors).toEqual(['503 from the service']);
    expect(items.filter((i) => i.kind === 'event').map((i) => (i.kind === 'event' ? i.event.auditID : ''))).toEqual(['e1']);
    // The retry covered the failed window's start.
    expect(h.windows[0]!.start.getTime()).toBe(T0);
  });

  it('tails NDJSON files: only complete new lines, each event once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tail-'));
    try {
      const file = join(dir, 'audit.ndjson');
      await writeFile(file, `${JSON.stringify(ev('f1', 1))}\n${JSON.stringify(ev('f2', 2)).slice(0, 40)}`);
      const problems: string[] = [];
      const fetch = fileTailFetch([file], (_f, p) => {
        if (p.kind !== 'incomplete') problems.push(p.message);
      });
      const read = async () => {
        const out: string[] = [];
        for await (const e of await fetch({ start: new Date(0), end: new Date() })) out.push(e.auditID);
        return out;
      };
      expect(await read()).toEqual(['f1']);
      await appendFile(file, `${JSON.stringify(ev('f2', 2)).slice(40)}\n`);
      expect(await read()).toEqual(['f2']);
      expect(await read()).toEqual([]);
      expect(problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
