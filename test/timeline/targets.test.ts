import { PassThrough } from 'node:stream';
import { markTargets } from '../../shared/timeline/build.js';
import { TIMELINE_CSV_COLUMNS, writeTimeline } from '../../shared/timeline/format.js';
import type { TimelineEntry } from '../../shared/timeline/types.js';

const entry = (over: Partial<TimelineEntry>): TimelineEntry => ({
  time: '2024-06-01T11:45:02Z',
  source: 'containerlogs',
  type: 'ContainerLog',
  summary: 'x',
  collector: false,
  evidence: { path: 'sources/containerlogs/all.rows.ndjson.gz', line: 1 },
  ...over,
});

describe('incident targets on the timeline', () => {
  const request = { priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'], priorityNamespaces: ['payments'] } as never;

  it('marks entries about the named pods and namespaces and the targets source; not the collector, not other namespaces', () => {
    const entries = [
      entry({ namespace: 'payments', pod: 'checkout-7d9f8b6c5-x2l4p' }),
      entry({ namespace: 'payments', pod: 'other-pod' }),
      entry({ namespace: 'prod', pod: 'web-1' }),
      entry({ source: 'targets', type: 'KubeObjectCreated', summary: 'Node aks-nodepool1-12345678-vmss000002' }),
      entry({ namespace: 'payments', pod: 'checkout-7d9f8b6c5-x2l4p', collector: true, source: 'collector' }),
    ];
    markTargets(entries, { request });
    expect(entries.map((e) => e.target === true)).toEqual([true, true, false, true, false]);
  });

  it('the table marks them with ">" and the CSV has an incident_target column', async () => {
    const e = [entry({ namespace: 'payments', pod: 'checkout-7d9f8b6c5-x2l4p', target: true }), entry({ namespace: 'prod', pod: 'web-1' })];
    const read = async (format: 'table' | 'csv') => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await writeTimeline(e, format, out);
      out.end();
      return Buffer.concat(chunks).toString('utf8').split('\n');
    };
    const table = await read('table');
    expect(table[1]).toMatch(/^2024-06-01T11:45:02Z\s+ {2}> /);
    expect(table[2]).not.toMatch(/ > /);
    const csv = await read('csv');
    expect(csv[0]!.split(',').at(-1)).toBe('incident_target');
    expect(csv[1]!.split(',').at(-1)).toBe('true');
    expect(csv[2]!.split(',').at(-1)).toBe('false');
    expect(TIMELINE_CSV_COLUMNS).toContain('incident_target');
  });
});
