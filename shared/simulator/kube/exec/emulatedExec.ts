/**
 * Exec emulated: where the host allows no namespaces, the argv runs in just-bash (an
 * in-memory bash interpreter with its own coreutils, a maintained library — no hand-written
 * shell) over the container's tree from containerImage.ts. It interprets whatever arrives, like
 * the real mode; differences from dash/busybox are bash's (error message wording, builtins).
 * just-bash is loaded only when this mode runs.
 */
import type { ContainerRuntime } from '../scenario.js';
import { containerImage, execLookupError, type ImageLayout, type PodFacts } from './containerImage.js';
import type { ExecIo, ExecOutcome, ExecRuntime, RunningExec } from './execRuntime.js';

const SHELL_NAMES = new Set(['sh', 'dash', 'bash', 'ash', 'zsh', 'busybox']);

/** Quote argv for a bash command line. */
function quote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export async function createEmulatedExecRuntime(why: string): Promise<ExecRuntime> {
  const jb = await import('just-bash');
  const implemented = new Set<string>([
    'echo',
    'cat',
    'printf',
    'ls',
    'mkdir',
    'touch',
    'rm',
    'cp',
    'mv',
    'ln',
    'chmod',
    'pwd',
    'readlink',
    'head',
    'tail',
    'wc',
    'stat',
    'grep',
    'sed',
    'awk',
    'sort',
    'uniq',
    'cut',
    'tr',
    'tee',
    'find',
    'basename',
    'dirname',
    'du',
    'env',
    'xargs',
    'true',
    'false',
    'base64',
    'date',
    'sleep',
    'seq',
    'sha256sum',
    'hostname',
    'od',
    'whoami',
  ]);
  type Shell = InstanceType<typeof jb.Bash>;
  /** One in-memory container per key: its file system persists across execs, as a container's does. */
  const containers = new Map<string, { layout: ImageLayout; bash?: Shell }>();
  const containerFor = (key: string, rt: ContainerRuntime, pod: PodFacts): { layout: ImageLayout; bash?: Shell } => {
    let c = containers.get(key);
    if (!c) {
      c = { layout: containerImage(rt, pod, (tool) => SHELL_NAMES.has(tool) || implemented.has(tool)) };
      containers.set(key, c);
    }
    return c;
  };
  const shellFor = (c: { layout: ImageLayout; bash?: Shell }): Shell => {
    if (c.bash) return c.bash;
    const files: Record<string, { content: Uint8Array; mode: number }> = {};
    const commands = new Set<string>();
    for (const e of c.layout.entries) {
      if (e.kind === 'file') files[e.path] = { content: e.content, mode: e.mode };
      else if (e.kind === 'tool' || e.kind === 'symlink') {
        const name = e.path.slice(e.path.lastIndexOf('/') + 1);
        if (implemented.has(name)) commands.add(name);
      }
    }
    c.bash = new jb.Bash({ files, env: c.layout.env, cwd: c.layout.workingDir, commands: [...commands, 'sh', 'bash'] as never });
    return c.bash;
  };
  return {
    mode: 'emulated',
    detail: `emulated: an in-memory bash (just-bash) over per-container trees (${why})`,
    start(target, argv, io: ExecIo): RunningExec {
      const ac = new AbortController();
      const done = (async (): Promise<ExecOutcome> => {
        const container = containerFor(target.key, target.runtime, target.pod);
        const lookup = execLookupError(container.layout, argv[0]);
        if (lookup) return { startError: lookup };
        const bash = shellFor(container);
        const name = argv[0]!.slice(argv[0]!.lastIndexOf('/') + 1);
        const script = SHELL_NAMES.has(name) ? (argv[1] === '-c' ? (argv[2] ?? '') : '') : quote([name, ...argv.slice(1)]);
        const r = await bash.exec(script, { signal: ac.signal });
        const stdout = Buffer.from(jb.stdoutAsBytes(r) as unknown as string, 'latin1');
        if (stdout.length) io.stdout(stdout);
        if (r.stderr) io.stderr(Buffer.from(r.stderr, 'utf8'));
        return { exitCode: r.exitCode };
      })();
      return { done, writeStdin: () => undefined, closeStdin: () => undefined, kill: () => ac.abort() };
    },
    async dispose(): Promise<void> {
      containers.clear();
    },
  };
}
