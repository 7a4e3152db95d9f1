import { listResource } from '../common/listResource.js';
import { arr, firstTime, obj, str } from '../../util/values.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { toRfc3339 } from '../../util/time.js';
import { CRONJOBS_TABLE } from './table.js';

/** CronJobs, one row per container of the job template (init containers too). */

export function cronJobRows(cronJob: Record<string, unknown>, collectedAt: string): Row[] {
  const metadata = obj(cronJob.metadata);
  const spec = obj(cronJob.spec);
  const status = obj(cronJob.status);
  const podSpec = obj(obj(obj(obj(spec.jobTemplate).spec).template).spec);
  const base = {
    TimeGenerated: firstTime(metadata.creationTimestamp) ?? collectedAt,
    cronjob_name: str(metadata.name),
    namespace: str(metadata.namespace),
    schedule: str(spec.schedule),
    suspend: spec.suspend === true,
    last_schedule_time: firstTime(status.lastScheduleTime) ?? null,
    // Pods of a job without serviceAccountName run as "default".
    service_account: str(podSpec.serviceAccountName) || str(podSpec.serviceAccount) || 'default',
    uid: str(metadata.uid),
    time_zone: str(spec.timeZone),
  };
  const rows: Row[] = [];
  const groups: [string, unknown][] = [
    ['init', podSpec.initContainers],
    ['container', podSpec.containers],
  ];
  for (const [type, containers] of groups) {
    for (const c of arr(containers).map(obj)) {
      rows.push({
        ...base,
        container_name: str(c.name),
        image: str(c.image),
        command: arr(c.command).map(str).join(' '),
        args: arr(c.args).map(str).join(' '),
        // Joined strings lose argument boundaries ("sh -c 'a | b'"): the exact argv too.
        command_json: JSON.stringify(arr(c.command).map(str)),
        args_json: JSON.stringify(arr(c.args).map(str)),
        container_type: type,
      });
    }
  }
  return rows;
}

async function* collectCronJobs(ctx: SourceContext): AsyncGenerator<SourceItem> {
  for await (const item of listResource(ctx, { source: 'cronjobs', groupVersionPath: '/apis/batch/v1', resource: 'cronjobs', namespaced: true })) {
    if (item.kind !== 'object') {
      yield item;
      continue;
    }
    yield { kind: 'raw', object: item.object };
    for (const row of cronJobRows(item.object, toRfc3339(ctx.clock()))) yield { kind: 'row', row };
  }
}

export const cronJobsSource: SourceDefinition = {
  name: 'cronjobs',
  description: 'CronJobs, one row per container (init containers too): image, command, args, schedule, suspend, last schedule time, service account.',
  tables: [CRONJOBS_TABLE],
  kubernetesAccess: [kubeAccess('list', 'cronjobs', { group: 'batch' })],
  azurePermissions: [clusterRead('batch/cronjobs', 'list CronJobs')],
  collect: collectCronJobs,
};
