import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const CRONJOBS_TABLE: TableDefinition = {
  name: 'cronjobs_CL',
  source: 'cronjobs',
  description: 'CronJobs, one row per container (init containers too).',
  columns: [
    timeGenerated(),
    c('cronjob_name', 'string', 'CronJob name.'),
    c('namespace', 'string', 'Namespace.'),
    c('container_name', 'string', 'Container name.'),
    c('image', 'string', 'Image.'),
    c('command', 'string', 'Command joined with spaces.'),
    c('schedule', 'string', 'Cron schedule.'),
    c('args', 'string', 'Args joined with spaces.'),
    c('container_type', 'string', 'container | init.'),
    c('suspend', 'boolean', 'Suspended.'),
    c('last_schedule_time', 'datetime', 'Last schedule time.'),
    c('service_account', 'string', 'Service account of the job pods.'),
    c('uid', 'string', 'CronJob uid.'),
    c('time_zone', 'string', 'spec.timeZone, empty when the controller time zone applies.'),
    c('command_json', 'string', 'Command as the exact argv (JSON array): joined text loses argument boundaries.'),
    c('args_json', 'string', 'Args as the exact argv (JSON array).'),
  ],
  timeline: { eventType: 'CronJob', namespace: 'namespace', summary: 'command' },
};
