/**
 * The host programs a simulated container can run for real: shells (dash, bash, busybox, zsh)
 * and the standard utilities, copied once per process into a tools directory together with the
 * shared libraries they load (found with ldd), so every container tree can hard-link them
 * (same file system, no copy per container, no mount per exec).
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
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

/** The process-wide tools directory (prepared on first use, removed when the process exits). */
export function hostTools(): Promise<HostTools> {
  shared ??= prepareHostTools();
  return shared;
}

async function prepareHostTools(): Promise<HostTools> {
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-sim-tools-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const binaries = new Map<string, string>();
  const found = new Map<string, string>();
  for (const name of WANTED) {
    const p = findOnHost(name);
    if (p) found.set(name, p);
  }
  await mkdir(join(dir, 'bin'), { recursive: true });
  for (const [name, host] of found) {
    const copy = join(dir, 'bin', name === '[' ? 'lbracket' : name);
    await copyFile(host, copy);
    await chmod(copy, 0o755);
    binaries.set(name, copy);
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
      const copy = join(dir, 'lib', lib);
      await mkdir(dirname(copy), { recursive: true });
      await copyFile(lib, copy);
      await chmod(copy, 0o755);
      libraries.set(lib, copy);
    }
  }
  return { dir, binaries, libraries };
}
