/**
 * The host programs a simulated container can run for real: shells (dash, bash, busybox, zsh)
 * and the standard utilities, copied once per host into a tools directory together with the
 * shared libraries they load (found with ldd), so every container tree can hard-link them
 * (same file system, no copy per container, no mount per exec).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { COREUTILS } from './containerImage.js';

const run = promisify(execFile);

export interface HostTools {
  /** The tools directory: bin/<tool> and lib/<absolute library path>. */
  dir: string;
  /** Tool name → absolute path of its copy. */
  binaries: ReadonlyMap<string, string>;
  /** Absolute library paths (as the loader looks them up) → path of the copy. */
  libraries: ReadonlyMap<string, string>;
}

const HOST_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'];
const WANTED = ['dash', 'bash', 'busybox', 'zsh', ...COREUTILS];

function findOnHost(name: string): string | undefined {
  for (const d of HOST_DIRS) {
    const p = join(d, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Parse `ldd a b c` output: every absolute library path any of them loads. */
export function parseLdd(text: string): string[] {
  const libs = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /=>\s+(\/\S+)\s+\(0x/.exec(line) ?? /^\s+(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.add(m[1]!);
  }
  return [...libs].sort();
}

let shared: Promise<HostTools> | undefined;

/**
 * The tools directory for this host (prepared on first use). It is shared by every process of
 * the same user on the same host programs — named after their paths, sizes and times — so test
 * workers and repeated runs reuse one copy instead of leaving one each.
 */
export function hostTools(): Promise<HostTools> {
  shared ??= prepareHostTools();
  return shared;
}

interface ToolsManifest {
  binaries: [string, string][];
  libraries: [string, string][];
}

async function prepareHostTools(): Promise<HostTools> {
  const found = new Map<string, string>();
  for (const name of WANTED) {
    const p = findOnHost(name);
    if (p) found.set(name, p);
  }
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([process.getuid?.() ?? 0, ...[...found].map(([n, p]) => [n, p, statSync(p).size, statSync(p).mtimeMs])]))
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `aks-evidence-sim-tools-${fingerprint}`);
  const manifestPath = join(dir, 'tools.json');
  if (existsSync(manifestPath)) {
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ToolsManifest;
    if ([...m.binaries, ...m.libraries].every(([, copy]) => existsSync(copy))) return { dir, binaries: new Map(m.binaries), libraries: new Map(m.libraries) };
  }
  // Build beside the final name, then rename into place (another process may win the race: use its copy).
  const staging = await mkdtemp(join(tmpdir(), 'aks-evidence-sim-tools-staging-'));
  const at = (p: string): string => join(dir, relative(staging, p));
  const binaries = new Map<string, string>();
  await mkdir(join(staging, 'bin'), { recursive: true });
  for (const [name, host] of found) {
    const copy = join(staging, 'bin', name === '[' ? 'lbracket' : name);
    await copyFile(host, copy);
    await chmod(copy, 0o755);
    binaries.set(name, at(copy));
  }
  const libraries = new Map<string, string>();
  if (found.size > 0) {
    // ldd exits non-zero when one of the files is static; its output still lists the others' libraries.
    const out = await run('ldd', [...new Set(found.values())], { maxBuffer: 4 * 1024 * 1024 }).then(
      (r) => r.stdout,
      (e: { stdout?: string }) => e.stdout ?? '',
    );
    for (const lib of parseLdd(out)) {
      if (!existsSync(lib)) continue;
      const copy = join(staging, 'lib', lib);
      await mkdir(dirname(copy), { recursive: true });
      await copyFile(lib, copy);
      await chmod(copy, 0o755);
      libraries.set(lib, at(copy));
    }
  }
  await writeFile(join(staging, 'tools.json'), JSON.stringify({ binaries: [...binaries], libraries: [...libraries] } satisfies ToolsManifest));
  try {
    await rename(staging, dir);
  } catch {
    await rm(staging, { recursive: true, force: true });
    if (!existsSync(manifestPath)) throw new Error(`simulator: could not prepare the tools directory ${dir}`);
    const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as ToolsManifest;
    return { dir, binaries: new Map(m.binaries), libraries: new Map(m.libraries) };
  }
  return { dir, binaries, libraries };
}
