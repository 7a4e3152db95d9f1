/**
 * Exec for real: the exec'd argv runs under a real shell (dash, bash, busybox, zsh from the
 * host) chrooted into the container's own file tree, inside fresh namespaces (user where the
 * kernel allows it, mount with private propagation, pid, net, ipc, uts) — `unshare --root`,
 * one process per exec, so /root/.bash_history is the container's and the command can neither
 * see the host's processes nor reach any network. Output streams back as it is produced.
 *
 * This is a simulator, not a sandbox for untrusted clients: only the collector and the tests,
 * holding the per-start credentials of a loopback server, can exec.
 */
import { spawn } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { ContainerRuntime } from '../scenario.js';
import { containerImage, execLookupError, type ImageLayout, type PodFacts } from './containerImage.js';
import { hostTools, type HostTools } from './hostTools.js';
import type { ExecIo, ExecOutcome, ExecRuntime, RunningExec } from './execRuntime.js';

/** The namespaces each exec gets; `user` only where unprivileged user namespaces work (or as root, where they add defence). */
export interface Isolation {
  userNamespace: boolean;
}

function unshareArgs(isolation: Isolation, root: string, workingDir: string): string[] {
  return [
    ...(isolation.userNamespace ? ['--user', '--map-root-user'] : []),
    '--mount',
    '--propagation',
    'private',
    '--pid',
    '--fork',
    '--kill-child',
    '--net',
    '--ipc',
    '--uts',
    `--root=${root}`,
    `--wd=${workingDir}`,
    '--',
  ];
}

/** Write a layout to disk under `root`: directories, hard links to the host tools, files, symlinks. */
export async function materialise(layout: ImageLayout, root: string, tools: HostTools): Promise<void> {
  const at = (p: string): string => join(root, p);
  const linkOrCopy = async (from: string, to: string): Promise<void> => {
    await mkdir(dirname(to), { recursive: true });
    await link(from, to);
  };
  for (const e of layout.entries) if (e.kind === 'dir') await mkdir(at(e.path), { recursive: true });
  let needsLoader = false;
  let stubShell = false;
  for (const e of layout.entries) {
    switch (e.kind) {
      case 'dir':
        break;
      case 'tool': {
        const from = tools.binaries.get(e.tool);
        if (!from) throw new Error(`simulator: no host copy of ${e.tool}`);
        await linkOrCopy(from, at(e.path));
        needsLoader = true;
        break;
      }
      case 'symlink':
        await mkdir(dirname(at(e.path)), { recursive: true });
        await symlink(e.target, at(e.path));
        break;
      case 'stub':
        stubShell = true;
        await writeFile(at(e.path), `#!/.simulator/sh\nprintf '%s\\n' '${e.message.replace(/'/g, `'\\''`)}' >&2\nexit 127\n`, { mode: 0o755 });
        break;
      case 'file':
        await mkdir(dirname(at(e.path)), { recursive: true });
        await writeFile(at(e.path), e.content, { mode: e.mode });
        await chmod(at(e.path), e.mode);
        break;
    }
  }
  for (const e of layout.entries) if (e.kind === 'dir') await chmod(at(e.path), e.mode);
  if (stubShell) {
    const dash = tools.binaries.get('dash') ?? tools.binaries.get('bash');
    if (dash) await linkOrCopy(dash, at('/.simulator/sh'));
    needsLoader = true;
  }
  // The dynamic loader and libraries every linked tool needs, at the paths the loader searches.
  if (needsLoader) for (const [lib, copy] of tools.libraries) await linkOrCopy(copy, at(lib));
}

/** Can this process run a command in a chroot inside fresh namespaces? Tries with, then without, a user namespace. */
async function probe(tools: HostTools, base: string): Promise<Isolation | { reason: string }> {
  const sh = tools.binaries.get('dash') ? 'dash' : tools.binaries.get('bash') ? 'bash' : undefined;
  if (!sh) return { reason: 'no dash or bash on this host' };
  const root = join(base, 'probe');
  await materialise({ userland: 'none', entries: [{ kind: 'tool', path: '/bin/sh', tool: sh }], env: {}, workingDir: '/' }, root, tools);
  const attempts: Isolation[] = [{ userNamespace: true }, ...(process.getuid?.() === 0 ? [{ userNamespace: false }] : [])];
  const errors: string[] = [];
  for (const isolation of attempts) {
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const p = spawn('unshare', [...unshareArgs(isolation, root, '/'), '/bin/sh', '-c', 'exit 7'], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/bin' } });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', (e) => resolve({ code: null, err: e.message }));
      p.on('close', (code) => resolve({ code, err }));
    });
    if (result.code === 7) return isolation;
    errors.push(result.err.trim() || `exit ${String(result.code)}`);
  }
  return { reason: `namespaces unavailable (${errors.join('; ')})` };
}

/** A real-exec runtime, or the reason there cannot be one on this host. */
export async function createRealExecRuntime(): Promise<ExecRuntime | { unavailable: string }> {
  if (process.platform !== 'linux') return { unavailable: `${process.platform} has no Linux namespaces` };
  const tools = await hostTools();
  const base = await mkdtemp(join(tmpdir(), 'aks-evidence-sim-containers-'));
  const isolation = await probe(tools, base);
  if ('reason' in isolation) {
    await rm(base, { recursive: true, force: true });
    return { unavailable: isolation.reason };
  }
  const trees = new Map<string, Promise<ImageLayout>>();
  const running = new Set<RunningExec>();
  let counter = 0;
  const shells = ['dash', 'bash', 'busybox', 'zsh'].filter((s) => tools.binaries.has(s));

  const treeFor = (key: string, rt: ContainerRuntime, pod: PodFacts): Promise<ImageLayout> => {
    let t = trees.get(key);
    if (!t) {
      const layout = containerImage(rt, pod, (tool) => tools.binaries.has(tool));
      const root = join(base, String(++counter));
      t = materialise(layout, root, tools).then(() => ({ ...layout, root }) as ImageLayout & { root: string });
      trees.set(key, t);
    }
    return t;
  };

  return {
    mode: 'real',
    detail: `real shells (${shells.join(', ')}) chrooted into per-container trees, in fresh ${isolation.userNamespace ? 'user, ' : ''}mount (private), pid, net, ipc and uts namespaces`,
    start(target, argv, io: ExecIo, options): RunningExec {
      let child: ReturnType<typeof spawn> | undefined;
      let killed = false;
      const handle: RunningExec = {
        done: (async () => {
          const layout = (await treeFor(target.key, target.runtime, target.pod)) as ImageLayout & { root: string };
          const lookup = execLookupError(layout, argv[0]);
          if (lookup) return { startError: lookup };
          if (killed) return { exitCode: 137 };
          return await new Promise<ExecOutcome>((resolve) => {
            const p = spawn('unshare', [...unshareArgs(isolation, layout.root, layout.workingDir), ...argv], {
              stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
              env: layout.env,
            });
            child = p;
            p.stdout!.on('data', (c: Buffer) => io.stdout(c));
            p.stderr!.on('data', (c: Buffer) => io.stderr(c));
            p.stdin?.on('error', () => undefined);
            p.on('error', (e) => resolve({ startError: `simulator: could not start unshare: ${e.message}` }));
            // 'close' fires after both pipes drained: every byte is delivered before the status.
            p.on('close', (code, signal) => resolve({ exitCode: code ?? (signal ? 128 + (signalNumber(signal) ?? 9) : 1) }));
          });
        })().finally(() => running.delete(handle)),
        writeStdin(b: Buffer) {
          child?.stdin?.write(b);
        },
        closeStdin() {
          child?.stdin?.end();
        },
        kill() {
          killed = true;
          child?.kill('SIGKILL');
        },
      };
      running.add(handle);
      return handle;
    },
    async dispose(): Promise<void> {
      for (const r of running) r.kill();
      await Promise.allSettled([...running].map((r) => r.done));
      await rm(base, { recursive: true, force: true });
    },
  };
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 } as Record<string, number>)[signal];
}
