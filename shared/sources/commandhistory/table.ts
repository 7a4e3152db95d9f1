import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const COMMAND_HISTORY_TABLE: TableDefinition = {
  name: 'commandhistory_CL',
  source: 'commandhistory',
  description: 'Shell history lines read from containers through the exec API.',
  columns: [
    timeGenerated(),
    c('namespace', 'string', 'Namespace.'),
    c('pod_name', 'string', 'Pod name.'),
    c('container_name', 'string', 'Container name.'),
    c('command', 'string', 'The command line as recorded.'),
    c('history_file', 'string', 'Path of the history file in the container.'),
    c('shell', 'string', 'Shell the file belongs to (bash, ash, sh, zsh, other).'),
    c('user', 'string', 'Owner inferred from the path (root or /home/<user>).'),
    c('line_number', 'long', 'Line number in the history file (1-based).'),
    c('command_time', 'datetime', 'Time recorded by the shell (zsh extended history, bash HISTTIMEFORMAT), when present.'),
  ],
  timeline: { eventType: 'ShellCommand', namespace: 'namespace', pod: 'pod_name', summary: 'command' },
};
