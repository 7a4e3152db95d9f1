/**
 * What a container's file system holds, derived from the scenario: the image's userland
 * (a shell and the standard utilities, a busybox, or nothing at all — distroless), the
 * binaries the scenario lists, the scenario's files (/root, /home, /etc…), and what the
 * kubelet adds (/etc/hostname, the service-account token mount). Pure data: the real runtime
 * writes it to disk and execs into it, the emulated runtime loads it into an in-memory shell.
 */
import type { ContainerRuntime } from '../scenario.js';

/** Standard utilities of a Debian-like image (coreutils, grep, sed, findutils…), where the host has them. */
export const COREUTILS = [
  'cat',
  'head',
  'tail',
  'wc',
  'tr',
  'ls',
  'echo',
  'printf',
  'test',
  '[',
  'id',
  'env',
  'sleep',
  'true',
  'false',
  'mkdir',
  'rm',
  'cp',
  'mv',
  'cut',
  'sort',
  'uniq',
  'date',
  'uname',
  'stat',
  'basename',
  'dirname',
  'touch',
  'chmod',
  'ln',
  'readlink',
  'pwd',
  'whoami',
  'seq',
  'tee',
  'od',
  'sha256sum',
  'base64',
  'dd',
  'du',
  'df',
  'grep',
  'sed',
  'find',
  'xargs',
  'hostname',
] as const;

/** Applets a busybox image links to /bin/busybox (the subset that matters in a container). */
export const BUSYBOX_APPLETS = ['sh', 'ash', ...COREUTILS, 'awk', 'wget', 'ps', 'vi', 'nc'] as const;

/** Interpreters the simulator can run for real, by the name the image uses. */
export const SHELLS = ['sh', 'dash', 'bash', 'ash', 'zsh', 'busybox'] as const;

export type Userland = 'coreutils' | 'busybox' | 'none';

/** One entry of the container's file system. Paths are absolute inside the container. */
export type ImageEntry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; content: Buffer; mode: number }
  /** A host program (copied once, linked into every tree): `tool` is the host program's name. */
  | { kind: 'tool'; path: string; tool: string }
  | { kind: 'symlink'; path: string; target: string }
  /** A binary the scenario lists that the simulator cannot run: exec'ing it fails with `message`. */
  | { kind: 'stub'; path: string; message: string };

export interface ImageLayout {
  userland: Userland;
  entries: ImageEntry[];
  /** The container's environment for exec (PATH, HOSTNAME, HOME and the pod spec's literal env). */
  env: Record<string, string>;
  /** Working directory (the container's workingDir when the tree has it, else "/"). */
  workingDir: string;
}

/** The pod facts an image needs. */
export interface PodFacts {
  namespace: string;
  pod: string;
  container: string;
  /** Literal env of the container spec (valueFrom entries are not resolved). */
  env?: { name: string; value?: string }[];
  workingDir?: string;
  /** Whether the service-account token is mounted (pod/SA automountServiceAccountToken, default true). */
  automountToken: boolean;
  /** PEM of the cluster CA, as the token mount's ca.crt. */
  caPem: string;
}

/** Directories every container has, whatever its files. */
export const BASE_DIRS = [
  '/bin',
  '/sbin',
  '/usr',
  '/usr/bin',
  '/usr/sbin',
  '/usr/local',
  '/usr/local/bin',
  '/etc',
  '/home',
  '/tmp',
  '/var',
  '/var/run',
  '/dev',
  '/proc',
  '/root',
] as const;

export const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

/** The userland an image has: explicit, else busybox when it lists busybox or ash, else coreutils when it has a shell. */
export function userlandOf(rt: ContainerRuntime): Userland {
  if (rt.userland) return rt.userland;
  const names = (rt.binaries ?? []).map(base);
  if (names.includes('busybox') || names.includes('ash')) return 'busybox';
  if (names.some((n) => (SHELLS as readonly string[]).includes(n))) return 'coreutils';
  return 'none';
}

function parentsOf(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(`/${parts.slice(0, i).join('/')}`);
  return out;
}

/** A history file as the shell writes it (0600); anything else world-readable. */
function modeFor(path: string): number {
  return /history$/.test(base(path)) ? 0o600 : 0o644;
}

/**
 * Lay out a container's file system. `available` says which host programs the simulator
 * can provide (the emulated runtime passes everything it implements).
 */
export function containerImage(rt: ContainerRuntime, pod: PodFacts, available: (tool: string) => boolean): ImageLayout {
  const userland = userlandOf(rt);
  const entries = new Map<string, ImageEntry>();
  const dirs = new Map<string, number>();
  const dir = (path: string, mode = 0o755): void => {
    for (const p of parentsOf(`${path}/x`)) if (!dirs.has(p)) dirs.set(p, p === '/tmp' ? 0o1777 : p === '/root' ? 0o700 : 0o755);
    dirs.set(path, mode);
  };
  const put = (e: ImageEntry): void => {
    for (const p of parentsOf(e.path)) if (!dirs.has(p)) dir(p);
    entries.set(e.path, e);
  };
  for (const d of BASE_DIRS) dir(d, d === '/tmp' ? 0o1777 : d === '/root' ? 0o700 : 0o755);
  dir('/root', 0o700);

  // The userland: standard utilities where the image has a shell.
  if (userland === 'coreutils') {
    for (const name of COREUTILS) if (available(name)) put({ kind: 'tool', path: `/usr/bin/${name}`, tool: name });
  } else if (userland === 'busybox' && available('busybox')) {
    put({ kind: 'tool', path: '/bin/busybox', tool: 'busybox' });
    for (const applet of new Set(BUSYBOX_APPLETS)) put({ kind: 'symlink', path: `/bin/${applet}`, target: '/bin/busybox' });
  }

  // The binaries the scenario lists, each at its path.
  for (const path of rt.binaries ?? []) {
    const name = base(path);
    const existing = entries.get(path);
    if (existing && existing.kind !== 'dir') continue;
    if (userland === 'busybox' && (name === 'sh' || name === 'ash' || name === 'busybox') && available('busybox')) {
      put(path === '/bin/busybox' ? { kind: 'tool', path, tool: 'busybox' } : { kind: 'symlink', path, target: '/bin/busybox' });
      continue;
    }
    const tool = name === 'sh' ? 'dash' : name === 'ash' ? 'busybox' : name;
    if (available(tool)) put({ kind: 'tool', path, tool });
    else put({ kind: 'stub', path, message: `${path}: the simulated image lists ${name}, but the simulator has no ${name} to run (install it on the host to run it for real)` });
  }

  // What the kubelet mounts and writes.
  const files = rt.files ?? {};
  const users = new Set<string>();
  for (const path of Object.keys(files)) {
    const m = /^\/home\/([^/]+)\//.exec(path);
    if (m) users.add(m[1]!);
  }
  const shellPath = ['/bin/bash', '/bin/sh', '/bin/ash'].find((p) => entries.has(p)) ?? '/sbin/nologin';
  const generated: Record<string, string> = {
    '/etc/hostname': `${pod.pod}\n`,
    '/etc/hosts': `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.244.0.10\t${pod.pod}\n`,
    '/etc/passwd':
      [
        `root:x:0:0:root:/root:${shellPath}`,
        ...[...users].sort().map((u, i) => `${u}:x:${1000 + i}:${1000 + i}::/home/${u}:${shellPath}`),
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      ].join('\n') + '\n',
    '/etc/group': ['root:x:0:', ...[...users].sort().map((u, i) => `${u}:x:${1000 + i}:`), 'nogroup:x:65534:'].join('\n') + '\n',
  };
  if (pod.automountToken) {
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    generated[`${sa}/namespace`] = pod.namespace;
    generated[`${sa}/ca.crt`] = pod.caPem;
    // Not a credential: the simulated API server accepts no service-account tokens it did not issue.
    generated[`${sa}/token`] = 'simulated-service-account-token.not-a-credential';
  }
  for (const [path, content] of Object.entries(generated)) if (files[path] === undefined) put({ kind: 'file', path, content: Buffer.from(content), mode: 0o644 });
  for (const [path, content] of Object.entries(files)) {
    if (!path.startsWith('/')) throw new Error(`fixture scenario: container ${pod.namespace}/${pod.pod}/${pod.container}: file path ${JSON.stringify(path)} is not absolute`);
    put({ kind: 'file', path, content: Buffer.from(content, 'utf8'), mode: modeFor(path) });
  }
  for (const u of users) if (!dirs.has(`/home/${u}`)) dir(`/home/${u}`);

  const env: Record<string, string> = { PATH: CONTAINER_PATH, HOSTNAME: pod.pod, HOME: '/root' };
  for (const e of pod.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const workingDir = pod.workingDir && dirs.has(pod.workingDir) ? pod.workingDir : '/';
  const all: ImageEntry[] = [...[...dirs.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, mode]) => ({ kind: 'dir' as const, path, mode })), ...entries.values()];
  return { userland, entries: all, env, workingDir };
}

/** Follow symlinks inside the layout (absolute targets resolve against the container's root). */
function follow(layout: Map<string, ImageEntry>, path: string): ImageEntry | undefined {
  let p = path;
  for (let hops = 0; hops < 16; hops++) {
    const e = layout.get(p);
    if (!e || e.kind !== 'symlink') return e;
    p = e.target.startsWith('/') ? e.target : `${p.slice(0, p.lastIndexOf('/'))}/${e.target}`;
  }
  return undefined;
}

/**
 * Resolve argv[0] like the container runtime (runc) does before exec: a path is stat'ed, a bare
 * name searched in the container's PATH. Undefined = found; otherwise the runtime's own error text.
 */
export function execLookupError(layout: ImageLayout, argv0: string | undefined): string | undefined {
  const prefix = 'OCI runtime exec failed: exec failed: unable to start container process: exec:';
  if (argv0 === undefined || argv0 === '') return `${prefix} "": executable file not found in $PATH: unknown`;
  const byPath = new Map(layout.entries.map((e) => [e.path, e] as const));
  const executable = (e: ImageEntry | undefined): boolean => e !== undefined && e.kind !== 'dir' && (e.kind !== 'file' || (e.mode & 0o111) !== 0);
  if (argv0.includes('/')) {
    const e = follow(byPath, argv0.startsWith('/') ? argv0 : `${layout.workingDir === '/' ? '' : layout.workingDir}/${argv0}`);
    if (!e) return `${prefix} "${argv0}": stat ${argv0}: no such file or directory: unknown`;
    if (!executable(e)) return `${prefix} "${argv0}": permission denied: unknown`;
    return undefined;
  }
  for (const d of (layout.env['PATH'] ?? CONTAINER_PATH).split(':')) if (executable(follow(byPath, `${d}/${argv0}`))) return undefined;
  return `${prefix} "${argv0}": executable file not found in $PATH: unknown`;
}
