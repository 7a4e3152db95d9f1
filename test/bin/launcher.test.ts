import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The launcher started by an older system Node (as when bin/aks-evidence.js is run directly
 * on a machine with Node 20): it runs the CLI again under node_modules' Node 22 and stands in
 * for it — signals reach the child once, and the launcher ends as the child ended. Runs the
 * built CLI (dist/, which npm install builds).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const launcher = join(root, 'bin', 'aks-evidence.js');

/** The first `node` on PATH outside node_modules, when it is older than 22.19 (the re-run path); else undefined. */
function olderSystemNode(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.includes('node_modules'))) {
    const candidate = join(dir, 'node');
    if (!existsSync(candidate)) continue;
    const [major, minor] = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim().split('.').map(Number);
    return major !== undefined && minor !== undefined && (major < 22 || (major === 22 && minor < 19)) ? candidate : undefined;
  }
  return undefined;
}

const systemNode = olderSystemNode();
const built = existsSync(join(root, 'dist', 'shared', 'cli', 'main.js'));
// Where the system Node is already new enough the launcher does not re-run: nothing to test there.
const describeRerun = systemNode && built ? describe : describe.skip;

function children(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

describeRerun('bin/aks-evidence.js under an older system Node', () => {
  let dir: string;
  let server: net.Server;
  let connections = 0;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-launcher-'));
    // An API server that accepts connections and never answers: the collection waits on it.
    server = net.createServer((socket) => {
      connections++;
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    await writeFile(
      join(dir, 'kubeconfig'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  test("exits with the CLI's own code", () => {
    const usage = spawnSync(systemNode!, [launcher, 'collect', '--concurrency', '0'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('--concurrency');
    const version = spawnSync(systemNode!, [launcher, '--version'], { encoding: 'utf8' });
    expect(version.status).toBe(0);
  });

  test.each(['SIGTERM', 'SIGINT'] as const)('%s to the launcher reaches the collection once; the launcher ends as the collection ended', async (signal) => {
    const before = connections;
    const child = spawn(systemNode!, [launcher, 'collect', '--kubeconfig', join(dir, 'kubeconfig'), '--out', join(dir, 'evidence')], { stdio: 'ignore' });
    const ended = exited(child);
    // Wait until the collection (the re-run Node 22) has reached the API server.
    for (let i = 0; i < 400 && connections === before; i++) await new Promise((r) => setTimeout(r, 25));
    expect(connections).toBeGreaterThan(before);
    const collectors = children(child.pid!);
    expect(collectors).toHaveLength(1);
    child.kill(signal);
    const outcome = await ended;
    // The collection ended (by the signal, or by its own handling of it), and the launcher with it, the same way.
    expect(alive(collectors[0]!)).toBe(false);
    expect(outcome.signal === signal || (outcome.code !== null && outcome.code !== 0)).toBe(true);
  });
});
