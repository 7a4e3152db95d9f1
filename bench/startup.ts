/**
 * Start-up figures, each in fresh processes:
 *  - CLI cold start: from spawning `aks-evidence collect` to the first byte of its first
 *    Kubernetes request (the TLS ClientHello reaching the API server), measured by a TCP relay
 *    in front of the simulated cluster; with the CPU the process tree had used by then (Linux:
 *    /proc/<pid>/task/<tid>/schedstat, nanoseconds: robust to a noisy machine where wall time
 *    is not). Two launches: Node 22 directly (npm scripts and npx put node_modules/.bin first)
 *    and, when the system Node is older, the system Node's launcher re-running under Node 22.
 *  - Functions entry: importing dist/functions/index.js (what the host's worker does at start),
 *    wall and CPU time and RSS afterwards; and the first collect activity's modules on top.
 *  - Idle: a process holding everything a collection loads, nothing collected.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

export interface ColdStartRun {
  /** Wall ms from spawn to the first byte of the first request. */
  toFirstRequestMs: number;
  /** CPU ms the process tree had used by then (undefined off Linux). */
  cpuMs?: number;
  /** The run's exit code (the collection itself runs to its end). */
  exitCode: number | null;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return { median: s[Math.floor((s.length - 1) / 2)] ?? NaN, min: s[0] ?? NaN, max: s[s.length - 1] ?? NaN, runs: values };
}

/** CPU ns of a process and all its descendants (Linux). */
function treeCpuNs(pid: number): number | undefined {
  try {
    let total = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
        total += treeCpuNs(Number(child)) ?? 0;
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/** A TCP relay to the API server that notes when the first byte of a client's first connection arrives. */
async function firstByteRelay(target: URL): Promise<{ port: number; arm: (onFirst: () => void) => void; close: () => Promise<void> }> {
  let onFirst: (() => void) | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('data', () => {
      const fire = onFirst;
      onFirst = undefined;
      fire?.();
    });
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    arm: (fn) => {
      onFirst = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface ColdStartOptions {
  /** The simulated cluster's kubeconfig (its server is rewritten to the relay). */
  kubeconfigYaml: string;
  server: string;
  /** Node binary to start the launcher with. */
  node: string;
  runs: number;
  /** Sources to collect (small: the run still completes). */
  sources: string[];
  /** The launcher to start (default this checkout's bin/aks-evidence.js; another build's for an A/B). */
  launcher?: string;
}

export async function coldStart(options: ColdStartOptions): Promise<{ toFirstRequestMs: Spread; cpuMs?: Spread; exitCodes: (number | null)[] }> {
  const relay = await firstByteRelay(new URL(options.server));
  const dir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-start-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, options.kubeconfigYaml.replace(options.server, `https://127.0.0.1:${relay.port}`), { mode: 0o600 });
  const runs: ColdStartRun[] = [];
  try {
    for (let i = 0; i < options.runs; i++) {
      runs.push(
        await new Promise<ColdStartRun>((resolve, reject) => {
          let first: { ms: number; cpuNs?: number } | undefined;
          const t0 = performance.now();
          const child = spawn(
            options.node,
            [
              options.launcher ?? join(root, 'bin', 'aks-evidence.js'),
              'collect',
              '--kubeconfig',
              kubeconfig,
              '--out',
              join(dir, 'evidence'),
              '--sources',
              options.sources.join(','),
              '--json',
            ],
            {
              stdio: ['ignore', 'ignore', 'ignore'],
              cwd: dir,
            },
          );
          relay.arm(() => {
            const cpuNs = child.pid ? treeCpuNs(child.pid) : undefined;
            first = { ms: performance.now() - t0, ...(cpuNs !== undefined ? { cpuNs } : {}) };
          });
          child.on('error', reject);
          child.on('exit', (code) => {
            if (!first) return reject(new Error(`aks-evidence exited with ${code} before its first Kubernetes request`));
            resolve({ toFirstRequestMs: first.ms, ...(first.cpuNs !== undefined ? { cpuMs: first.cpuNs / 1e6 } : {}), exitCode: code });
          });
        }),
      );
    }
  } finally {
    await relay.close();
    await rm(dir, { recursive: true, force: true });
  }
  const cpu = runs.map((r) => r.cpuMs).filter((x): x is number => x !== undefined);
  return {
    toFirstRequestMs: spread(runs.map((r) => r.toFirstRequestMs)),
    ...(cpu.length === runs.length ? { cpuMs: spread(cpu) } : {}),
    exitCodes: runs.map((r) => r.exitCode),
  };
}

/** The system Node on PATH without node_modules/.bin, when it is older than the launcher's minimum (else undefined). */
export function olderSystemNode(): string | undefined {
  const path = (process.env.PATH ?? '').split(':').filter((p) => !p.includes('node_modules'));
  for (const dir of path) {
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const v = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    const [major, minor] = v.split('.').map(Number);
    if (major !== undefined && minor !== undefined && (major < 22 || (major === 22 && minor < 19))) return candidate;
    return undefined;
  }
  return undefined;
}

/** Import a module in a fresh process: wall and CPU ms of the import, RSS after it. */
export function importCost(modules: string[], env: Record<string, string> = {}): { wallMs: number; cpuMs: number; rssBytes: number } {
  const script = `
    const t0 = performance.now(); const c0 = process.cpuUsage();
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const c = process.cpuUsage(c0);
    const wallMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
    process.stdout.write(JSON.stringify({ wallMs, cpuMs: (c.user + c.system) / 1000, rssBytes: process.memoryUsage().rss }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: root, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`importing ${modules.join(', ')} failed: ${r.stderr.split('\n').slice(0, 3).join(' ')}`);
  return JSON.parse(r.stdout) as { wallMs: number; cpuMs: number; rssBytes: number };
}

export function distUrl(path: string): string {
  return new URL(`file://${join(root, 'dist', path)}`).href;
}
